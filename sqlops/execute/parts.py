"""A table's rows written as Parquet *parts* into the object store (``storage.objects``).

Each part is a temporary file, hashed and stored under its hash; the warehouse then exposes
them through a view, so switching versions is a matter of re-pointing views.

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

A part stores the columns Parquet would not keep exactly as another type (``coltypes``);
whoever reads the parts restores them from the table's true types (``Written.columns``, and
the version store's record of each table).
"""

from __future__ import annotations

import math
import os
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlops.errors import ExecutionError
from sqlops.execute import materialize as m
from sqlops.execute.coltypes import stored_type
from sqlops.plan.fingerprint import digest
from sqlops.storage.objects import ObjectStore

if TYPE_CHECKING:
    import polars as pl

    from sqlops.execute.engine import Engine, Where

_Job = TypeVar("_Job")
_ATTACHING = threading.Lock()
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


@dataclass(frozen=True)
class Written:
    """A table written as parts: their object ids, the row count, and the query's true
    ``(name, type)``s (which a view over the parts restores, ``coltypes``)."""

    parts: tuple[str, ...]
    rows: int
    columns: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SampleRequest:
    """Keep about ``rows`` uniformly sampled rows of a table's ``columns`` while it is staged
    (feature statistics read them: sampling the staged table skips what sampling its Parquet
    parts must decode, measured 8x cheaper), in a file named by the table and its parts."""

    folder: Path
    columns: tuple[str, ...]
    rows: int

    def path(self, table: str, parts: Sequence[str]) -> Path:
        return sample_file(self.folder, table, parts)


def sample_file(folder: Path, table: str, parts: Sequence[str]) -> Path:
    """Where the sample of ``table`` as written to ``parts`` is kept (if one was)."""
    return folder / f"{table}.{digest(list(parts))[:16]}.parquet"


@dataclass(frozen=True)
class Guess:
    """The ``(name, type)``s a query is expected to return, and the type ``typeof`` gives a
    row of them (``materialize.row_type``)."""

    columns: tuple[tuple[str, str], ...]
    row: str


def write_parts(
    engine: Engine,
    select: str,
    store: ObjectStore,
    table: str,
    where: Where | None = None,
    expected_rows: int | None = None,
) -> tuple[tuple[str, ...], int]:
    """``write_typed_parts`` for callers that need only ``(object ids, rows)``."""
    written = write_typed_parts(engine, select, store, table, where, expected_rows)
    return written.parts, written.rows


def write_typed_parts(
    engine: Engine,
    select: str,
    store: ObjectStore,
    table: str,
    where: Where | None = None,
    expected_rows: int | None = None,
    guess: Guess | None = None,
    sample: SampleRequest | None = None,
) -> Written:
    """Run ``select`` and store its rows as deterministic parts of ``table``. An empty
    result still gives one (empty) part, so the table keeps its columns. A column of a type
    Parquet does not keep is stored as an exact type (``coltypes.stored_type``).

    A large result goes into a staging table first (its rowids are the row numbers), and
    each part is copied out by a rowid range. Staging costs a few statements, which would
    slow a build of many small models, so unless ``expected_rows`` (the previous build's
    count) says the table is large, the query is first copied straight to one file with a
    LIMIT just past ``MIN_PART_ROWS``: a small table is done in one statement; a large one
    is then staged (for a streaming query the probe stopped early; a query that sorts or
    aggregates everything first runs twice, once per build without a previous count).

    That one statement needs the query's types before it runs (to store them exactly):
    ``guess`` (the table's types at its last build) saves binding the query a second time
    (~1 ms a model), as the statement itself refuses to run if the guess is wrong; then,
    and without a guess, the types come from binding the query. ``sample``: keep a sample of
    a staged table's rows (a table small enough not to be staged needs none).
    """
    small = expected_rows is None or expected_rows <= MIN_PART_ROWS
    if small:
        # check the guess, or (without one) that no column needs storing differently
        check = m.row_check(guess.row) if guess is not None else m.kept_check()
        stored = _stored(guess.columns, False) if guess is not None else {}
        try:
            found = _probe(engine, select, store, table, where, stored, check)
        except ExecutionError:
            pass  # other types, or a failing query (whose error comes again below)
        else:
            if found is None:  # the check held, but the table is large: stage it
                small = False
            elif found[1] > 0:  # (an empty result's types are not checked)
                return Written((found[0],), found[1], guess.columns if guess else ())
    columns = tuple(engine.describe(select, where)) if small else None
    try:
        return _write_parts(engine, select, store, table, where, small, columns, False, sample)
    except ExecutionError as exc:
        if "DECIMAL(38,0)" not in exc.message:
            raise
    # a HUGEINT of 39 digits does not fit DECIMAL(38,0): store those columns as text
    return _write_parts(engine, select, store, table, where, small, columns, True, sample)


def _stored(columns: Sequence[tuple[str, str]], wide: bool) -> dict[str, str]:
    """``{column: stored type}`` of the columns Parquet would not keep as they are."""
    found = ((name, stored_type(kind, wide)) for name, kind in columns)
    return {name: kind for name, kind in found if kind is not None}


def _probe(
    engine: Engine,
    select: str,
    store: ObjectStore,
    table: str,
    where: Where | None,
    stored: dict[str, str],
    check: str | None = None,
) -> tuple[str, int] | None:
    """Copy the query to one part if it has at most ``MIN_PART_ROWS`` rows:
    ``(object id, rows)``; None if it has more."""
    tmp = store.temp_path()
    try:
        copied = engine.fetch_value(
            m.copy_probe(select, MIN_PART_ROWS + 1, str(tmp), table, stored, check),
            where=where,
        )
        rows = int(copied or 0)
        return (store.put(tmp), rows) if rows <= MIN_PART_ROWS else None
    finally:
        tmp.unlink(missing_ok=True)


def _write_parts(
    engine: Engine,
    select: str,
    store: ObjectStore,
    table: str,
    where: Where | None,
    small: bool,
    columns: tuple[tuple[str, str], ...] | None,
    wide: bool,
    sample: SampleRequest | None = None,
) -> Written:
    """Probe (when the table is expected ``small``, with its ``columns``) or stage."""
    if small and columns is not None:
        found = _probe(engine, select, store, table, where, _stored(columns, wide))
        if found is not None:
            return Written((found[0],), found[1], columns)
    staged = f"__sqlops_stage_{uuid.uuid4().hex}"
    with _ATTACHING:  # two cursors attaching at once: one fails with "already exists"
        engine.execute(m.attach_stage())
    rows = int(engine.fetch_value(m.stage_table(staged, select), where=where) or 0)
    try:
        staged_types = tuple(engine.execute(m.staged_columns(), [staged]).fetchall())
        per_part = part_rows(engine, staged, rows, dict(staged_types))
        ranges = [
            (start, None if rows <= per_part else start + per_part)
            for start in range(0, max(rows, 1), per_part)
        ]
        stored = _stored(staged_types, wide)
        parts = _copy_parts(engine, staged, ranges, store, table, stored)
        if sample is not None:
            _keep_sample(engine, staged, rows, dict(staged_types), stored, (table, parts), sample)
        return Written(parts, rows, staged_types)
    finally:
        engine.execute(m.drop_staged(staged))


def _keep_sample(
    engine: Engine,
    staged: str,
    rows: int,
    types: Mapping[str, str],
    stored: Mapping[str, str],
    written: tuple[str, tuple[str, ...]],
    sample: SampleRequest,
) -> None:
    """Write the sample ``sample`` asks for (none for a table of at most its rows, or whose
    rowid a column shadows, or that lacks a column); it replaces the table's older ones."""
    names = {c.lower() for c in types}
    if (
        rows <= sample.rows
        or "rowid" in names
        or any(c.lower() not in names for c in sample.columns)
    ):
        return
    table, parts = written
    target = sample.path(table, parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    for old in target.parent.glob(f"{table}.*.parquet"):
        old.unlink(missing_ok=True)
    tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        keep = {c: t for c, t in stored.items() if c in sample.columns}
        engine.execute(m.copy_sample(staged, sample.columns, keep, rows // sample.rows, str(tmp)))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _copy_parts(
    engine: Engine,
    staged: str,
    ranges: list[tuple[int, int | None]],
    store: ObjectStore,
    table: str,
    stored: dict[str, str],
) -> tuple[str, ...]:
    """Copy each rowid range of a staged table to a part and store it."""

    def copy(cursor: Engine, bounds: tuple[int, int | None], path: str) -> None:
        cursor.execute(m.copy_rows(staged, bounds[0], bounds[1], path, table, stored))

    return _store_each(engine, store, copy, ranges)


def write_frame_parts(
    engine: Engine, frame: pl.DataFrame, store: ObjectStore, table: str
) -> tuple[str, ...]:
    """Store a Polars frame (a model ``inpolars`` ran) as parts, cut like ``write_parts``
    cuts a staged table and written by the same ``COPY``. Each part's rows are first made
    one contiguous chunk: DuckDB's own Polars reader (used when its Python scan sources are
    missing) scans Arrow chunks in parallel and forms row groups from them, so equal rows
    chunked differently in memory would give different bytes, stored twice.
    (Measured alternatives: Polars' writer also depends on the chunking and wrote 1.8x
    larger files, without dictionary encoding; Arrow's was 25% faster at 10M rows but
    costs a 0.15 s pyarrow import in every build that uses it.)"""
    rows = frame.height
    per_part = MIN_PART_ROWS if rows <= MIN_PART_ROWS else rows_for(frame.estimated_size() / rows)

    def copy(cursor: Engine, start: int, path: str) -> None:
        name = f"__sqlops_part_{uuid.uuid4().hex}"
        cursor.register(name, frame.slice(start, per_part).rechunk())
        try:
            cursor.execute(m.copy_relation(name, path, table))
        finally:
            cursor.unregister(name)

    return _store_each(engine, store, copy, list(range(0, max(rows, 1), per_part)))


def _store_each(
    engine: Engine, store: ObjectStore, copy: Callable[[Engine, _Job, str], None], jobs: list[_Job]
) -> tuple[str, ...]:
    """For every job, in order: ``copy(cursor, job, path)`` writes a part to a temporary
    path, which is then stored; its object id is returned. Runs on one cursor per DuckDB
    thread: one part's COPY keeps about one core busy (measured: 1.06 cores on two), and a
    part's hash and fsync overlap the next part's COPY. Each part is still its own
    statement, so its bytes do not depend on how many run at once."""

    def one(cursor: Engine, job: _Job) -> str:
        tmp = store.temp_path()
        try:
            copy(cursor, job, str(tmp))
            return store.put(tmp)
        finally:
            tmp.unlink(missing_ok=True)

    workers = min(len(jobs), int(engine.fetch_value("SELECT current_setting('threads')")))
    if workers <= 1:
        return tuple(one(engine, job) for job in jobs)
    stop_all = threading.Event()  # set when one worker fails, or the wait is interrupted

    def run(own: list[_Job]) -> list[str]:
        cursor = engine.fork(macros=False)
        try:
            return [one(cursor, job) for job in own if not stop_all.is_set()]
        except BaseException:
            stop_all.set()
            raise
        finally:
            cursor.close()

    with ThreadPoolExecutor(workers) as pool:
        futures = [pool.submit(run, jobs[k::workers]) for k in range(workers)]
        try:
            done = [future.result() for future in futures]
        finally:
            stop_all.set()
    return tuple(done[i % workers][i // workers] for i in range(len(jobs)))


def part_rows(engine: Engine, staged: str, rows: int, columns: dict[str, str]) -> int:
    """Rows per part of a staged table (whose ``{column: type}`` are given): a power of two
    whose estimated size is at most ``PART_BYTES``. A power of two keeps the cut points
    where they were when the average row width moves a little between versions; a table of
    ``MIN_PART_ROWS`` rows or fewer is one part without looking at its data."""
    if rows <= MIN_PART_ROWS:
        return MIN_PART_ROWS
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
