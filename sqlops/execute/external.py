"""Read a SQLite table into Arrow with the standard library.

DuckDB's sqlite extension is not shipped in its wheel and cannot be downloaded where
there is no network, so SQLite sources are read here in batches of rows instead.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlops.errors import SourceError
from sqlops.project.model import Source

_BATCH = 100_000


def read_sqlite(source: Source) -> Any:
    """The source's table as a pyarrow Table (types inferred by Arrow from the values)."""
    import pyarrow as pa

    table = source.table or source.name.split(".", 1)[1]
    uri = f"file:{source.location}?mode=ro"
    try:
        con = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise SourceError(f"source {source.name}: cannot open {source.location}: {exc}") from exc
    try:
        cursor = con.execute(f'SELECT * FROM "{table.replace(chr(34), chr(34) * 2)}"')
        names = [d[0] for d in cursor.description]
        batches = []
        while rows := cursor.fetchmany(_BATCH):
            columns = list(zip(*rows, strict=True))
            batches.append(pa.table({n: list(c) for n, c in zip(names, columns, strict=True)}))
        if not batches:
            return pa.table({n: pa.array([], pa.null()) for n in names})
        return pa.concat_tables(batches, promote_options="default")
    except sqlite3.Error as exc:
        raise SourceError(
            f"source {source.name}: cannot read table {table!r} from {source.location}: {exc}",
            hint="set table = '<name>' in the source config",
        ) from exc
    finally:
        con.close()
