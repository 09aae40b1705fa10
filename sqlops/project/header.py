"""The ``-- key: value`` header at the top of a SQL model file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlops.errors import ModelParseError, did_you_mean
from sqlops.project.model import MATERIALIZATIONS, SEVERITIES

HEADER_KEYS = (
    "materialized",
    "unique_key",
    "cursor",
    "tags",
    "owner",
    "description",
    "contract",
    "contract_severity",
    "name",
)
_LINE = re.compile(r"^\s*--\s*([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*$")


@dataclass(frozen=True)
class Header:
    """Parsed header values, the file line of each, and the line where the SQL body starts."""

    values: dict[str, str]
    body_line: int
    lines: dict[str, int] = field(default_factory=dict)


def parse_header(text: str, path: Path) -> Header:
    """Read leading comment lines; ``key: value`` lines with known keys form the header.

    A comment like ``-- Note: ...`` is a plain comment, but a near-miss of a known key
    (``-- materialised: table``) is an error, since ignoring it would silently change
    what gets built.
    """
    values: dict[str, str] = {}
    where: dict[str, int] = {}
    lines = text.splitlines()
    body = len(lines)
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("--"):
            body = number - 1
            break
        match = _LINE.match(line)
        if not match:
            continue
        key, value = match.group(1).lower().replace("-", "_"), match.group(2)
        if key in HEADER_KEYS:
            if key == "materialized" and value not in MATERIALIZATIONS:
                raise ModelParseError(
                    f"materialized: {value!r} is not one of {', '.join(MATERIALIZATIONS)}",
                    path=path,
                    line=number,
                )
            if key == "contract_severity" and value not in SEVERITIES:
                raise ModelParseError(
                    f"contract_severity: {value!r} is not one of {', '.join(SEVERITIES)}",
                    path=path,
                    line=number,
                )
            values[key] = value
            where[key] = number
        elif hint := did_you_mean(key, HEADER_KEYS):
            raise ModelParseError(f"unknown header key {key!r}", path=path, line=number, hint=hint)
    return Header(values=values, body_line=body + 1, lines=where)


def split_list(value: str) -> tuple[str, ...]:
    """``"a, b,c"`` -> ``("a", "b", "c")``; the form list-valued header keys use.

    >>> split_list("daily, finance")
    ('daily', 'finance')
    """
    return tuple(part.strip() for part in value.split(",") if part.strip())
