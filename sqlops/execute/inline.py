"""View inlining: a table model's SQL with the view models it reads written in as
subqueries (DuckDB expands views the same way), down to the sources they read, so a
strategy can put its own scan of a source where the SQL names the source or a view over it.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlops.execute.materialize import quote
from sqlops.project.model import Model


def expand(
    model: Model, models: Mapping[str, Model], scans: Mapping[str, str], depth: int = 0
) -> str | None:
    """The model's SQL reading the given scans instead of their CSV sources, or None.

    View models between the table model and the source are inlined as subqueries (DuckDB
    expands views the same way), so ``table <- view <- csv`` gets the fast scan too. Lines
    may shift; callers rerun the plain SQL on any error so messages point at the file.
    """
    if depth > 50:
        return None
    cuts: list[tuple[int, int, str]] = []
    for ref in model.reads:
        if ref.target in scans:
            replacement = quote(scans[ref.target])
        elif (view := models.get(ref.target)) is not None and view.materialized == "view":
            inner = expand(view, models, scans, depth + 1) if view.kind == "sql" else None
            if inner is None:
                continue
            replacement = f"(\n{inner}\n)"
        else:
            continue
        if not ref.aliased:
            replacement += f" AS {quote(ref.target.split('.')[-1])}"
        cuts.extend((start, end, replacement) for start, end in ref.spans)
    if not cuts:
        return None
    out, last = [], 0
    for start, end, text in sorted(cuts):
        out.append(model.sql[last:start])
        out.append(text)
        last = end
    out.append(model.sql[last:])
    return "".join(out)


def upstream_tables(model: Model, models: Mapping[str, Model]) -> set[str]:
    """The models and sources a model reads directly or through view models."""
    found: set[str] = set()
    for ref in model.reads:
        view = models.get(ref.target)
        if view is not None and view.materialized == "view":
            found |= upstream_tables(view, models)
        else:
            found.add(ref.target)
    return found
