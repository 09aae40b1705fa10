"""Build one node: write its rows to Parquet objects (parts), then publish a view over them.

Publishing is one DuckDB transaction (drop a relation of another kind, create the view,
append the state row), so a crash or a failed model leaves the previous version in place.
Views read only immutable objects, so readers never see a half-written table.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlops.errors import ExecutionError
from sqlops.execute import materialize as m
from sqlops.execute.engine import Engine, Where
from sqlops.execute.external import read_sqlite
from sqlops.execute.fastcsv import (
    expand,
    partition_aggregates,
    polars_scan,
    scanned_columns,
    upstream_tables,
)
from sqlops.execute.objects import (
    Guess,
    ObjectStore,
    write_frame_parts,
    write_parts,
    write_typed_parts,
)
from sqlops.plan.planner import PlannedNode
from sqlops.project.model import Model, Source

if TYPE_CHECKING:
    import polars as pl

_FILE_FORMATS = ("csv", "parquet", "json", "ndjson")
FRAME_BUDGET = 2 << 30  # bytes of Polars results a build keeps for the models that read them


class Frames:
    """Tables this build computed in Polars, kept in memory for the models of the same
    build that read them (they then skip reading the parts back), up to a byte budget.
    Only tables that a model still to run reads are kept (``readers(name)``)."""

    def __init__(
        self, readers: Callable[[str], bool] = lambda _: False, budget: int = FRAME_BUDGET
    ) -> None:
        self.readers = readers
        self.budget = budget
        self.frames: dict[str, pl.DataFrame] = {}
        self.lock = threading.Lock()

    def keep(self, name: str, frame: pl.DataFrame) -> None:
        size = int(frame.estimated_size())
        if size > self.budget or not self.readers(name):
            return
        with self.lock:
            if size <= self.budget:
                self.budget -= size
                self.frames[name] = frame

    def get(self, name: str) -> pl.DataFrame | None:
        return self.frames.get(name)


class KnownColumns:
    """Every table's columns as the warehouse has them when the build starts (one query,
    on first use): a table model's guess of its result's types, which the statement that
    writes it checks (``write_typed_parts``)."""

    def __init__(self) -> None:
        self.tables: dict[str, tuple[tuple[str, str], ...]] | None = None
        self.keywords: frozenset[str] = frozenset()
        self.lock = threading.Lock()

    def get(self, engine: Engine, name: str) -> Guess | None:
        with self.lock:
            if self.tables is None:
                self.tables = engine.all_columns()
                self.keywords = engine.keywords()
            columns = self.tables.get(name)
        return None if columns is None else Guess(columns, m.row_type(columns, self.keywords))


@dataclass(frozen=True)
class BuildContext:
    """What every node build needs besides its own engine cursor."""

    objects: ObjectStore
    run_id: str
    existing: Mapping[str, str]
    state: Mapping[str, Mapping[str, Any]]
    sources: Mapping[str, Source] = field(default_factory=dict)
    models: Mapping[str, Model] = field(default_factory=dict)
    csv_reader: str = "auto"
    executor: str = "auto"
    frames: Frames = field(default_factory=Frames)
    known: KnownColumns = field(default_factory=KnownColumns)


@dataclass(frozen=True)
class Output:
    """A node's published result."""

    rows: int | None
    objects: tuple[str, ...] = ()
    engine: str = "duckdb"


def build_source(engine: Engine, source: Source, node: PlannedNode, ctx: BuildContext) -> Output:
    """Files become a view over DuckDB's reader; other sources are copied into an object."""
    where = Where(model=source.name)
    if source.format in _FILE_FORMATS:
        _publish(engine, node, _source_view(engine, source), Output(None), ctx, where)
        return Output(None)
    staged = f"__sqlops_src_{ctx.run_id}_{source.name.replace('.', '_')}"
    if source.format == "duckdb":
        alias = staged + "_db"
        engine.execute(f"ATTACH {m.literal(source.location)} AS {m.quote(alias)} (READ_ONLY)")
        try:
            table = m.qualified(source.table or source.name)
            return _write_table(engine, node, f"SELECT * FROM {m.quote(alias)}.{table}", ctx, where)
        finally:
            engine.execute(f"DETACH {m.quote(alias)}")
    frame = source.frame if source.is_frame else read_sqlite(source)
    return _with_frame(engine, node, staged, frame, ctx, where)


def _source_view(engine: Engine, source: Source) -> str:
    """The SELECT of a file source's view. For one CSV file, the sniffer's findings are
    written into it (columns, types, dialect): DuckDB otherwise sniffs the file again each
    time a statement over the view is bound, ~60 ms for a large file, in every view and
    query built on it. A later build re-sniffs when the file changes (its fingerprint
    covers the file's stats); globs and hive folders keep the live reader."""
    select = m.source_select(source)
    if source.format != "csv" or source.hive or any(c in source.location for c in "*?["):
        return select
    try:
        prompt = engine.fetch_value(m.sniff_select(source))
    except ExecutionError:
        return select  # creating the view reports the problem, as it always has
    return m.pinned_select(str(prompt), source) or select


def build_model(engine: Engine, model: Model, node: PlannedNode, ctx: BuildContext) -> Output:
    where = Where(path=model.path, body_line=model.body_line, prefix_lines=1, model=model.name)
    if model.kind == "python":
        staged = f"__sqlops_py_{ctx.run_id}_{model.name.replace('.', '_')}"
        frame = _call_python(engine, model)
        return _with_frame(
            engine, node, staged, frame, ctx, Where(path=model.path, model=model.name)
        )
    if model.materialized == "view":
        _publish(engine, node, model.sql, Output(None), ctx, where)
        return Output(None)
    scans = _inputs(model, ctx)
    fast = expand(model, ctx.models, {t: name for t, (name, _) in scans.items()})
    if fast is None:
        return _table_model(engine, model, node, ctx, where, model.sql)
    for name, scan in scans.values():
        engine.register(name, scan)
    loaded: dict[str, str] = {}
    try:
        if ctx.executor == "auto" and not node.incremental:
            out = _in_polars(engine, node, fast, scans, ctx, where)
            if out is not None:
                return out
        plan = engine.explain(fast)
        if partition_aggregates(plan):
            loaded, rows = _load_scans(engine, plan, scans)
            fast = expand(model, ctx.models, loaded) or fast
            return _table_model(engine, model, node, ctx, where, fast, rows)
        return _table_model(engine, model, node, ctx, where, fast)
    except ExecutionError:
        # Polars and DuckDB infer CSV types differently, and inlining views moves lines:
        # the plain SQL has the last word, and its errors point into the model file.
        return _table_model(engine, model, node, ctx, where, model.sql)
    finally:
        for table in loaded.values():
            engine.execute(f"DROP TABLE IF EXISTS temp.main.{m.quote(table)}")
        for name, _ in scans.values():
            engine.unregister(name)


def _in_polars(
    engine: Engine,
    node: PlannedNode,
    sql: str,
    scans: Mapping[str, tuple[str, Any]],
    ctx: BuildContext,
    where: Where,
) -> Output | None:
    """Compute the model in Polars if ``inpolars`` can, with the column names and types
    DuckDB binds the SQL to; None to let DuckDB run it. A value Polars cannot read (a CSV
    row that breaks its inferred types) also leaves the model to DuckDB, whose reader
    and error messages have the last word."""
    import polars as pl

    from sqlops.execute import inpolars

    inputs = {name: frame.lazy() for name, frame in scans.values()}
    tree = engine.parse_tree(sql)
    try:
        query = inpolars.plan(tree, inputs)
        query = query if query is None else inpolars.named(query, engine.output_columns(sql))
        if query is None:
            return None
        frame = query.collect(engine="streaming")  # ~12% faster over a CSV here
    except (pl.exceptions.PolarsError, OSError):
        return None
    parts = write_frame_parts(engine, frame, ctx.objects, node.name)
    out = Output(frame.height, parts, engine="polars")
    _publish(engine, node, _parts_select(parts, ctx, one_schema=True), out, ctx, where)
    ctx.frames.keep(node.name, frame)
    return out


def _load_scans(
    engine: Engine, plan: list[dict[str, Any]], scans: Mapping[str, tuple[str, Any]]
) -> tuple[dict[str, str], int]:
    """Copy each scan (only the columns the plan reads) into a temporary table:
    ``({source: table}, most rows)``. DuckDB computes a partition-wide window aggregate
    (``zscore``) over a table as an aggregate joined back to the rows, in parallel, but over
    a scan it can read only once it runs the slower Window operator: the copy pays for
    itself (0.9 s less at 10M rows, tests/bench/test_seed_etl.py)."""
    loaded: dict[str, str] = {}
    most = 0
    for target, (name, scan) in scans.items():
        columns = scanned_columns(plan, list(scan.collect_schema()))
        table = f"{name}_loaded"
        loaded[target] = table
        select = ", ".join(m.quote(c) for c in columns)
        rows = engine.fetch_value(
            f"CREATE TEMP TABLE {m.quote(table)} AS SELECT {select} FROM {m.quote(name)}"
        )
        most = max(most, int(rows or 0))
    return loaded, most


def _table_model(
    engine: Engine,
    model: Model,
    node: PlannedNode,
    ctx: BuildContext,
    where: Where,
    sql: str,
    rows_hint: int | None = None,
) -> Output:
    """``rows_hint``: about how many rows to expect when no previous build says."""
    if node.incremental:
        return _incremental(engine, model, node, ctx, where, sql)
    return _write_table(engine, node, sql, ctx, where, rows_hint)


def _inputs(model: Model, ctx: BuildContext) -> dict[str, tuple[str, Any]]:
    """What a table model can read without DuckDB's own readers, by table it reads
    (directly or through view models): Polars scans of its CSV sources, and the frames of
    tables computed in Polars earlier in this build."""
    if model.kind != "sql":
        return {}
    found: dict[str, tuple[str, Any]] = {}
    prefix = f"__sqlops_in_{ctx.run_id}_"
    for target in sorted(upstream_tables(model, ctx.models)):
        source = ctx.sources.get(target)
        if source is not None and source.format == "csv" and ctx.csv_reader != "duckdb":
            frame: Any = polars_scan(source)
        else:
            frame = ctx.frames.get(target)
        if frame is not None:
            found[target] = (prefix + target.replace(".", "_"), frame)
    return found


def _write_table(
    engine: Engine,
    node: PlannedNode,
    select: str,
    ctx: BuildContext,
    where: Where,
    rows_hint: int | None = None,
) -> Output:
    """Write the rows to new parts and publish a view over them (the parts of one query
    share its schema, so the view need not union them by name: every query of it would
    read each part's footer to bind)."""
    expected = ctx.state.get(node.name, {}).get("rows", rows_hint)
    guess = ctx.known.get(engine, node.name)
    written = write_typed_parts(
        engine, select, ctx.objects, node.name, where, expected, guess=guess
    )
    out = Output(written.rows, written.parts)
    view = _parts_select(written.parts, ctx, one_schema=True, columns=written.columns)
    _publish(engine, node, view, out, ctx, where)
    return out


def _parts_select(
    parts: Sequence[str],
    ctx: BuildContext,
    one_schema: bool = False,
    columns: Sequence[tuple[str, str]] = (),
) -> str:
    """A view over parts; ``columns`` (the true types) cast back what the parts store as
    another type."""
    paths = [ctx.objects.relative(p) for p in parts]
    return m.parts_select(paths, union_by_name=False if one_schema else None, columns=columns)


def _publish(
    engine: Engine,
    node: PlannedNode,
    select: str,
    out: Output,
    ctx: BuildContext,
    where: Where,
) -> None:
    fp = node.fingerprint
    with engine.transaction():
        old = ctx.existing.get(node.name)
        if old is not None and old != "view":
            engine.execute(m.drop_relation(node.name, old.upper()))
        engine.execute(m.create_view(node.name, select), where=where)
        engine.execute(
            m.state_insert(),
            m.state_params(
                node.name,
                fp.value,
                fp.parts(),
                node.materialized,
                out.objects,
                out.rows,
                ctx.run_id,
            ),
        )


def _incremental(
    engine: Engine, model: Model, node: PlannedNode, ctx: BuildContext, where: Where, sql: str
) -> Output:
    """Compute only new rows; append them as a part, or upsert by key when keys overlap."""
    previous = tuple(ctx.state.get(model.name, {}).get("objects", ()))
    cursor_value = None
    if model.cursor:
        cursor_value = engine.fetch_value(
            f"SELECT max({m.quote(model.cursor)}) FROM {m.qualified(model.name)}"
        )
    select = m.incremental_select(sql, model.cursor, cursor_value)
    written = write_typed_parts(engine, select, ctx.objects, model.name, where)
    new_parts, new_rows, columns = written.parts, written.rows, written.columns
    # the true types of the previous parts (their view's) and of the new rows: the view
    # over both casts each column back to the newer type (written.columns leaves out
    # types that need no restoring, but here a column's old type may differ)
    old = tuple(engine.columns(model.name).items()) if previous else ()
    if old and not columns:
        columns = tuple(engine.describe(select, where))
    typed = _Typed(old, tuple(columns))
    parts = _merge_parts(engine, model, previous, new_parts, new_rows, ctx, typed)
    restore = old if new_rows == 0 else _combined(engine, old, tuple(columns))
    select = _parts_select(parts, ctx, columns=restore)
    total = engine.fetch_value(f"SELECT count(*) FROM ({select})")
    out = Output(int(total or 0), parts)
    _publish(engine, node, select, out, ctx, where)
    return Output(new_rows, parts)


def _combined(
    engine: Engine, old: tuple[tuple[str, str], ...], new: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str], ...]:
    """The types of old and new rows read together: as DuckDB unites them (UNION ALL BY
    NAME) when a column's type changed, so the view's casts give what DuckDB would."""
    before = dict(old)
    if all(before.get(c, t) == t for c, t in new):
        return tuple({**before, **dict(new)}.items())

    def nulls(columns: tuple[tuple[str, str], ...]) -> str:
        return ", ".join(f"CAST(NULL AS {t}) AS {m.quote(c)}" for c, t in columns)

    return tuple(engine.describe(f"SELECT {nulls(old)} UNION ALL BY NAME SELECT {nulls(new)}"))


@dataclass(frozen=True)
class _Typed:
    """The true ``(name, type)``s of an incremental model's previous parts and new ones."""

    old: tuple[tuple[str, str], ...]
    new: tuple[tuple[str, str], ...]


def _merge_parts(
    engine: Engine,
    model: Model,
    previous: Sequence[str],
    new_parts: Sequence[str],
    new_rows: int,
    ctx: BuildContext,
    typed: _Typed,
) -> tuple[str, ...]:
    """The model's parts after this run: the new ones appended (only they are new bytes);
    when new keys match old rows, the old parts holding those keys are rewritten without
    them (an upsert) and every other part is kept as it is."""
    if new_rows == 0:
        return tuple(previous)
    if not model.unique_key or not previous:
        return (*previous, *new_parts)
    new_sql = _parts_select(new_parts, ctx, columns=typed.new)
    match = m.key_match(model.unique_key)
    touched = [
        part
        for part in previous
        if engine.fetch_value(
            f"SELECT count(*) FROM ({_parts_select([part], ctx, columns=typed.old)}) o "
            f"WHERE EXISTS (SELECT 1 FROM ({new_sql}) n WHERE {match})"
        )
    ]
    if not touched:
        return (*previous, *new_parts)
    old_sql = _parts_select(touched, ctx, columns=typed.old)
    merged = (
        f"SELECT * FROM ({old_sql}) o WHERE NOT EXISTS (SELECT 1 FROM ({new_sql}) n WHERE {match})"
        f"\nUNION ALL BY NAME {new_sql}"
    )
    where = Where(path=model.path, model=model.name)
    expected = ctx.state.get(model.name, {}).get("rows")
    try:
        parts, _ = write_parts(engine, merged, ctx.objects, model.name, where, expected)
    except ExecutionError as exc:
        raise ExecutionError(
            f"incremental merge into {model.name} failed: {exc.message}",
            model=model.name,
            path=model.path,
            hint="if the model's columns changed, rebuild it with --full-refresh",
        ) from exc
    return (*(p for p in previous if p not in touched), *parts)


def _with_frame(
    engine: Engine, node: PlannedNode, staged: str, frame: Any, ctx: BuildContext, where: Where
) -> Output:
    engine.register(staged, frame)
    try:
        return _write_table(engine, node, f"SELECT * FROM {m.quote(staged)}", ctx, where)
    finally:
        engine.unregister(staged)


def _call_python(engine: Engine, model: Model) -> Any:
    assert model.func is not None
    inputs = [engine.lazy(name) for name in model.depends_on]
    try:
        output = model.func(*inputs)
    except Exception as exc:  # the user's code failed: point at their line
        raise ExecutionError(
            f"python model raised {type(exc).__name__}: {exc}",
            model=model.name,
            path=model.path,
            line=_user_line(exc, model.path),
        ) from exc
    if not _is_frame(output):
        raise ExecutionError(
            f"python model returned {type(output).__name__}",
            model=model.name,
            path=model.path,
            line=model.body_line,
            hint="return a Polars DataFrame or LazyFrame (pandas and Arrow tables work too)",
        )
    return output


def _is_frame(value: Any) -> bool:
    kind = type(value)
    return kind.__module__.split(".")[0] in ("polars", "pandas", "pyarrow") and kind.__name__ in (
        "DataFrame",
        "LazyFrame",
        "Table",
    )


def _user_line(exc: BaseException, path: Path) -> int | None:
    for frame, line in reversed(list(traceback.walk_tb(exc.__traceback__))):
        if Path(frame.f_code.co_filename).name == path.name:
            return line
    return None
