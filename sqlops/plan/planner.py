"""Make the plan: for every selected node, run or skip, and why."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlops.plan.dag import Dag
from sqlops.plan.fingerprint import Fingerprint, model_fingerprint, source_fingerprint
from sqlops.plan.select import select_models
from sqlops.project.model import Model, ProjectSpec

Action = Literal["run", "skip"]


@dataclass(frozen=True)
class PlannedNode:
    """One source or model in the plan."""

    name: str
    kind: Literal["source", "model"]
    materialized: str
    action: Action
    reason: str
    fingerprint: Fingerprint
    incremental: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "materialized": self.materialized,
            "action": self.action,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Plan:
    """What a build would do, in topological order; making it touches no data."""

    spec: ProjectSpec
    dag: Dag
    nodes: tuple[PlannedNode, ...]

    @property
    def models(self) -> list[PlannedNode]:
        return [n for n in self.nodes if n.kind == "model"]

    @property
    def to_run(self) -> list[PlannedNode]:
        return [n for n in self.nodes if n.action == "run"]

    def read_later(self, name: str) -> bool:
        """Whether another node this plan runs reads the node's output (through views too)."""
        later = self.dag.descendants(name)
        return any(n.action == "run" and n.name in later for n in self.nodes)

    def to_dict(self) -> dict[str, Any]:
        return {"models": [n.to_dict() for n in self.models]}


def make_plan(
    spec: ProjectSpec,
    state: Mapping[str, Mapping[str, Any]],
    existing: set[str],
    *,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    full_refresh: bool = False,
) -> Plan:
    """Compare each node's fingerprint with the last successful build's.

    ``state`` maps node names to ``{"fingerprint": ..., "inputs": ...}`` from the warehouse;
    ``existing`` lists the relations the warehouse has, so a dropped table is rebuilt.
    """
    dag = Dag.from_project(spec)
    selected = select_models(spec, dag, select, exclude)
    salt = uuid.uuid4().hex
    fingerprints: dict[str, str] = {}
    nodes: list[PlannedNode] = []
    for name in dag.order:
        if name in spec.sources:
            fp = source_fingerprint(spec.sources[name], salt, spec.root)
            action, reason = _decide(fp, state.get(name), name in existing, False)
            node = PlannedNode(name, "source", spec.sources[name].format, action, reason, fp)
        else:
            model = spec.models[name]
            upstream = {d: fingerprints[d] for d in model.depends_on}
            fp = model_fingerprint(model, upstream)
            fingerprints[name] = fp.value
            if name not in selected:
                continue
            node = _plan_model(model, fp, state.get(name), name in existing, full_refresh)
        fingerprints[name] = fp.value
        nodes.append(node)
    return Plan(spec=spec, dag=dag, nodes=tuple(nodes))


def _plan_model(
    model: Model,
    fp: Fingerprint,
    previous: Mapping[str, Any] | None,
    exists: bool,
    full_refresh: bool,
) -> PlannedNode:
    action, reason = _decide(fp, previous, exists, full_refresh)
    incremental = False
    if model.materialized == "incremental" and action == "run" and previous and exists:
        inputs = previous.get("inputs", {})
        definition_same = inputs.get("sql") == fp.sql and inputs.get("config") == fp.config
        if definition_same and not full_refresh:
            incremental = True
            reason += " (incremental: new rows only)"
        elif not full_refresh:
            reason += " (full rebuild)"
    return PlannedNode(
        model.name, "model", model.materialized, action, reason, fp, incremental=incremental
    )


def _decide(
    fp: Fingerprint, previous: Mapping[str, Any] | None, exists: bool, full_refresh: bool
) -> tuple[Action, str]:
    if full_refresh:
        return "run", "full refresh"
    if previous is None:
        return "run", "new"
    if not exists:
        return "run", "missing from the warehouse"
    if previous.get("fingerprint") == fp.value:
        return "skip", "unchanged"
    inputs = previous.get("inputs", {})
    if inputs.get("sql") != fp.sql:
        return "run", "SQL changed"
    if inputs.get("config") != fp.config:
        return "run", "config changed"
    before: Mapping[str, str] = inputs.get("upstream", {})
    changed = sorted(n for n, v in fp.upstream.items() if before.get(n) != v)
    if changed:
        more = f" (+{len(changed) - 3} more)" if len(changed) > 3 else ""
        return "run", f"upstream changed: {', '.join(changed[:3])}{more}"
    if inputs.get("data") != fp.data:
        return "run", "input data changed"
    return "run", "fingerprint changed"
