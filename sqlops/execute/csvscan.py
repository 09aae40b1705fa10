"""The opt-in Polars CSV reader (``[engine] csv_reader = "polars"``): a Polars scan of a CSV
source that reads exactly what DuckDB's ``read_csv`` reads, or no scan at all.

Polars infers CSV types its own way (``00001`` as an integer, ``T`` as text, ``inf`` as a
float, a quoted empty string as ``""``), so its inference is never used: DuckDB's sniffer
decides the dialect and every column's name and type, and the scan parses each column as
that type. Only types whose text both readers parse alike are taken (and DuckDB reads a
quoted empty string as NULL, so Polars' ``""`` is made NULL); a value Polars cannot parse
as the pinned type fails the scan, and the strategy that used it declines. Anything else
(other options, other types, globs, no header, another quote or comment character) gets
no scan: DuckDB's reader has the last word.

It is off by default: over a whole workload (TPC-H, ``tests/bench/test_tpch.py``) the extra
copy of every row from Polars into DuckDB cost more than Polars' faster parser saved.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlops.execute.context import Sniffs
from sqlops.execute.engine import Engine
from sqlops.project.model import Source

if TYPE_CHECKING:
    import polars as pl

_OPTIONS = {"header", "delim", "sep", "delimiter"}
# DuckDB's sniffed type -> the Polars dtype that parses the same text to the same value
_TYPES = {"VARCHAR": "String", "BIGINT": "Int64", "DOUBLE": "Float64", "BOOLEAN": "Boolean"}
_ISO_DATE = "%Y-%m-%d"
_NONE = "(empty)"  # how the sniffer says "no such character"
_QUOTES = {'"': '"', _NONE: None}  # the sniffed quote -> Polars' quote_char


def polars_scan(engine: Engine, source: Source, sniffs: Sniffs) -> pl.LazyFrame | None:
    """A lazy Polars scan giving DuckDB's rows and types for the source, or None;
    ``sniffs`` holds this build's sniffer answers (the source's view asked them too)."""
    options = dict(source.options)
    if source.format != "csv" or source.hive or set(options) - _OPTIONS:
        return None
    if any(c in source.location for c in "*?[") or not options.get("header", True):
        return None
    key = Sniffs.key(source)
    if key is None:
        return None  # DuckDB's reader reports the problem
    if key not in _PINNED:  # one pin and one byte search per file version and process
        _PINNED[key] = _pin(sniffs.get(engine, source), source.location)
    pinned = _PINNED[key]
    if pinned is None:
        return None
    import polars as pl

    schema, separator, quote = pinned
    scan = pl.scan_csv(
        source.location,
        has_header=True,
        separator=separator,
        quote_char=quote,
        schema={name: getattr(pl, kind) for name, kind in schema.items()},
        try_parse_dates=False,
    )
    texts = [name for name, kind in schema.items() if kind == "String"]
    return scan.with_columns(pl.col(c).replace("", None) for c in texts) if texts else scan


_Pinned = tuple[dict[str, str], str, str | None]  # schema, separator, quote character
_PINNED: dict[tuple[str, int, int], _Pinned | None] = {}


def _pin(sniffed: Mapping[str, Any] | None, path: str) -> _Pinned | None:
    if sniffed is None:
        return None  # DuckDB's reader reports the problem
    schema = pinned_schema(sniffed)
    if schema is None or _has_blank_line(path):
        return None
    return schema, str(sniffed["Delimiter"]), _QUOTES[sniffed["Quote"]]


def pinned_schema(sniffed: Mapping[str, Any]) -> dict[str, str] | None:
    """``{column: Polars dtype name}`` for a sniffer answer (``sniff_csv``'s row) whose
    dialect and every column type Polars reads exactly as DuckDB does; None otherwise.

    >>> pinned_schema({"Delimiter": ";", "Quote": '"', "Escape": "(empty)", "Comment": "(empty)",
    ...     "SkipRows": 0, "HasHeader": True, "NewLineDelimiter": "\\\\n",
    ...     "DateFormat": "%Y-%m-%d", "Columns": [{"name": "d", "type": "DATE"}]})
    {'d': 'Date'}
    >>> pinned_schema({"Delimiter": ",", "Quote": '"', "Escape": '"', "Comment": "(empty)",
    ...     "SkipRows": 0, "HasHeader": True, "NewLineDelimiter": "\\\\n",
    ...     "Columns": [{"name": "t", "type": "TIMESTAMP"}]}) is None
    True
    """
    dialect_ok = (
        len(str(sniffed.get("Delimiter", ""))) == 1
        and sniffed.get("Quote") in _QUOTES
        and sniffed.get("Escape") in (_NONE, sniffed.get("Quote"))
        and sniffed.get("Comment") == _NONE
        and sniffed.get("SkipRows") == 0
        and sniffed.get("HasHeader") is True
        and sniffed.get("NewLineDelimiter") in ("\\n", "\\r\\n")
    )
    if not dialect_ok:
        return None
    schema: dict[str, str] = {}
    for column in sniffed.get("Columns") or ():
        kind = str(column["type"])
        if kind == "DATE" and sniffed.get("DateFormat") == _ISO_DATE:
            schema[str(column["name"])] = "Date"
        elif kind in _TYPES:
            schema[str(column["name"])] = _TYPES[kind]
        else:
            return None
    return schema or None


def _has_blank_line(path: str) -> bool:
    """Whether the file may hold an empty line, which DuckDB skips and Polars reads as a row
    of NULLs (a quoted value spanning one also counts: then the scan is merely not taken).
    A byte search, far cheaper than parsing the file."""
    import mmap

    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return False
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return data.find(b"\n\n") >= 0 or data.find(b"\n\r\n") >= 0
