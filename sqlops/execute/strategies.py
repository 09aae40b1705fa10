"""How a table model's rows are computed: an ordered list of strategies, each able to decline
the node (as sqlglot's optimizer applies its RULES in order), the last one always taking it.

1. ``polars_executor``: the whole model in Polars (``inpolars``), when every table it reads
   is a Polars input and its SQL is in the checked subset;
2. ``duckdb_over_copied_scans``: DuckDB over copies of the Polars inputs and CSV sources,
   when the plan has a partition-wide window aggregate (faster over a table than a scan);
3. ``duckdb_over_scans``: DuckDB reading the Polars inputs in place of the sources;
4. ``duckdb``: the model's SQL as written, DuckDB reading every source itself.

Polars inputs are opt-in CSV scans (``csvscan``) and Polars results of this build
(``Frames``). Every strategy gives what the last one gives — rows, types, NULLs — or declines;
one that fails (a value the pinned scan cannot parse, a view inlined wrongly) declines too,
so the model's own SQL has the last word and its errors point into the model file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlops.errors import ExecutionError
from sqlops.execute import materialize as m
from sqlops.execute.context import BuildContext, Output
from sqlops.execute.csvscan import polars_scan
from sqlops.execute.engine import Engine
from sqlops.execute.explain import partition_aggregates, scanned_columns
from sqlops.execute.inline import expand, upstream_tables
from sqlops.macros import may_window
from sqlops.project.model import Model

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True)
class Job:
    """One table model to compute, and how ``nodes`` stores what a strategy computes:
    ``write_sql(select, rows_hint)`` stores a query's rows (as a table or an incremental
    append), ``write_frame(frame)`` a Polars result."""

    engine: Engine
    model: Model
    ctx: BuildContext
    incremental: bool
    write_sql: Callable[[str, int | None], Output]
    write_frame: Callable[[pl.DataFrame], Output]
    inputs: Mapping[str, tuple[str, Any]]  # table read -> (registered name, Polars frame)
    fast: str | None  # the SQL reading the registered inputs, if any


def polars_executor(job: Job) -> Output | None:
    """Compute the model in Polars, with the column names and types DuckDB binds the SQL to.
    A value Polars cannot read (a CSV field that breaks its pinned type) declines."""
    if job.fast is None or job.ctx.executor != "auto" or job.incremental:
        return None
    import polars as pl

    from sqlops.execute import inpolars

    inputs = {name: frame.lazy() for name, frame in job.inputs.values()}
    query = inpolars.plan(job.engine.parse_tree(job.fast), inputs)
    if query is None:
        return None
    query = inpolars.named(query, job.engine.output_columns(job.fast))
    if query is None:
        return None
    try:
        frame = inpolars.finish(query.collect(engine="streaming"))  # streaming: ~12% faster
    except (pl.exceptions.PolarsError, OSError):
        return None
    return None if frame is None else job.write_frame(frame)


def duckdb_over_copied_scans(job: Job) -> Output | None:
    """Copy each input scan (only the columns the plan reads) into a temporary table first,
    when the plan runs a partition-wide window aggregate (``zscore``): DuckDB computes that
    over a table as an aggregate joined back to the rows, in parallel, but over a scan it
    can read only once it runs the slower Window operator (0.9 s less at 10M rows). The
    scans: the Polars inputs, and the CSV sources DuckDB's reader reads."""
    if not any(may_window(sql) for sql in _texts(job.model, job.ctx.models)):
        return None  # no window anywhere: skip asking DuckDB for the plan (~2 statements)
    scans = _scans(job)
    if not scans:
        return None
    plan = job.engine.explain(job.fast or job.model.sql)
    if not partition_aggregates(plan):
        return None
    loaded: dict[str, str] = {}
    most = 0
    try:
        for target, (relation, columns) in scans.items():
            loaded[target] = f"__sqlops_copy_{job.ctx.run_id}_{target.replace('.', '_')}"
            select = ", ".join(m.quote(c) for c in scanned_columns(plan, columns))
            rows = job.engine.fetch_value(
                f"CREATE TEMP TABLE {m.quote(loaded[target])} AS SELECT {select} FROM {relation}"
            )
            most = max(most, int(rows or 0))
        sql = expand(job.model, job.ctx.models, loaded)
        return None if sql is None else job.write_sql(sql, most)
    finally:
        for table in loaded.values():
            job.engine.execute(f"DROP TABLE IF EXISTS temp.main.{m.quote(table)}")


def _texts(model: Model, models: Mapping[str, Model]) -> Iterator[str]:
    """The SQL of a model and of the view models it reads through (DuckDB inlines them)."""
    yield model.sql
    for ref in model.reads:
        view = models.get(ref.target)
        if view is not None and view.materialized == "view" and view.kind == "sql":
            yield from _texts(view, models)


def _scans(job: Job) -> dict[str, tuple[str, list[str]]]:
    """``{table read: (relation to copy from, its columns)}``: the registered Polars inputs
    and the CSV sources of the model without one (read through their views)."""
    found = {
        target: (m.quote(name), list(frame.collect_schema()))
        for target, (name, frame) in job.inputs.items()
    }
    for target in sorted(upstream_tables(job.model, job.ctx.models) - set(found)):
        source = job.ctx.sources.get(target)
        if source is not None and source.format == "csv":
            relation = m.qualified(target)
            columns = job.engine.output_columns(f"SELECT * FROM {relation}")
            found[target] = (relation, [name for name, _ in columns])
    return found


def duckdb_over_scans(job: Job) -> Output | None:
    return None if job.fast is None else job.write_sql(job.fast, None)


def duckdb(job: Job) -> Output:
    return job.write_sql(job.model.sql, None)


# tried in order; ``duckdb``, which never declines, has the last word after them
STRATEGIES: tuple[Callable[[Job], Output | None], ...] = (
    polars_executor,
    duckdb_over_copied_scans,
    duckdb_over_scans,
)


def compute(
    engine: Engine,
    model: Model,
    ctx: BuildContext,
    incremental: bool,
    write_sql: Callable[[str, int | None], Output],
    write_frame: Callable[[pl.DataFrame], Output],
) -> Output:
    """The model's output from the first strategy that takes it."""
    with _registered(engine, _inputs(engine, model, ctx)) as inputs:
        names = {target: name for target, (name, _) in inputs.items()}
        fast = expand(model, ctx.models, names) if inputs else None
        job = Job(engine, model, ctx, incremental, write_sql, write_frame, inputs, fast)
        for strategy in STRATEGIES:
            try:
                out = strategy(job)
            except _declines(inputs):
                continue
            if out is not None:
                return out
        return duckdb(job)


def _declines(inputs: Mapping[str, Any]) -> tuple[type[Exception], ...]:
    """What a failing strategy raises: DuckDB's errors, and Polars' when it reads inputs
    (Polars is imported only then: a build without Polars inputs never loads it)."""
    if not inputs:
        return (ExecutionError,)
    import polars as pl

    return (ExecutionError, pl.exceptions.PolarsError, OSError)


def _inputs(engine: Engine, model: Model, ctx: BuildContext) -> dict[str, tuple[str, Any]]:
    """The Polars inputs of a model, by table it reads (directly or through view models):
    scans of its CSV sources when the Polars reader is chosen, and the frames of tables
    computed in Polars earlier in this build."""
    if model.kind != "sql":
        return {}
    found: dict[str, tuple[str, Any]] = {}
    prefix = f"__sqlops_in_{ctx.run_id}_"
    for target in sorted(upstream_tables(model, ctx.models)):
        source = ctx.sources.get(target)
        if source is not None and source.format == "csv" and ctx.csv_reader == "polars":
            frame: Any = polars_scan(engine, source, ctx.sniffs)
        else:
            frame = ctx.frames.get(target)
        if frame is not None:
            found[target] = (prefix + target.replace(".", "_"), frame)
    return found


@contextlib.contextmanager
def _registered(
    engine: Engine, inputs: Mapping[str, tuple[str, Any]]
) -> Iterator[dict[str, tuple[str, Any]]]:
    """The inputs DuckDB could register (one it refuses is left to DuckDB's own reader),
    unregistered at the end; a failure to unregister never hides the error that ended
    the block."""
    done: dict[str, tuple[str, Any]] = {}
    try:
        for target, (name, frame) in inputs.items():
            with contextlib.suppress(ExecutionError):
                engine.register(name, frame)
                done[target] = (name, frame)
        yield done
    except BaseException:
        for name, _ in done.values():
            with contextlib.suppress(ExecutionError):
                engine.unregister(name)
        raise
    for name, _ in done.values():
        engine.unregister(name)
