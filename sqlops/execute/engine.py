"""DuckDB's only boundary: connections, statements, frames in and out, errors translated.

DuckDB errors carry ``LINE n:`` and a caret under the offending token; ``translate`` maps
them back to the model file (``sql/stg/orders.sql:7:12``) so the user sees their own file.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from sqlops.errors import ExecutionError, LockedError, SqlopsError
from sqlops.execute.coltypes import TypeNode, arrow_text, parse
from sqlops.execute.materialize import (
    STATE_COMPACT,
    STATE_DDL,
    STATE_LATEST,
    STATE_TABLE,
    qualified,
    quote,
)

if TYPE_CHECKING:
    import polars as pl

# the write-ahead log size up to which a read-mostly command (checkout, commit) leaves its
# writes in the log: a few checkouts of a 39-part table (~10-20 KiB each)
WAL_LIMIT = 64 << 10
_LINE = re.compile(r"^LINE (\d+): ?", re.MULTILINE)
_INTERNAL_SCHEMAS = ("information_schema", "pg_catalog", "_sqlops")


class Where:
    """Where a statement's text came from, so errors can point into the right file."""

    def __init__(
        self,
        path: Path | str | None = None,
        body_line: int = 1,
        prefix_lines: int = 0,
        model: str | None = None,
    ) -> None:
        self.path = path
        self.body_line = body_line
        self.prefix_lines = prefix_lines
        self.model = model


class Engine:
    """One DuckDB connection (or a cursor of one, for a worker thread)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str, macros: bool = False) -> None:
        self.con = con
        self.path = path
        self.macros = macros
        self._int128_views: set[str] = set()
        if macros:
            from sqlops.macros import register_macros

            register_macros(con)

    @classmethod
    def open(
        cls,
        path: Path | str = ":memory:",
        *,
        read_only: bool = False,
        threads: int | None = None,
        memory_limit: str | None = None,
        macros: bool = True,
        search_path: Path | None = None,
    ) -> Engine:
        """Open (creating if needed) a database and register the macro library on it.

        ``search_path`` is where relative file paths resolve (the project root): views over
        stored Parquet objects use relative paths, so a moved project keeps working.
        """
        target = str(path)
        if target != ":memory:":
            Path(target).parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {}
        if threads:
            config["threads"] = threads
        if memory_limit:
            config["memory_limit"] = memory_limit
        if search_path is not None:
            config["file_search_path"] = str(search_path)
        try:
            con = duckdb.connect(target, read_only=read_only, config=config)
        except duckdb.Error as exc:
            raise translate(exc, Where(path=target)) from exc
        return cls(con, target, macros)

    def fork(self, macros: bool = True) -> Engine:
        """A cursor on the same database for a worker thread (DuckDB connections are not
        shared across threads), with the macro library registered on it unless asked not
        to (~15 ms a cursor; copying rows out needs none)."""
        return Engine(self.con.cursor(), self.path, macros=macros)

    def defer_checkpoint(self) -> None:
        """Leave the write-ahead log as it is at close instead of checkpointing it into the
        database file, which costs ~5 ms of a ~45 ms checkout. The log is already durable
        (fsynced at each commit); the next build's close checkpoints it together with its
        own writes, and opening replays a small log in well under a millisecond. Once the
        log has grown past ``WAL_LIMIT`` bytes, the close checkpoints as usual."""
        try:
            size = os.stat(f"{self.path}.wal").st_size
        except OSError:
            size = 0
        if size < WAL_LIMIT:
            self.execute("PRAGMA disable_checkpoint_on_shutdown")

    def close(self) -> None:
        self.con.close()

    def execute(
        self,
        sql: str,
        params: Sequence[Any] | Mapping[str, Any] | None = None,
        where: Where | None = None,
    ) -> duckdb.DuckDBPyConnection:
        try:
            return self.con.execute(sql, params)
        except duckdb.Error as exc:
            raise translate(exc, where) from exc

    def script(self, sql: str) -> None:
        """Run several ``;``-separated statements that sqlops itself wrote."""
        for statement in self.con.extract_statements(sql):
            self.con.execute(statement)

    def statements(self, text: str, where: Where) -> list[tuple[str, set[str]]]:
        """Split a script with DuckDB's own parser: ``(sql, named parameters)`` per statement."""
        try:
            parsed = self.con.extract_statements(text)
        except duckdb.Error as exc:
            raise translate(exc, where) from exc
        return [(s.query.strip(), set(s.named_parameters)) for s in parsed]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: an interrupted or failed model leaves the old table in place."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def fetch_value(
        self, sql: str, params: Sequence[Any] | None = None, where: Where | None = None
    ) -> Any:
        """The first column of the first row, or None. Every row is read: DuckDB 2 refuses
        some later work on the connection (``register``) while a result is half-read."""
        rows = self.execute(sql, params, where).fetchall()
        return rows[0][0] if rows else None

    def explain(self, sql: str) -> list[dict[str, Any]]:
        """The physical plan DuckDB would run, as EXPLAIN's JSON tree (nodes with ``name``,
        ``extra_info``, ``children``): it binds and optimizes but reads no rows."""
        row = self.execute("EXPLAIN (FORMAT json) " + sql).fetchone()
        return list(json.loads(row[1])) if row else []

    def parse_tree(self, sql: str) -> dict[str, Any]:
        """DuckDB's own parse of a statement, as JSON (``json_serialize_sql``): what
        ``inpolars`` translates, so names and precedence are read exactly as DuckDB reads
        them. Macros are not expanded at this stage; they appear as function calls."""
        row = self.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
        return dict(json.loads(row[0])) if row else {"error": True}

    def describe(self, sql: str, where: Where | None = None) -> list[tuple[str, str]]:
        """``(name, type)`` of each column a query returns, from binding it; errors point
        into the query's file like those of the statement that then runs it."""
        from sqlops.execute.materialize import describe

        rows = self.execute(describe(sql), where=where).fetchall()
        return [(str(row[0]), str(row[1])) for row in rows]

    def output_columns(self, sql: str) -> list[tuple[str, str]]:
        """``(name, type)`` of each column the query returns, from binding it (no rows read)."""
        try:
            relation = self.con.sql(sql)
        except duckdb.Error as exc:
            raise translate(exc, None) from exc
        return [(n, str(t)) for n, t in zip(relation.columns, relation.types, strict=True)]

    def polars(
        self,
        sql: str,
        params: Mapping[str, Any] | Sequence[Any] | None = None,
        where: Where | None = None,
    ) -> pl.DataFrame:
        frame = self.query(sql, params, where)
        if frame is None:
            raise ExecutionError("the statement returns no rows", hint="write a SELECT")
        return frame

    def query(
        self,
        sql: str,
        params: Mapping[str, Any] | Sequence[Any] | None = None,
        where: Where | None = None,
    ) -> pl.DataFrame | None:
        """Run one statement; its rows as Polars (None for a statement without rows)."""
        import polars as pl

        try:
            relation = self.con.sql(sql, params=params)
            if relation is None:
                return None
            types = [str(t) for t in relation.types]
            as_text = {c: arrow_text(t) for c, t in zip(relation.columns, types, strict=True)}
            if any(as_text.values()):
                relation = relation.project(
                    ", ".join(
                        f"CAST({quote(c)} AS {text}) AS {quote(c)}" if text else quote(c)
                        for c, text in as_text.items()
                    )
                )
            frame = pl.from_arrow(relation.to_arrow_table())
        except duckdb.Error as exc:
            raise self._located(exc, sql, where) from exc
        assert isinstance(frame, pl.DataFrame)
        return _exact_integers(frame, types)

    def lazy(self, name: str) -> pl.LazyFrame:
        """A table as a Polars LazyFrame over its Arrow data (zero-copy).

        DuckDB's own ``.pl(lazy=True)`` took seconds just to set up here, so the table is
        read eagerly into Arrow, which Polars wraps without copying.
        """
        return self.polars(f"SELECT * FROM {qualified(name)}").lazy()

    def register(self, name: str, frame: Any) -> None:
        """Expose a Polars/pandas/Arrow object (or a Polars LazyFrame, whose scan then gets
        DuckDB's projections) without copying rows through Python. DuckDB cannot read
        Polars' 128-bit integers (which ``query`` returns for HUGEINT): such columns are
        handed over as text and cast to HUGEINT/UHUGEINT by a view of that name."""
        wide = _int128_columns(frame)
        target = f"{name}__int128" if wide else name
        if wide:
            import polars as pl

            schema = frame.collect_schema()
            frame = frame.with_columns(pl.col(c).cast(_as_text(schema[c])) for c in wide)
        try:
            self.con.register(target, _polars_source(frame))
            if wide:
                casts = ", ".join(f"CAST({quote(c)} AS {t}) AS {quote(c)}" for c, t in wide.items())
                self.con.execute(
                    f"CREATE OR REPLACE TEMP VIEW {quote(name)} AS "
                    f"SELECT * REPLACE ({casts}) FROM {quote(target)}"
                )
                self._int128_views.add(name)
        except (duckdb.Error, TypeError, ValueError) as exc:
            raise ExecutionError(
                f"cannot read {type(frame).__name__} for {name}: {exc}",
                hint="pass a Polars, pandas or Arrow table",
            ) from exc

    def unregister(self, name: str) -> None:
        if name in self._int128_views:
            self._int128_views.discard(name)
            self.con.execute(f"DROP VIEW IF EXISTS temp.main.{quote(name)}")
            name = f"{name}__int128"
        self.con.unregister(name)

    def _located(self, exc: duckdb.Error, sql: str, where: Where | None) -> SqlopsError:
        """The relation API drops DuckDB's ``LINE n:`` marker; preparing the statement (which
        binds without running it) recovers the position for parse and bind errors."""
        if where is None or _LINE.search(str(exc)):
            return translate(exc, where)
        try:
            self.con.execute("PREPARE __sqlops_locate AS\n" + sql)
            self.con.execute("DEALLOCATE __sqlops_locate")
        except duckdb.Error as located:
            if _LINE.search(str(located)):
                shifted = Where(where.path, where.body_line, where.prefix_lines + 1, where.model)
                return translate(located, shifted)
        return translate(exc, where)

    def relations(self) -> dict[str, str]:
        """Every user table and view: ``{"schema.name": "table" | "view"}``."""
        rows = self.con.execute(
            "SELECT schema_name || '.' || table_name, 'table' FROM duckdb_tables() "
            "WHERE database_name = current_database() AND NOT temporary "
            "UNION ALL SELECT schema_name || '.' || view_name, 'view' FROM duckdb_views() "
            "WHERE database_name = current_database() AND NOT internal AND NOT temporary"
        ).fetchall()
        return {name: kind for name, kind in rows if not name.startswith(_INTERNAL_SCHEMAS)}

    def columns(self, name: str) -> dict[str, str]:
        """Column names and types of a relation."""
        schema, table = name.split(".", 1)
        rows = self.con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = ? AND table_name = ? "
            "ORDER BY column_index",
            [schema, table],
        ).fetchall()
        return dict(rows)

    def all_columns(self) -> dict[str, tuple[tuple[str, str], ...]]:
        """``{"schema.name": ((column, type), ...)}`` of every user table and view."""
        from sqlops.execute.materialize import all_columns

        tables: dict[str, list[tuple[str, str]]] = {}
        for schema, table, column, kind in self.execute(all_columns()).fetchall():
            tables.setdefault(f"{schema}.{table}", []).append((column, kind))
        return {name: tuple(columns) for name, columns in tables.items()}

    def keywords(self) -> frozenset[str]:
        """DuckDB's SQL keywords (names it quotes when it prints them)."""
        rows = self.execute("SELECT keyword_name FROM duckdb_keywords()").fetchall()
        return frozenset(str(row[0]) for row in rows)

    def ensure_state(self) -> None:
        self.script(STATE_DDL)

    def read_state(self) -> dict[str, dict[str, Any]]:
        """The last successful build of each node: fingerprint, inputs, objects, rows."""
        import json

        exists = self.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ? "
            "AND database_name = current_database()",
            STATE_TABLE.split("."),
        ).fetchone()
        if not exists or not exists[0]:
            return {}
        rows = self.con.execute(STATE_LATEST).fetchall()
        return {
            name: {
                "fingerprint": fp,
                "inputs": json.loads(inputs),
                "materialized": mat,
                "objects": list(objects),
                "rows": n,
            }
            for name, fp, inputs, mat, objects, n in rows
        }

    def compact_state(self) -> None:
        self.execute(STATE_COMPACT)


def _exact_integers(frame: pl.DataFrame, types: Sequence[str]) -> pl.DataFrame:
    """HUGEINT and UHUGEINT columns (at any depth of lists and structs) as Polars' Int128
    and UInt128: Arrow has no 128-bit integers, so they arrive as DECIMAL(38,0) (UHUGEINT
    as text, see ``arrow_text``), and Python users would get ``Decimal('6')`` for a sum."""
    if not any("HUGEINT" in t for t in types):
        return frame
    targets: dict[str, Any] = {}
    for (name, dtype), type_ in zip(frame.schema.items(), types, strict=True):
        parsed = parse(type_) if "HUGEINT" in type_ else None
        target = _int128(dtype, parsed) if parsed is not None else dtype
        if target != dtype:
            targets[name] = target
    return frame.cast(targets) if targets else frame  # type: ignore[arg-type]


def _int128(dtype: Any, duck: TypeNode) -> Any:
    """``dtype`` with the leaves that are (U)HUGEINT in DuckDB's type made (U)Int128."""
    import polars as pl

    if duck.suffix:  # a list or array level: DuckDB writes it last, Polars nests it first
        cut = duck.suffix.rindex("[")
        inner = TypeNode(duck.head, duck.text, duck.fields, duck.args, duck.suffix[:cut])
        if isinstance(dtype, pl.List):
            return pl.List(_int128(dtype.inner, inner))
        if isinstance(dtype, pl.Array):
            return pl.Array(_int128(dtype.inner, inner), dtype.shape[0])
        return dtype
    if duck.head in ("HUGEINT", "UHUGEINT"):
        return pl.Int128 if duck.head == "HUGEINT" else pl.UInt128
    if duck.head == "MAP" and isinstance(dtype, pl.Map) and len(duck.fields) == 2:
        return pl.Map(
            _int128(dtype.key, duck.fields[0][1]), _int128(dtype.value, duck.fields[1][1])
        )
    if duck.head == "STRUCT" and isinstance(dtype, pl.Struct):
        fields = zip(dtype.fields, duck.fields, strict=False)
        return pl.Struct([pl.Field(f.name, _int128(f.dtype, d)) for f, (_, d) in fields])
    return dtype


def _int128_columns(frame: Any) -> dict[str, str]:
    """``{column: DuckDB type}`` of a Polars frame's (U)Int128 columns, also as list or
    array elements (what ``query`` returns for HUGEINT and UHUGEINT)."""
    if not type(frame).__module__.startswith("polars"):
        return {}
    import polars as pl

    def duck(dtype: Any) -> str | None:
        if dtype in (pl.Int128, pl.UInt128):
            return "HUGEINT" if dtype == pl.Int128 else "UHUGEINT"
        if isinstance(dtype, pl.List | pl.Array):
            inner = duck(dtype.inner)
            size = str(dtype.shape[0]) if isinstance(dtype, pl.Array) else ""
            return None if inner is None else f"{inner}[{size}]"
        return None

    if not isinstance(frame, pl.DataFrame | pl.LazyFrame):
        return {}
    found = {c: duck(t) for c, t in frame.collect_schema().items()}
    return {c: t for c, t in found.items() if t is not None}


def _as_text(dtype: Any) -> Any:
    """``dtype`` with its (U)Int128 leaves as strings (see ``_int128_columns``)."""
    import polars as pl

    if isinstance(dtype, pl.List):
        return pl.List(_as_text(dtype.inner))
    if isinstance(dtype, pl.Array):
        return pl.Array(_as_text(dtype.inner), dtype.shape[0])
    return pl.String if dtype in (pl.Int128, pl.UInt128) else dtype


def _polars_source(frame: Any) -> Any:
    """A Polars frame wrapped so DuckDB reads it through the Arrow C stream interface.

    DuckDB's own Polars reader converts every frame with ``to_arrow()``, which imports pyarrow
    (0.3-0.5 s of start-up, more than reading a small CSV). The wrapper narrows a scan to the
    columns DuckDB asks for in Polars (so a CSV scan parses only those) and hands over Polars'
    own Arrow export. Anything else, and DuckDB builds without extensible scan sources, get
    the object itself.
    """
    source = _polars_source_class()
    if source is None or not type(frame).__module__.startswith("polars"):
        return frame
    import polars as pl

    if not isinstance(frame, pl.DataFrame | pl.LazyFrame):
        return frame
    schema = frame.collect_schema()
    if not all(_exportable(dtype) for dtype in schema.values()):
        return frame
    return source(frame.lazy(), schema, frame.height if isinstance(frame, pl.DataFrame) else None)


def _exportable(dtype: Any) -> bool:
    """False for what Polars cannot export (Object) or exports in a form DuckDB refuses (Null
    arrays without a validity bitmap), at any depth; DuckDB's own reader handles both."""
    import polars as pl

    if dtype in (pl.Object, pl.Null):
        return False
    if isinstance(dtype, pl.List | pl.Array):
        return _exportable(dtype.inner)
    if isinstance(dtype, pl.Struct):
        return all(_exportable(field.dtype) for field in dtype.fields)
    return True


@functools.cache
def _polars_source_class() -> type | None:
    """The class of ``_polars_source``'s wrapper, built on DuckDB's Python scan-source protocol
    (``duckdb._sources``: ``accepts`` a filter, ``stream`` the asked columns); None without it."""
    try:
        from duckdb._sources import ArrowScanSource
        from duckdb._sources.nodes import Binary, Col, In, Postfix, Unary, Untranslatable
        from duckdb._sources.to_polars import to_polars
    except ImportError:  # a DuckDB without Python scan sources reads Polars itself
        return None
    import polars as pl

    def nan_safe(node: Any, schema: pl.Schema) -> bool:
        """Whether a filter keeps the same rows when a Parquet scan prunes row groups by their
        min/max statistics, which leave NaN out: no comparison on a floating-point column."""
        if isinstance(node, Postfix):  # IS [NOT] NULL; NaN is not NULL
            return True
        if isinstance(node, Col):
            dtype = schema.get(node.parts[0])
            return dtype is not None and not dtype.is_float() and not dtype.is_nested()
        if isinstance(node, Binary):
            return nan_safe(node.left, schema) and nan_safe(node.right, schema)
        if isinstance(node, Unary):
            return nan_safe(node.operand, schema)
        if isinstance(node, In):
            return nan_safe(node.operand, schema)
        return True

    class PolarsSource(ArrowScanSource):
        """A Polars LazyFrame, filtered and narrowed in Polars and collected once per scan."""

        schema_is_stable = True

        def __init__(self, frame: pl.LazyFrame, schema: pl.Schema, height: int | None) -> None:
            super().__init__(frame)
            self.schema = schema
            self.height = height

        def rows(self) -> int | None:
            return self.height

        def __arrow_c_schema__(self) -> object:
            return self.schema.__arrow_c_schema__()

        def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
            return self.obj.collect().__arrow_c_stream__(requested_schema)

        def accepts(self, predicate: Any) -> bool:
            """Take a filter that DuckDB's translator says Polars evaluates exactly alike."""
            try:
                to_polars(predicate, self.schema)
            except Untranslatable:
                return False
            return nan_safe(predicate, self.schema)

        def stream(
            self, columns: Sequence[int] | None, filters: Sequence[Any]
        ) -> tuple[object, bool]:
            plan = self.obj
            for predicate in filters:
                plan = plan.filter(to_polars(predicate, self.schema))
            # A frame without columns has no rows, so a request for none reads them all.
            if not columns:
                return plan.collect().__arrow_c_stream__(), False
            narrowed = plan.select([pl.nth(i) for i in columns]).collect()
            return narrowed.__arrow_c_stream__(), True

    return PolarsSource


def translate(exc: duckdb.Error, where: Where | None = None) -> SqlopsError:
    """Turn a DuckDB exception into a one-line sqlops error pointing into the user's file."""
    text = str(exc)
    if isinstance(exc, duckdb.IOException) and "lock" in text.lower():
        pid = re.search(r"PID (\d+)", text)
        return LockedError(
            f"the warehouse {where.path if where else ''} is in use by another process"
            + (f" (pid {pid.group(1)})" if pid else ""),
            hint="wait for the running build to finish, then retry",
        )
    headline = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    extra = [ln.strip() for ln in text.splitlines()[1:] if ln.strip().startswith("Candidate")]
    hint = extra[0] if extra else None
    line = col = None
    match = _LINE.search(text)
    if match and where is not None:
        stmt_line = int(match.group(1))
        line = where.body_line + stmt_line - 1 - where.prefix_lines
        caret_row = text[match.end() :].split("\n", 2)
        if len(caret_row) > 1 and "^" in caret_row[1]:
            col = caret_row[1].index("^") - (match.end() - match.start()) + 1
        if line < where.body_line:
            line, col = where.body_line, None
    return ExecutionError(
        headline,
        model=where.model if where else None,
        path=where.path if where else None,
        line=line if where and where.path else None,
        col=col if where and where.path else None,
        hint=hint,
    )
