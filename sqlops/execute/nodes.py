"""Build one node: write its rows to Parquet objects (parts), then publish a view over them.

Publishing is one DuckDB transaction (drop a relation of another kind, create the view,
append the state row), so a crash or a failed model leaves the previous version in place.
Views read only immutable objects, so readers never see a half-written table.
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlops.errors import ExecutionError
from sqlops.execute import materialize as m
from sqlops.execute import strategies
from sqlops.execute.context import FRAME_BUDGET, BuildContext, Frames, Output
from sqlops.execute.engine import Engine, Where
from sqlops.execute.external import read_sqlite
from sqlops.execute.parts import write_frame_parts, write_parts, write_typed_parts
from sqlops.plan.planner import PlannedNode
from sqlops.project.keys import check_keys
from sqlops.project.model import Model, Source

if TYPE_CHECKING:
    import polars as pl

__all__ = ["FRAME_BUDGET", "BuildContext", "Frames", "Output", "build_model", "build_source"]
_FILE_FORMATS = ("csv", "parquet", "json", "ndjson")


def build_source(engine: Engine, source: Source, node: PlannedNode, ctx: BuildContext) -> Output:
    """Files become a view over DuckDB's reader; other sources are copied into an object."""
    delim = str(source.options.get("delim") or source.options.get("sep") or ",")
    csv = (source.location, delim) if source.format == "csv" else None
    where = Where(model=source.name, csv=csv)
    if source.format in _FILE_FORMATS:
        _publish(engine, node, _source_view(engine, source, ctx), Output(None), ctx, where)
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


def _source_view(engine: Engine, source: Source, ctx: BuildContext) -> str:
    """The SELECT of a file source's view. For one CSV file, the sniffer's findings are
    written into it (columns, types, dialect): DuckDB otherwise sniffs the file again each
    time a statement over the view is bound, ~60 ms for a large file, in every view and
    query built on it. A later build re-sniffs when the file changes (its fingerprint
    covers the file's stats); globs and hive folders keep the live reader."""
    select = m.source_select(source)
    if source.format != "csv" or source.hive or any(c in source.location for c in "*?["):
        return select
    sniffed = ctx.sniffs.get(engine, source)
    if sniffed is None:
        return select  # creating the view reports the problem, as it always has
    # A pinned date or time format reads some values differently from the detecting reader
    # (``inf`` is DuckDB's infinite DATE only while detecting): keep the live reader then.
    kinds = {str(c["type"]) for c in sniffed.get("Columns") or ()}
    if kinds & {"DATE", "TIME", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE"}:
        return select
    return m.pinned_select(str(sniffed.get("Prompt")), source) or select


def build_model(engine: Engine, model: Model, node: PlannedNode, ctx: BuildContext) -> Output:
    where = Where(path=model.path, body_line=model.body_line, prefix_lines=1, model=model.name)
    if model.kind == "python":
        staged = f"__sqlops_py_{ctx.run_id}_{model.name.replace('.', '_')}"
        frame = _call_python(engine, model)
        if model.materialized == "incremental":
            check_keys(model, _frame_columns(frame))
        return _with_frame(
            engine, node, staged, frame, ctx, Where(path=model.path, model=model.name)
        )
    if model.materialized == "view":
        _publish(engine, node, model.sql, Output(None), ctx, where)
        return Output(None)
    if model.materialized == "incremental":  # every build, whichever way it runs
        with contextlib.suppress(ExecutionError):  # SQL that does not bind fails below
            check_keys(model, [name for name, _ in engine.output_columns(model.sql)])

    def write_sql(sql: str, rows_hint: int | None) -> Output:
        return _table_model(engine, model, node, ctx, where, sql, rows_hint)

    def write_frame(frame: pl.DataFrame) -> Output:
        parts = write_frame_parts(engine, frame, ctx.objects, node.name)
        out = Output(frame.height, parts, engine="polars")
        _publish(engine, node, _parts_select(parts, ctx, one_schema=True), out, ctx, where)
        ctx.frames.keep(node.name, frame)
        return out

    return strategies.compute(engine, model, ctx, node.incremental, write_sql, write_frame)


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
        engine,
        select,
        ctx.objects,
        node.name,
        where,
        expected,
        guess=guess,
        sample=ctx.samples.get(node.name),
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
    """Absolute paths, so the warehouse opens from any folder in any DuckDB client (a moved
    project's views are re-pointed when sqlops next opens it); ``columns`` (the true types)
    cast back what the parts store as another type."""
    paths = [str(ctx.objects.path(p)) for p in parts]
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
    if ctx.gate is not None:
        ctx.gate(engine, node.name, select)
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
    known = ctx.known.get(engine, model.name) if previous else None
    old = known.columns if known is not None else ()
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


def _frame_columns(frame: Any) -> list[str]:
    """Column names of a Polars (Lazy)Frame, pandas or Arrow table, without computing it."""
    if hasattr(frame, "collect_schema"):
        return list(frame.collect_schema().names())
    return [str(c) for c in getattr(frame, "column_names", None) or frame.columns]


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
