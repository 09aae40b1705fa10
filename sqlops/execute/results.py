"""What a build reports: per-node results, progress events, the build result.

Kept apart from the runner so that reading a result (or a no-op build) never imports DuckDB.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from sqlops.plan.planner import Plan

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
    objects: tuple[str, ...] = ()
    engine: str = ""  # what computed the rows: "duckdb", or "polars" (``inpolars``)

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


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
    # the contract results of the outputs validated before publishing (governance's records)
    checks: tuple[Any, ...] = ()

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
            "checks": [c.to_dict() for c in self.checks],
        }


OnEvent = Callable[[Event], None]
