"""The dependency graph of sources and models, in a stable topological order."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlops.errors import CycleError
from sqlops.project.model import ProjectSpec


@dataclass(frozen=True)
class Dag:
    """Parents and children of every node, and a topological order (ties broken by name)."""

    parents: Mapping[str, tuple[str, ...]]
    children: Mapping[str, tuple[str, ...]]
    order: tuple[str, ...]

    @classmethod
    def from_project(cls, spec: ProjectSpec) -> Dag:
        edges: dict[str, tuple[str, ...]] = {name: () for name in spec.sources}
        edges.update({name: m.depends_on for name, m in spec.models.items()})
        return cls.from_edges(edges)

    @classmethod
    def from_edges(cls, parents: Mapping[str, Iterable[str]]) -> Dag:
        """Build from ``{node: parents}``; raises CycleError naming one cycle.

        >>> Dag.from_edges({"a": [], "b": ["a"], "c": ["a"], "d": ["c", "b"]}).order
        ('a', 'b', 'c', 'd')
        """
        ups = {node: tuple(sorted(set(ps))) for node, ps in parents.items()}
        downs: dict[str, list[str]] = {node: [] for node in ups}
        for node, ps in ups.items():
            for parent in ps:
                downs[parent].append(node)
        indegree = {node: len(ps) for node, ps in ups.items()}
        ready = [node for node, n in indegree.items() if n == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            node = heapq.heappop(ready)
            order.append(node)
            for child in downs[node]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    heapq.heappush(ready, child)
        if len(order) < len(ups):
            raise CycleError(_find_cycle({n: ps for n, ps in ups.items() if indegree[n] > 0}))
        children = {node: tuple(sorted(cs)) for node, cs in downs.items()}
        return cls(parents=ups, children=children, order=tuple(order))

    def ancestors(self, name: str) -> set[str]:
        return _walk(name, self.parents)

    def descendants(self, name: str) -> set[str]:
        return _walk(name, self.children)


def _walk(start: str, edges: Mapping[str, tuple[str, ...]]) -> set[str]:
    seen: set[str] = set()
    stack = list(edges[start])
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(edges[node])
    return seen


def _find_cycle(parents: Mapping[str, tuple[str, ...]]) -> list[str]:
    """Follow parents among the nodes left after Kahn's algorithm until one repeats."""
    node = min(parents)
    path: list[str] = []
    while node not in path:
        path.append(node)
        node = min(p for p in parents[node] if p in parents)
    cycle = [*path[path.index(node) :], node]
    return list(reversed(cycle))
