"""DuckDB's only boundary: connections, statements, frames in and out, errors translated.

DuckDB errors carry ``LINE n:`` and a caret under the offending token; ``translate`` maps
them back to the model file (``sql/stg/orders.sql:7:12``) so the user sees their own file.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from sqlops.errors import CorruptObject, DiskFull, ExecutionError, LockedError, SqlopsError
from sqlops.execute.coltypes import TypeNode, arrow_text, parse
from sqlops.execute.csvshape import ragged_row
from sqlops.execute.materialize import (
    META_DDL,
    META_FORGET,
    META_READ,
    META_WRITE,
    STATE_COMPACT,
    STATE_DDL,
    STATE_LATEST,
    STATE_TABLE,
    VIEWS,
    cast_star,
    qualified,
    quote,
    relocated,
)
from sqlops.execute.polarserrors import polars_errors
from sqlops.execute.scansource import polars_source

if TYPE_CHECKING:
    import polars as pl

# the write-ahead log size up to which a read-mostly command (checkout, commit) leaves its
# writes in the log: a few checkouts of a 39-part table (~10-20 KiB each)
WAL_LIMIT = 64 << 10
_LINE = re.compile(r"^LINE (\d+): ?", re.MULTILINE)
# a content-addressed part (objects/ab/cdef....parquet) DuckDB could not read
_STORED_OBJECT = re.compile(r"objects/([0-9a-f]{2})/([0-9a-f]{16,})\.parquet")
_WRITING = re.compile(r'(?:write|writing|create|open) (?:to )?(?:file )?"([^"]+)"', re.IGNORECASE)
# what DuckDB says about a CSV file whose rows are not all as wide as its header
_CSV_SHAPE = re.compile(
    r"COLUMN_TYPES error|Error when sniffing file|Expected Number of Columns|CSV Error on Line"
)
_INTERNAL_SCHEMAS = ("information_schema", "pg_catalog", "_sqlops")


class Where:
    """Where a statement's text came from, so errors can point into the right file."""

    def __init__(
        self,
        path: Path | str | None = None,
        body_line: int = 1,
        prefix_lines: int = 0,
        model: str | None = None,
        csv: tuple[str, str] | None = None,
    ) -> None:
        self.path = path
        self.body_line = body_line
        self.prefix_lines = prefix_lines
        self.model = model
        self.csv = csv  # (file, delimiter) of a CSV source, to find a ragged row in


class Engine:
    """One DuckDB connection (or a cursor of one, for a worker thread)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str, macros: bool = False) -> None:
        self.con = con
        self.path = path
        self.macros = macros  # whether each cursor needs the macros registered (TEMP)
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
        """Open (creating if needed) a database, with the macro library on it.

        ``search_path`` is given for a project's warehouse: the project root, where relative
        paths in models resolve (DuckDB's ``file_search_path``). The warehouse must stay
        usable from any DuckDB client, so opening it settles two things (a read when they
        hold): it stores the current macro library, and its views' absolute paths are under
        this root; a moved or copied project gets its views re-pointed here first.

        ``macros``: whether this connection needs the library. A writable warehouse always
        stores it (a read when it does); a read-only one whose stored library differs (an
        older sqlops) and any other file get TEMP macros, which each cursor registers again.
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
        con = _connect(target, read_only, config)
        if target == ":memory:":
            engine = cls(con, target)
            if macros:  # stored in the in-memory database: every cursor sees them
                from sqlops.macros import MACRO_SQL

                con.execute(MACRO_SQL)
            return engine
        if search_path is None:
            return cls(con, target, macros)
        root = str(search_path)
        engine = cls(con, target)
        try:
            if engine._settle(root, read_only, macros):
                engine.close()  # the views point elsewhere: re-point them, then reopen
                writer = cls(_connect(target, False, config), target)
                try:
                    writer._settle(root, False, False, strict=True)
                finally:
                    writer.close()
                engine = cls(_connect(target, True, config), target)
                engine._settle(root, True, macros)
        except BaseException:
            engine.close()
            raise
        return engine

    def _settle(self, root: str, read_only: bool, macros: bool, strict: bool = False) -> bool:
        """Make the warehouse store the current macro library and point its views under
        ``root``. A read-only connection gets TEMP macros instead, and returns True when the
        views point elsewhere, for the caller to re-point them through a writable one.

        A view that cannot be re-pointed (its files did not move along) is dropped, so the
        build that follows rebuilds it; with ``strict`` (a read-only command) it is an error
        that says to run that build.
        """
        from sqlops.macros import library_hash

        meta = self._meta()
        library = library_hash()
        if read_only:
            if meta.get("root", root) != root:
                return True
            if macros and meta.get("macros") != library:
                from sqlops.macros import register_macros

                register_macros(self.con)
                self.macros = True
            return False
        changes: dict[str, str] = {}
        if meta.get("macros") != library:
            self._store_macros(json.loads(meta.get("macro_names", "[]")))
            changes["macros"] = library
            from sqlops.macros import macro_names

            changes["macro_names"] = json.dumps(macro_names())
        if meta.get("root") != root:
            old = meta.get("root")
            if old is not None:
                self._relocate(old, root, strict)
            changes["root"] = root
        if changes:
            with self.transaction():
                self.script(META_DDL)
                for key, value in changes.items():
                    self.con.execute(META_FORGET, [key])
                    self.con.execute(META_WRITE, [key, value])
        return False

    def _meta(self) -> dict[str, str]:
        try:
            return dict(self.con.execute(META_READ).fetchall())
        except duckdb.CatalogException:
            return {}

    def _store_macros(self, before: list[str]) -> None:
        """Store the macro library in the warehouse (schema ``main``), dropping macros an
        earlier library had and this one lacks."""
        from sqlops.macros import MACRO_SQL, macro_names

        with self.transaction():
            for name in sorted(set(before) - set(macro_names())):
                self.con.execute(f"DROP MACRO IF EXISTS main.{quote(name)}")
            self.con.execute(MACRO_SQL)

    def _relocate(self, old: str, new: str, strict: bool) -> None:
        """Re-point every view reading files under ``old`` (the project's previous root) to
        the same files under ``new``. Creating a view binds it, through the views it reads,
        so when not all of them bind in one go, each is replaced on its own and one whose
        inputs are not re-pointed yet is retried after them (an interrupted run leaves the
        rest for the next open)."""
        pending = {
            f"{schema}.{name}": moved
            for schema, name, sql in self.con.execute(VIEWS).fetchall()
            if (moved := relocated(sql, old, new)) is not None
        }
        try:  # usually every view binds at once: one commit instead of one per view
            with self.transaction():
                for create in pending.values():
                    self.con.execute(create)
            return
        except duckdb.Error:
            pass
        while pending:
            failed: dict[str, tuple[str, duckdb.Error]] = {}
            for name, create in pending.items():
                try:
                    self.con.execute(create)
                except duckdb.Error as exc:
                    failed[name] = (create, exc)
            if len(failed) == len(pending):
                name, (_, error) = next(iter(failed.items()))
                if strict:
                    raise ExecutionError(
                        f"the project moved from {old}; the view {name} in the warehouse "
                        f"cannot be re-pointed to {new}: {str(error).splitlines()[0]}",
                        hint="run `sqlops build` to rebuild it",
                    ) from error
                for name in failed:
                    self.con.execute(f"DROP VIEW IF EXISTS {qualified(name)}")
                return
            pending = {name: create for name, (create, _) in failed.items()}

    def fork(self, macros: bool = True) -> Engine:
        """A cursor on the same database for a worker thread (DuckDB connections are not
        shared across threads). Stored macros need nothing; TEMP ones are registered on it
        unless asked not to (~15 ms a cursor; copying rows out needs none)."""
        return Engine(self.con.cursor(), self.path, macros=macros and self.macros)

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
        try:
            self.con.close()  # may checkpoint the write-ahead log into the file
        except duckdb.Error as exc:
            raise translate(exc, Where(path=self.path)) from exc

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
        try:
            for statement in self.con.extract_statements(sql):
                self.con.execute(statement)
        except duckdb.Error as exc:
            raise translate(exc, Where(path=self.path)) from exc

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
        self.execute("COMMIT", where=Where(path=self.path))  # a full disk fails here

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
        rows = self.execute("EXPLAIN (FORMAT json) " + sql).fetchall()
        return list(json.loads(rows[0][1])) if rows else []

    def parse_tree(self, sql: str) -> dict[str, Any]:
        """DuckDB's own parse of a statement, as JSON (``json_serialize_sql``): what
        ``inpolars`` translates, so names and precedence are read exactly as DuckDB reads
        them. Macros are not expanded at this stage; they appear as function calls."""
        rows = self.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()
        return dict(json.loads(rows[0][0])) if rows else {"error": True}

    def fetch_record(self, sql: str) -> dict[str, Any]:
        """The first row as ``{column: value}`` (empty without rows); every row is read."""
        cursor = self.execute(sql)
        rows = cursor.fetchall()
        names = [d[0] for d in cursor.description or ()]
        return dict(zip(names, rows[0], strict=True)) if rows else {}

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
            texts = zip(relation.columns, map(arrow_text, types), strict=True)
            as_text = {c: text for c, text in texts if text is not None}
            if as_text:
                relation = relation.project(cast_star(as_text))
            table = relation.to_arrow_table()
        except duckdb.Error as exc:
            raise self._located(exc, sql, where) from exc
        with polars_errors("read the result into Polars", where.path if where else None):
            frame = pl.from_arrow(table)
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
            self.con.register(target, polars_source(frame))
            if wide:
                self.con.execute(
                    f"CREATE OR REPLACE TEMP VIEW {quote(name)} AS "
                    f"SELECT {cast_star(wide)} FROM {quote(target)}"
                )
                self._int128_views.add(name)
        except (duckdb.Error, TypeError, ValueError) as exc:
            raise ExecutionError(
                f"cannot read {type(frame).__name__} for {name}: {exc}",
                hint="pass a Polars, pandas or Arrow table",
            ) from exc

    def unregister(self, name: str) -> None:
        try:
            if name in self._int128_views:
                self._int128_views.discard(name)
                self.con.execute(f"DROP VIEW IF EXISTS temp.main.{quote(name)}")
                name = f"{name}__int128"
            self.con.unregister(name)
        except duckdb.Error as exc:
            raise translate(exc, None) from exc

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


def _connect(target: str, read_only: bool, config: dict[str, Any]) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(target, read_only=read_only, config=config)
    except duckdb.Error as exc:
        raise translate(exc, Where(path=target)) from exc


def translate(exc: duckdb.Error, where: Where | None = None) -> SqlopsError:
    """Turn a DuckDB exception into a one-line sqlops error pointing into the user's file."""
    text = str(exc)
    if "No space left on device" in text:
        written = _WRITING.search(text)
        return DiskFull(
            "cannot write: no space left on device",
            path=written.group(1) if written else where.path if where else None,
            hint="free some space, then run the command again",
        )
    if isinstance(exc, duckdb.IOException) and "lock" in text.lower():
        pid = re.search(r"PID (\d+)", text)
        return LockedError(
            f"the warehouse {where.path if where else ''} is in use by another process"
            + (f" (pid {pid.group(1)})" if pid else ""),
            hint="wait for the running build to finish, then retry",
        )
    stored = _STORED_OBJECT.search(text)
    if stored is not None:
        return CorruptObject(
            f"stored object {stored.group(1)}{stored.group(2)} is damaged or missing",
            hint="`sqlops versions fsck` lists the tables and commits that use it; rebuild "
            "them (--full-refresh) or restore the object",
        )
    read_error = _csv_read_error(text, where)
    if read_error is not None:
        return read_error
    if where is not None and where.csv is not None and _CSV_SHAPE.search(text):
        ragged = _ragged(where.csv, where.model)
        if ragged is not None:
            return ragged
    headline = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    extra = [  # "Candidate bindings: ..." helps; a bare "Candidate functions:" heading does not
        ln.strip()
        for ln in text.splitlines()[1:]
        if ln.strip().startswith("Candidate") and not ln.strip().endswith(":")
    ]
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


def _csv_read_error(text: str, where: Where | None) -> ExecutionError | None:
    """DuckDB's reader names a bad CSV row's line and file in the lines under its headline;
    the error points there (and names the model that read it)."""
    line = re.search(r"CSV Error on Line: (\d+)", text)
    file = re.search(r"^\s*file = (.+)$", text, re.MULTILINE)
    if line is None or file is None:
        return None
    detail: list[str] = []
    for row in text.splitlines()[1:]:  # the reason, up to DuckDB's list of fixes/settings
        if not row.strip() or row.startswith(("Possible", " ", "LINE")):
            break
        if not row.startswith("Original Line"):
            detail.append(row.strip())
    shown = os.path.relpath(file.group(1).strip())
    by = f" (read by {where.path})" if where is not None and where.path else ""
    return ExecutionError(
        (" ".join(detail) or "the row cannot be read") + by,
        model=where.model if where else None,
        path=file.group(1).strip() if shown.startswith("..") else shown,
        line=int(line.group(1)),
        hint="fix that row, or set options = { ignore_errors = true } to skip unreadable rows",
    )


def _ragged(csv: tuple[str, str], model: str | None) -> ExecutionError | None:
    """The error naming a CSV source's first ragged row, as plain DuckDB's reader names it."""
    path, delimiter = csv
    found = ragged_row(path, delimiter)
    if found is None:
        return None
    shown = os.path.relpath(path)
    return ExecutionError(
        f"row has {found.fields} fields where the header has {found.expected}",
        model=model,
        path=path if shown.startswith("..") else shown,
        line=found.line,
        hint="fix that row (a missing or extra delimiter, or an unquoted value holding one), "
        "or set options = { null_padding = true } to read short rows with NULLs",
    )


def type_problem(name: str) -> str | None:
    """None when DuckDB can parse ``name`` as a type, else its reason in one line."""
    try:
        duckdb.sqltype(name)
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "not a type"
        return first.split(": ", 1)[-1].split(" Did you mean")[0].rstrip("!.")
    return None
