"""Immutable, content-addressed Parquet objects: where table outputs live.

A table is written as one or more Parquet *parts*: temporary files, each hashed (blake3) and
renamed to ``objects/ab/cdef....parquet``; the warehouse then exposes them through a view.
Objects never change once written, so a commit of the version store only records their ids,
identical data is stored once, and switching versions is a matter of re-pointing views.

Parts are cut at fixed row numbers (a power of two per table, chosen so a part is about
``PART_BYTES``) and each is written by its own single-file ``COPY``, DuckDB's
order-preserving parallel writer: the same rows in the same order of the same table give
the same bytes, whatever the thread count. (A ``COPY`` to a folder with ``FILE_SIZE_BYTES``
or ``ROW_GROUPS_PER_FILE`` shuffles row groups between files under several threads, and
``PARTITION_BY`` a row number runs on one thread: both measured, both rejected.)

So a table whose rows change in one contiguous range, or that grows at the end, stores only
the parts that cover the change. A change scattered over the whole table (or an insert near
the start, which shifts every later row) rewrites every part; so does a model whose row
order is not deterministic (GROUP BY or JOIN without ORDER BY under several threads).
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import blake3

from sqlops.execute import materialize as m

if TYPE_CHECKING:
    from sqlops.execute.engine import Engine, Where

_CHUNK = 8 << 20
# A part's target size, estimated from column widths (Parquet usually compresses below
# it): small enough that a 1% change of a 1 GiB table rewrites a few percent of it, large
# enough that per-file costs (a COPY, a hash, a rename) stay negligible. Measured in
# tests/bench/test_versions.py.
PART_BYTES = 32 << 20
MIN_PART_ROWS = 1 << 10
MAX_PART_ROWS = 1 << 22
_FIXED_WIDTHS = {
    "BOOLEAN": 1, "TINYINT": 1, "UTINYINT": 1, "SMALLINT": 2, "USMALLINT": 2, "ENUM": 2,
    "INTEGER": 4, "UINTEGER": 4, "FLOAT": 4, "DATE": 4, "BIGINT": 8, "UBIGINT": 8,
    "DOUBLE": 8, "TIME": 8, "TIMESTAMP": 8, "HUGEINT": 16, "UHUGEINT": 16, "UUID": 16,
    "INTERVAL": 16, "DECIMAL": 16,
}  # fmt: skip
_VARIABLE = {"VARCHAR": "VARCHAR", "JSON": "VARCHAR", "BLOB": "BLOB", "BIT": "BLOB"}
_NESTED_WIDTH = 64
_TYPE_HEAD = re.compile(r"^[A-Z]+")


def file_hash(path: Path) -> str:
    """blake3 of a file's bytes, 40 hex digits (multi-threaded for large files)."""
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()[:40]


def atomic_write(path: Path, data: bytes) -> None:
    """Write-temp, fsync, rename, fsync the folder: the file is old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ObjectStore:
    """The ``objects/`` folder; paths it hands out are relative to the project root."""

    def __init__(self, folder: Path, root: Path) -> None:
        self.folder = folder
        self.root = root
        self.tmp = folder / "tmp"
        # views name every part; string joins instead of pathlib keep a checkout of a table
        # of many parts cheap
        inside = folder.is_relative_to(root)
        self._relative = (folder.relative_to(root) if inside else folder).as_posix()

    def temp_path(self) -> Path:
        """A fresh path to write a Parquet file to before it is stored."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        return self.tmp / f"{uuid.uuid4().hex}.parquet"

    def put(self, path: Path) -> str:
        """Move a finished file into the store under its hash; identical data is kept once."""
        digest = file_hash(path)
        target = self.path(digest)
        if target.exists():
            path.unlink()
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(path, target)
        fsync_dir(target.parent)
        return digest

    def path(self, object_id: str) -> Path:
        return self.folder / object_id[:2] / f"{object_id[2:]}.parquet"

    def relative(self, object_id: str) -> str:
        """The object's path as views store it: relative to the project root, which every
        sqlops connection sets as DuckDB's ``file_search_path``."""
        return f"{self._relative}/{object_id[:2]}/{object_id[2:]}.parquet"

    def exists(self, object_id: str) -> bool:
        return self.path(object_id).is_file()

    def ids(self) -> set[str]:
        """Every object id stored."""
        return {p.parent.name + p.stem for p in self.folder.glob("??/*.parquet")}

    def remove(self, object_ids: set[str]) -> int:
        """Delete objects (callers ensure nothing references them); returns bytes freed."""
        freed = 0
        for oid in object_ids:
            path = self.path(oid)
            if path.is_file():
                freed += path.stat().st_size
                path.unlink()
        return freed


def write_parts(
    engine: Engine,
    select: str,
    store: ObjectStore,
    table: str,
    where: Where | None = None,
    expected_rows: int | None = None,
) -> tuple[tuple[str, ...], int]:
    """Run ``select`` and store its rows as deterministic parts of ``table``:
    ``(object ids, rows)``. An empty result still gives one (empty) part, so the table
    keeps its columns.

    A large result goes into a temporary table first (its rowids are the row numbers), and
    each part is copied out by a rowid range. Staging costs a few statements, which would
    slow a build of many small models, so unless ``expected_rows`` (the previous build's
    count) says the table is large, the query is first copied straight to one file with a
    LIMIT just past ``MIN_PART_ROWS``: a small table is done in one statement; a large one
    is then staged (for a streaming query the probe stopped early; a query that sorts or
    aggregates everything first runs twice, once per build without a previous count).
    """
    if expected_rows is None or expected_rows <= MIN_PART_ROWS:
        tmp = store.temp_path()
        try:
            copied = engine.fetch_value(
                m.copy_probe(select, MIN_PART_ROWS + 1, str(tmp), table), where=where
            )
            if int(copied or 0) <= MIN_PART_ROWS:
                return (store.put(tmp),), int(copied or 0)
        finally:
            tmp.unlink(missing_ok=True)
    staged = f"__sqlops_stage_{uuid.uuid4().hex}"
    rows = int(engine.fetch_value(m.stage_table(staged, select), where=where) or 0)
    try:
        per_part = part_rows(engine, staged, rows)
        parts: list[str] = []
        for start in range(0, max(rows, 1), per_part):
            stop = None if rows <= per_part else start + per_part
            tmp = store.temp_path()
            try:
                engine.execute(m.copy_rows(staged, start, stop, str(tmp), table))
                parts.append(store.put(tmp))
            finally:
                tmp.unlink(missing_ok=True)
        return tuple(parts), rows
    finally:
        engine.execute(f"DROP TABLE IF EXISTS temp.main.{m.quote(staged)}")


def part_rows(engine: Engine, staged: str, rows: int) -> int:
    """Rows per part of a staged table: a power of two whose estimated size is at most
    ``PART_BYTES``. A power of two keeps the cut points where they were when the average
    row width moves a little between versions; a table of ``MIN_PART_ROWS`` rows or fewer
    is one part without looking at its data."""
    if rows <= MIN_PART_ROWS:
        return MIN_PART_ROWS
    columns = dict(engine.execute(m.staged_columns(), [staged]).fetchall())
    if "rowid" in {c.lower() for c in columns}:
        return max(rows, 1)  # a column shadows the rowid the parts are cut by: one part
    fixed, variable = row_width(columns)
    measured = float(engine.fetch_value(m.average_widths(staged, variable)) or 0) if variable else 0
    return rows_for(fixed + measured)


def row_width(columns: dict[str, str]) -> tuple[int, dict[str, str]]:
    """Bytes per row of the fixed-width columns, and the variable-width columns to measure.

    >>> row_width({"id": "BIGINT", "name": "VARCHAR", "tags": "VARCHAR[]"})
    (72, {'name': 'VARCHAR'})
    """
    fixed = 0
    variable: dict[str, str] = {}
    for name, kind in columns.items():
        match = _TYPE_HEAD.match(kind)
        head = match.group(0) if match else ""
        nested = kind.endswith("]") or head in ("STRUCT", "MAP", "UNION", "LIST")
        if not nested and head in _VARIABLE:
            variable[name] = _VARIABLE[head]
        else:
            fixed += _NESTED_WIDTH if nested else _FIXED_WIDTHS.get(head, 16)
    return fixed, variable


def rows_for(width: float) -> int:
    """Rows per part for rows of ``width`` bytes: the largest power of two that fits in
    ``PART_BYTES``, within ``MIN_PART_ROWS`` and ``MAX_PART_ROWS``.

    >>> rows_for(64), rows_for(1), rows_for(1e6)
    (524288, 4194304, 1024)
    """
    exponent = math.floor(math.log2(PART_BYTES / max(width, 1.0)))
    return min(MAX_PART_ROWS, max(MIN_PART_ROWS, 1 << max(exponent, 0)))
