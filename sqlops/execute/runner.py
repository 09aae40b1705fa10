"""Run a plan: nodes in dependency order, independent ones concurrently, each atomically.

A failed node stops its descendants only; how one node is built is in ``nodes``.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from sqlops.errors import SqlopsError
from sqlops.execute import materialize as m
from sqlops.execute.engine import Engine
from sqlops.execute.nodes import BuildContext, build_model, build_source
from sqlops.execute.results import BuildResult, Event, NodeResult, OnEvent, Status
from sqlops.plan.planner import Plan, PlannedNode


def run_plan(
    engine: Engine,
    plan: Plan,
    ctx: BuildContext,
    *,
    threads: int = 4,
    on_event: OnEvent | None = None,
) -> BuildResult:
    """Execute every ``run`` node of the plan; skipped nodes are reported as such."""
    started = time.perf_counter()
    emit = on_event or (lambda _e: None)
    todo = {n.name: n for n in plan.to_run}
    schemas = sorted({name.split(".")[0] for name in todo})
    engine.script("".join(f"CREATE SCHEMA IF NOT EXISTS {m.quote(s)};" for s in schemas))
    emit(Event("plan", total=len(todo)))
    results = {n.name: _result(n, "skipped", plan) for n in plan.nodes if n.action == "skip"}
    waiting = {name: {p for p in plan.dag.parents[name] if p in todo} for name in todo}
    workers = _Workers(engine)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        running: dict[Future[NodeResult], str] = {}

        def submit_ready() -> None:
            for name in [n for n, deps in waiting.items() if not deps]:
                del waiting[name]
                emit(Event("start", name))
                running[pool.submit(_run_node, workers, plan, todo[name], ctx)] = name

        submit_ready()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                result = results[name] = future.result()
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
    workers.close()
    if todo:
        engine.compact_state()
    ordered = tuple(results[n.name] for n in plan.nodes)
    return BuildResult(ctx.run_id, time.perf_counter() - started, ordered, plan)


class _Workers:
    """One DuckDB cursor per pool thread, reused across nodes (opening a cursor and
    registering the macros on it costs far more than a small model)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.local = threading.local()
        self.opened: list[Engine] = []
        self.lock = threading.Lock()

    def get(self) -> Engine:
        worker: Engine | None = getattr(self.local, "engine", None)
        if worker is None:
            worker = self.local.engine = self.engine.fork()
            with self.lock:
                self.opened.append(worker)
        return worker

    def close(self) -> None:
        for worker in self.opened:
            worker.close()


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


def _run_node(workers: _Workers, plan: Plan, node: PlannedNode, ctx: BuildContext) -> NodeResult:
    worker = workers.get()
    started = time.perf_counter()
    try:
        if node.kind == "source":
            out = build_source(worker, plan.spec.sources[node.name], node, ctx)
        else:
            out = build_model(worker, plan.spec.models[node.name], node, ctx)
        result = _result(node, "success", plan)
        seconds = time.perf_counter() - started
        return _with(result, rows=out.rows, objects=out.objects, engine=out.engine, seconds=seconds)
    except SqlopsError as exc:
        result = _result(node, "error", plan)
        return _with(result, error=str(exc), seconds=time.perf_counter() - started)


def _with(result: NodeResult, **changes: Any) -> NodeResult:
    return NodeResult(**{**result.__dict__, **changes})
