"""Run a plan: nodes in dependency order, independent ones concurrently, each atomically.

Each node's output and its fingerprint are written in one DuckDB transaction, so an
interrupted build leaves every table either as it was or fully rebuilt, and the next
plan sees exactly what is in the warehouse. A failed node stops its descendants only.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlops.errors import ExecutionError, SqlopsError
from sqlops.execute import materialize as m
from sqlops.execute.engine import Engine, Where
from sqlops.execute.external import read_sqlite
from sqlops.plan.planner import Plan, PlannedNode
from sqlops.project.model import Model, Source

Status = Literal["success", "error", "skipped", "upstream_failed"]


@dataclass(frozen=True)
class NodeResult:
    """What happened to one source or model in a build."""

    name: str
    kind: str
    materialized: str
    status: Status
    reason: str
    rows: int | None = None
    seconds: float = 0.0
    error: str | None = None
    fingerprint: str = ""
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Event:
    """Progress reported to ``on_event``: a node started or finished."""

    kind: Literal["plan", "start", "finish"]
    name: str = ""
    total: int = 0
    result: NodeResult | None = None


@dataclass(frozen=True)
class BuildResult:
    """The outcome of a build: one NodeResult per planned node, in plan order."""

    run_id: str
    seconds: float
    nodes: tuple[NodeResult, ...]
    plan: Plan | None = field(default=None, repr=False)

    @property
    def models(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.kind == "model"]

    @property
    def ok(self) -> bool:
        return all(n.status in ("success", "skipped") for n in self.nodes)

    def raise_on_error(self) -> BuildResult:
        """Raise BuildFailed if any model failed; return self otherwise (for chaining)."""
        if not self.ok:
            from sqlops.errors import BuildFailed

            raise BuildFailed(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "seconds": round(self.seconds, 3),
            "ok": self.ok,
            "models": [n.to_dict() for n in self.models],
            "sources": [n.to_dict() for n in self.nodes if n.kind == "source"],
        }


OnEvent = Callable[[Event], None]


def run_plan(
    engine: Engine,
    plan: Plan,
    run_id: str,
    *,
    threads: int = 4,
    on_event: OnEvent | None = None,
) -> BuildResult:
    """Execute every ``run`` node of the plan; skipped nodes are reported as such."""
    started = time.perf_counter()
    emit = on_event or (lambda _e: None)
    engine.ensure_state()
    existing = engine.relations()
    todo = {n.name: n for n in plan.to_run}
    schemas = sorted({name.split(".")[0] for name in todo})
    engine.script("".join(f"CREATE SCHEMA IF NOT EXISTS {m.quote(s)};" for s in schemas))
    emit(Event("plan", total=len(todo)))
    results: dict[str, NodeResult] = {}
    for node in plan.nodes:
        if node.action == "skip":
            results[node.name] = _result(node, "skipped", plan)
    waiting = {name: {p for p in plan.dag.parents[name] if p in todo} for name in todo}
    with ThreadPoolExecutor(max_workers=threads) as pool:
        running: dict[Future[NodeResult], str] = {}

        def submit_ready() -> None:
            for name in [n for n, deps in waiting.items() if not deps]:
                del waiting[name]
                emit(Event("start", name))
                running[pool.submit(_run_node, engine, plan, todo[name], run_id, existing)] = name

        submit_ready()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                result = future.result()
                results[name] = result
                emit(Event("finish", name, result=result))
                if result.status == "error":
                    for child in sorted(plan.dag.descendants(name) & waiting.keys()):
                        del waiting[child]
                        skipped = _result(todo[child], "upstream_failed", plan, f"{name} failed")
                        results[child] = skipped
                        emit(Event("finish", child, result=skipped))
                for deps in waiting.values():
                    deps.discard(name)
            submit_ready()
    ordered = tuple(results[n.name] for n in plan.nodes)
    return BuildResult(run_id, time.perf_counter() - started, ordered, plan)


def _result(node: PlannedNode, status: Status, plan: Plan, reason: str | None = None) -> NodeResult:
    path = plan.spec.models[node.name].path.as_posix() if node.kind == "model" else None
    return NodeResult(
        node.name,
        node.kind,
        node.materialized,
        status,
        reason or node.reason,
        fingerprint=node.fingerprint.value,
        path=path,
    )


def _run_node(
    engine: Engine, plan: Plan, node: PlannedNode, run_id: str, existing: dict[str, str]
) -> NodeResult:
    worker = engine.fork()
    started = time.perf_counter()
    try:
        if node.kind == "source":
            rows = _build_source(worker, plan.spec.sources[node.name], node, run_id, existing)
        else:
            rows = _build_model(worker, plan.spec.models[node.name], node, run_id, existing)
        result = _result(node, "success", plan)
        return _with(result, rows=rows, seconds=time.perf_counter() - started)
    except SqlopsError as exc:
        result = _result(node, "error", plan)
        return _with(result, error=str(exc), seconds=time.perf_counter() - started)
    finally:
        worker.close()


def _with(result: NodeResult, **changes: Any) -> NodeResult:
    return NodeResult(**{**result.__dict__, **changes})


def _state(engine: Engine, node: PlannedNode, run_id: str) -> None:
    fp = node.fingerprint
    engine.execute(
        m.state_upsert(),
        m.state_params(node.name, fp.value, fp.parts(), node.materialized, run_id),
    )


def _replace_kind(engine: Engine, name: str, new_kind: str, existing: dict[str, str]) -> None:
    """Drop a relation of the other kind first: DuckDB won't replace a view with a table."""
    old = existing.get(name)
    if old is not None and old != new_kind:
        engine.execute(m.drop_relation(name, old.upper()))


def _build_source(
    engine: Engine, source: Source, node: PlannedNode, run_id: str, existing: dict[str, str]
) -> int | None:
    where = Where(model=source.name)
    if source.format in ("csv", "parquet", "json", "ndjson"):
        with engine.transaction():
            _replace_kind(engine, source.name, "view", existing)
            engine.execute(m.create_view(source.name, m.source_select(source)), where=where)
            _state(engine, node, run_id)
        return None
    staged = f"__sqlops_src_{run_id}_{source.name.replace('.', '_')}"
    if source.format == "duckdb":
        alias = staged + "_db"
        engine.execute(f"ATTACH {m.literal(source.location)} AS {m.quote(alias)} (READ_ONLY)")
        select = f"SELECT * FROM {m.quote(alias)}.{m.qualified(source.table or source.name)}"
        try:
            return _copy_table(engine, source.name, select, node, run_id, existing, where)
        finally:
            engine.execute(f"DETACH {m.quote(alias)}")
    frame = source.frame if source.is_frame else read_sqlite(source)
    engine.register(staged, frame)
    try:
        select = f"SELECT * FROM {m.quote(staged)}"
        return _copy_table(engine, source.name, select, node, run_id, existing, where)
    finally:
        engine.unregister(staged)


def _copy_table(
    engine: Engine,
    name: str,
    select: str,
    node: PlannedNode,
    run_id: str,
    existing: dict[str, str],
    where: Where,
) -> int:
    with engine.transaction():
        _replace_kind(engine, name, "table", existing)
        rows = engine.fetch_value(m.create_table(name, select), where=where)
        _state(engine, node, run_id)
    return int(rows or 0)


def _build_model(
    engine: Engine, model: Model, node: PlannedNode, run_id: str, existing: dict[str, str]
) -> int | None:
    where = Where(path=model.path, body_line=model.body_line, prefix_lines=1, model=model.name)
    if model.kind == "python":
        return _build_python(engine, model, node, run_id, existing)
    if model.materialized == "view":
        with engine.transaction():
            _replace_kind(engine, model.name, "view", existing)
            engine.execute(m.create_view(model.name, model.sql), where=where)
            _state(engine, node, run_id)
        return None
    if node.incremental:
        cursor_value = None
        if model.cursor:
            cursor_value = engine.fetch_value(
                f"SELECT max({m.quote(model.cursor)}) FROM {m.qualified(model.name)}"
            )
        staged = f"__sqlops_new_{run_id}_{model.name.replace('.', '_')}"
        select = m.incremental_select(model, cursor_value)
        engine.execute(f"CREATE TEMP TABLE {m.quote(staged)} AS\n{select}", where=where)
        try:
            return _merge(engine, model, staged, node, run_id)
        finally:
            engine.execute(f"DROP TABLE IF EXISTS temp.{m.quote(staged)}")
    return _copy_table(engine, model.name, model.sql, node, run_id, existing, where)


def _merge(engine: Engine, model: Model, staged: str, node: PlannedNode, run_id: str) -> int:
    rows = int(engine.fetch_value(f"SELECT count(*) FROM temp.{m.quote(staged)}") or 0)
    where = Where(path=model.path, model=model.name)
    with engine.transaction():
        for statement in m.upsert(model.name, staged, model.unique_key):
            try:
                engine.execute(statement, where=where)
            except ExecutionError as exc:
                raise ExecutionError(
                    f"incremental merge into {model.name} failed: {exc.message}",
                    model=model.name,
                    path=model.path,
                    hint="if the model's columns changed, rebuild it with --full-refresh",
                ) from exc
        _state(engine, node, run_id)
    return rows


def _build_python(
    engine: Engine, model: Model, node: PlannedNode, run_id: str, existing: dict[str, str]
) -> int:
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
    staged = f"__sqlops_py_{run_id}_{model.name.replace('.', '_')}"
    engine.register(staged, output)
    try:
        if node.incremental:
            return _merge(engine, model, staged, node, run_id)
        select = f"SELECT * FROM {m.quote(staged)}"
        where = Where(path=model.path, model=model.name)
        return _copy_table(engine, model.name, select, node, run_id, existing, where)
    finally:
        engine.unregister(staged)


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
