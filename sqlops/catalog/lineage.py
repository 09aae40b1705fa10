"""Column lineage across models: the whole path a column comes from, and every column a
change to it would reach.

Each SQL model is traced one hop at a time (its output columns -> the columns of the
tables it reads), and the hops are chained through the DAG, so every intermediate model
shows up on the path. A Python model (or SQL that sqlglot cannot trace) is opaque:
upstream its columns are where the path ends; downstream a change reaches all of its
columns (``*``), and from there every column of its children that reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlops.errors import ModelParseError, did_you_mean
from sqlops.macros import TABLE_MACROS
from sqlops.plan.dag import Dag
from sqlops.project.model import ProjectSpec
from sqlops.project.parse import ColumnHop, column_sources

Column = tuple[str, str]  # (source or model, column)


@dataclass(frozen=True)
class ColumnLineage:
    """One column's upstream path and downstream reach, as nested ``{"node.column": ...}``
    trees (like the model trees), plus the two ends flattened.

    Upstream follows values (what the column is computed from). Downstream also follows
    filters: a column a model filters, joins or groups on reaches all its output columns.
    """

    column: Column
    upstream: dict[str, Any] = field(default_factory=dict)
    downstream: dict[str, Any] = field(default_factory=dict)
    sources: list[Column] = field(default_factory=list)
    reached: list[Column] = field(default_factory=list)


def trace_column(
    spec: ProjectSpec,
    dag: Dag,
    name: str,
    column: str,
    schemas: Mapping[str, Mapping[str, str]],
) -> ColumnLineage:
    """Trace ``name.column`` both ways. ``schemas`` gives the columns of built nodes
    (needed to expand ``SELECT *``; nodes missing there are traced from their SQL only)."""
    hops = _Hops(spec, schemas)
    column = column.lower()
    own = hops.of(name, strict=True)
    known = own.values.keys() if own is not None else {c.lower() for c in schemas.get(name, {})}
    if known and column not in known and "*" not in known:  # "*": not expandable unbuilt
        path = spec.models[name].path if name in spec.models else None
        raise ModelParseError(
            f"{name} has no column {column!r}",
            path=path,
            hint=did_you_mean(column, known) or f"its columns: {', '.join(sorted(known))}",
        )
    sources: set[Column] = set()
    reached: set[Column] = set()
    upstream = _upstream(hops, (name, column), sources)
    downstream = _downstream(hops, dag, (name, column), reached, {})
    return ColumnLineage(
        (name, column), upstream, downstream, sorted(sources - {(name, column)}), sorted(reached)
    )


class _Hops:
    """One-hop column lineage of each SQL model, computed once per model."""

    def __init__(self, spec: ProjectSpec, schemas: Mapping[str, Mapping[str, str]]) -> None:
        self.spec = spec
        self.schemas = schemas
        self.cache: dict[str, ColumnHop | None] = {}

    def of(self, name: str, strict: bool = False) -> ColumnHop | None:
        """How a SQL model's columns come from its inputs; None if not a SQL model, or
        (unless ``strict``) if its SQL cannot be traced, so it counts as opaque."""
        if name not in self.cache:
            model = self.spec.models.get(name)
            hop = None
            if model is not None and model.kind == "sql":
                try:
                    hop = column_sources(
                        model.sql,
                        targets={ref.name: ref.target for ref in model.reads if ref.target},
                        schema={d: self.schemas[d] for d in model.depends_on if d in self.schemas},
                        path=model.path,
                        table_macros=TABLE_MACROS,
                    )
                except ModelParseError:
                    if strict:
                        raise
            self.cache[name] = hop
        return self.cache[name]


def _upstream(hops: _Hops, at: Column, sources: set[Column]) -> dict[str, Any]:
    hop = hops.of(at[0])
    inputs = _inputs(hop, at[1]) if hop is not None else []
    if not inputs:
        sources.add(at)
    return {f"{node}.{col}": _upstream(hops, (node, col), sources) for node, col in inputs}


def _downstream(
    hops: _Hops, dag: Dag, at: Column, reached: set[Column], memo: dict[Column, dict[str, Any]]
) -> dict[str, Any]:
    if at in memo:
        return memo[at]
    tree: dict[str, Any] = {}
    for child in dag.children.get(at[0], ()):
        hop = hops.of(child)
        if hop is None:  # opaque (Python): every column may change
            reached.add((child, "*"))
            tree[f"{child}.*"] = _downstream(hops, dag, (child, "*"), reached, memo)
            continue
        filtered = _touches(at, hop.filters)
        for out, inputs in hop.values.items():
            if filtered or _touches(at, inputs):
                if out == "*" and not filtered:  # an unexpanded SELECT * passes it on by name
                    out = at[1]
                reached.add((child, out))
                tree[f"{child}.{out}"] = _downstream(hops, dag, (child, out), reached, memo)
    memo[at] = tree
    return tree


def _inputs(hop: ColumnHop, column: str) -> list[Column]:
    """What one output column is computed from; through an unexpanded ``SELECT *`` (an
    unbuilt input), the same-named column of the star's tables."""
    if column in hop.values:
        return hop.values[column]
    return [(node, column if c == "*" else c) for node, c in hop.values.get("*", [])]


def _touches(at: Column, inputs: list[Column]) -> bool:
    """Whether ``at`` is among ``inputs`` (``*`` on either side: any column of its node)."""
    return any(
        node == at[0] and (column == at[1] or "*" in (column, at[1])) for node, column in inputs
    )
