"""What the project is made of and what ran: ``ls``, lineage (of models and columns), runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlops.api.base import ProjectBase
from sqlops.errors import UnknownTableError, did_you_mean
from sqlops.plan.dag import Dag
from sqlops.project.filehash import portable
from sqlops.project.model import ProjectSpec


@dataclass(frozen=True)
class Lineage:
    """Upstream and downstream trees of a model, and optionally one column's whole path
    (``column_upstream``), its first sources and the columns a change to it would reach."""

    model: str
    upstream: dict[str, Any]
    downstream: dict[str, Any]
    column: str | None = None
    column_sources: list[tuple[str, str]] = field(default_factory=list)
    column_upstream: dict[str, Any] = field(default_factory=dict)
    column_downstream: dict[str, Any] = field(default_factory=dict)
    columns_reached: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "upstream": self.upstream,
            "downstream": self.downstream,
        }
        if self.column is not None:
            out["column"] = self.column
            out["column_sources"] = [{"table": t, "column": c} for t, c in self.column_sources]
            out["column_upstream"] = self.column_upstream
            out["column_downstream"] = self.column_downstream
            out["columns_reached"] = [{"table": t, "column": c} for t, c in self.columns_reached]
        return out


class LineageMixin(ProjectBase):
    """``nodes``, ``lineage`` and ``runs``."""

    def lineage(self, model: str, column: str | None = None) -> Lineage:
        """Upstream and downstream of a model; with ``column``, that column's path through
        every intermediate model and the downstream columns a change to it would reach."""
        from sqlops.catalog.lineage import trace_column

        spec = self.load()
        dag = Dag.from_project(spec)
        name = _resolve_node(spec, model)
        up = _tree(name, dag.parents)
        down = _tree(name, dag.children)
        if column is None:
            return Lineage(name, up, down)
        near = dag.ancestors(name) | dag.descendants(name) | {name}
        near |= {p for d in dag.descendants(name) for p in dag.parents[d]}
        traced = trace_column(spec, dag, name, column, self._built_columns(near))
        return Lineage(
            name,
            up,
            down,
            traced.column[1],
            traced.sources,
            traced.upstream,
            traced.downstream,
            traced.reached,
        )

    def nodes(self) -> list[dict[str, Any]]:
        """Every source and model with its kind, dependencies, tags and file."""
        spec = self.load()
        rows: list[dict[str, Any]] = [
            {
                "name": s.name,
                "kind": "source",
                "materialized": s.format,
                "depends_on": [],
                "tags": list(s.tags),
                "path": portable(s.location, spec.root),
            }
            for s in spec.sources.values()
        ]
        rows += [
            {
                "name": m.name,
                "kind": m.kind,
                "materialized": m.materialized,
                "depends_on": list(m.depends_on),
                "tags": list(m.tags),
                "path": m.path.as_posix(),
                "owner": m.owner,
                "description": m.description,
            }
            for m in spec.models.values()
        ]
        return sorted(rows, key=lambda r: r["name"])

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest builds recorded in the catalog, newest first."""
        from sqlops.catalog.store import Catalog

        return Catalog(self.config.catalog_path).runs(limit)

    def _built_columns(self, names: set[str]) -> dict[str, dict[str, str]]:
        """Columns of these relations as built (none before the first build)."""
        if not self.config.warehouse_path.exists():
            return {}
        engine = self._open_warehouse(read_only=True, macros=False)
        try:
            built = engine.relations()
            return {name: engine.columns(name) for name in sorted(names) if name in built}
        finally:
            engine.close()


def _resolve_node(spec: ProjectSpec, name: str) -> str:
    key = name.lower()
    if key in spec.models or key in spec.sources:
        return key
    matches = [n for n in spec.names if n.split(".", 1)[-1] == key]
    if len(matches) == 1:
        return matches[0]
    raise UnknownTableError(name, hint=did_you_mean(key, spec.names) or "see `sqlops ls`")


def _tree(name: str, edges: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    return {child: _tree(child, edges) for child in edges[name]}
