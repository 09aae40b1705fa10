"""Find a CSV file's first row whose field count differs from its header's (a ragged row).

DuckDB reports such a file by what its sniffer could not do ("Columns with names ... do not
exist", "not possible to detect the dialect"), which names neither the file nor the line;
this reads the file once, with Python's csv module, only after DuckDB has refused it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RaggedRow:
    """The first ragged row: its file line (1-based), its width and the header's."""

    line: int
    fields: int
    expected: int


def ragged_row(path: Path | str, delimiter: str = ",", quote: str = '"') -> RaggedRow | None:
    """The first ragged row of a CSV file, or None when every row is as wide as the header
    (or the file cannot be read as text: then DuckDB's own message stands).

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
    ...     _ = f.write('a,b\\n1,"x\\ny"\\n\\n2,3,4\\n')
    >>> ragged_row(f.name)
    RaggedRow(line=5, fields=3, expected=2)
    >>> os.unlink(f.name)
    """
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.reader(handle, delimiter=delimiter, quotechar=quote or '"')
            expected = None
            for row in reader:
                if not row:
                    continue  # a blank line, which DuckDB skips too
                if expected is None:
                    expected = len(row)
                elif len(row) != expected:
                    return RaggedRow(reader.line_num, len(row), expected)
    except (OSError, csv.Error):
        return None
    return None
