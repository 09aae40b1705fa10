"""Model selection: ``name``, ``+name``, ``name+``, ``tag:x``, ``path:sql/dir``, globs."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence

from sqlops.errors import SelectionError, did_you_mean
from sqlops.plan.dag import Dag
from sqlops.project.model import ProjectSpec


def select_models(
    spec: ProjectSpec,
    dag: Dag,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> set[str]:
    """The models a command acts on: all of them, or the union of ``select`` minus ``exclude``.

    Each argument may hold several selectors separated by spaces or commas (dbt's form).
    """
    chosen = set(spec.models) if not select else _union(spec, dag, select)
    if exclude:
        chosen -= _union(spec, dag, exclude)
    return chosen


def _union(spec: ProjectSpec, dag: Dag, selectors: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for arg in selectors:
        for item in arg.replace(",", " ").split():
            out |= _one(spec, dag, item)
    return out


def _one(spec: ProjectSpec, dag: Dag, item: str) -> set[str]:
    up, down = item.startswith("+"), item.endswith("+")
    core = item.strip("+").lower()
    if core.startswith("tag:"):
        tag = core[4:]
        base = {n for n, m in spec.models.items() if tag in {t.lower() for t in m.tags}}
        known = {t for m in spec.models.values() for t in m.tags}
        what = f"tag {tag!r}"
    elif core.startswith("path:"):
        prefix = core[5:].rstrip("/")
        base = {
            n
            for n, m in spec.models.items()
            if m.path.as_posix().lower() == prefix
            or m.path.as_posix().lower().startswith(prefix + "/")
        }
        known = {m.path.parent.as_posix() for m in spec.models.values()}
        what = f"path {prefix!r}"
    else:
        names = [*spec.models, *spec.sources]
        pattern = core if "." in core or any(c in core for c in "*?[") else f"*.{core}"
        base = set(fnmatch.filter(names, pattern))
        known = set(names)
        what = f"model {core!r}"
    if not base:
        hint = did_you_mean(core.split(":")[-1], known) or "see `sqlops ls` for the names"
        raise SelectionError(f"selector {item!r} matches no {what}", hint=hint)
    out = set(base)
    for name in base:
        if up:
            out |= dag.ancestors(name)
        if down:
            out |= dag.descendants(name)
    return {n for n in out if n in spec.models}
