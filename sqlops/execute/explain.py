"""Reading DuckDB's ``EXPLAIN (FORMAT json)`` plans: which operators a query runs and which
columns its Python scans read. The JSON's node names and ``extra_info`` keys are DuckDB's
internal format (hence the ``duckdb`` upper bound in ``pyproject.toml``): a key that is
missing reads as "no", which only ever means a strategy is not taken.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlops.execute.materialize import quote

_SCANS = frozenset({"PYTHON_ARROW_SCAN", "READ_CSV", "READ_CSV_AUTO"})  # operators that read inputs


def plan_nodes(plan: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Every node of an EXPLAIN (FORMAT json) plan."""
    stack = list(plan)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.get("children", ()))


def partition_aggregates(plan: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the plan runs a window aggregate over whole partitions (``PARTITION BY``,
    no ``ORDER BY``, as ``zscore`` and ``minmax`` do). Over a table, DuckDB runs that as a
    grouped aggregate joined back to the rows; ``OVER ()`` and ranked windows keep the
    Window operator either way."""
    for node in plan_nodes(plan):
        if node.get("name") != "WINDOW":
            continue
        found = (node.get("extra_info") or {}).get("Projections", ())
        for text in [found] if isinstance(found, str) else found:
            if "PARTITION BY" in text and "ORDER BY" not in text:
                return True
    return False


def scanned_columns(plan: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[str]:
    """The columns (of ``columns``) that the plan's input scans read: projected, or named
    in a filter pushed into the scan (DuckDB prints those quoted). With several scans, the
    union: a superset, which is all a copy of the scan needs."""
    wanted: set[str] = set()
    filters: list[str] = []
    for node in plan_nodes(plan):
        info = node.get("extra_info") or {}
        if node.get("name") not in _SCANS:
            continue
        projected = info.get("Projections", ())
        wanted.update([projected] if isinstance(projected, str) else projected)
        found = info.get("Filters", ())
        filters.extend([found] if isinstance(found, str) else found)
    text = "\n".join(filters)
    chosen = [c for c in columns if c in wanted or quote(c) in text]
    return chosen or list(columns[:1])
