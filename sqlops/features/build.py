"""Build feature views into the warehouse: ``features.<view>``, a plain DuckDB view that
selects the view's join keys, timestamps and features from its source or model.

Every view is checked first (its relation exists, it has every column named), then all are
(re)created in one transaction, so a mistake leaves the previous views as they were. The
views name only warehouse relations, so the warehouse still opens in plain DuckDB.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlops.errors import FeatureDefinitionError, did_you_mean
from sqlops.execute.engine import Engine
from sqlops.execute.materialize import qualified, quote
from sqlops.features.definitions import FeatureRegistry, FeatureView
from sqlops.features.stats import feature_stats
from sqlops.plan.fingerprint import digest

SCHEMA = "features"


@dataclass(frozen=True)
class BuiltView:
    """One feature view as built: its columns and what the catalog records of it."""

    view: str
    source: str
    fingerprint: str
    definition: dict[str, Any]
    columns: dict[str, str]
    stats: dict[str, Any]
    stats_seconds: float

    def record(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "source": self.source,
            "fingerprint": self.fingerprint,
            "definition": self.definition,
            "stats": self.stats,
            "stats_seconds": self.stats_seconds,
        }


def definition(registry: FeatureRegistry, view: FeatureView) -> dict[str, Any]:
    """A view's definition as JSON-ready values (what its fingerprint hashes)."""
    return {
        "name": view.name,
        "source": view.source,
        "entities": list(view.entities),
        "join_keys": list(registry.join_keys(view)),
        "timestamp": view.timestamp,
        "created_timestamp": view.created_timestamp,
        "ttl_seconds": view.ttl.total_seconds() if view.ttl is not None else None,
        "features": [
            {
                "name": f.name,
                "type": f.dtype,
                "description": f.description,
                "owner": f.owner,
                "tags": list(f.tags),
            }
            for f in view.features
        ],
        "owner": view.owner,
        "description": view.description,
        "tags": list(view.tags),
    }


def view_columns(registry: FeatureRegistry, view: FeatureView) -> list[str]:
    """The columns ``features.<view>`` has, in order: keys, timestamps, features."""
    names = [*registry.join_keys(view), view.timestamp]
    if view.created_timestamp:
        names.append(view.created_timestamp)
    names.extend(f.name for f in view.features)
    return list(dict.fromkeys(names))


def check_view(
    registry: FeatureRegistry,
    view: FeatureView,
    columns: Mapping[str, str],
    where: str,
) -> None:
    """Refuse a view naming a column its relation does not have (one line, with the fix)."""
    for name in view_columns(registry, view):
        if name not in columns:
            hint = did_you_mean(name, columns) or f"its columns are {', '.join(columns)}"
            raise FeatureDefinitionError(
                f"{where}feature view {view.name} names column {name}, which "
                f"{view.source} does not have; {hint}"
            )


def build_views(
    con: Engine,
    registry: FeatureRegistry,
    fingerprints: Mapping[str, str],
    previous: Mapping[str, Mapping[str, Any]],
    where: Mapping[str, str],
    parts: Mapping[str, Sequence[str]] | None = None,
    samples: Mapping[str, Path] | None = None,
    keep: Collection[str] = (),
) -> list[BuiltView]:
    """Create every view of ``registry`` whose relation was built (``fingerprints``: relation
    name -> build fingerprint), drop the views no longer declared, and compute statistics
    (reused from ``previous`` for a view whose fingerprint did not change; ``parts``:
    relation name -> the Parquet files of one schema a table model wrote; ``samples``:
    relation name -> where the build kept a sample of it, if it did; see ``feature_stats``;
    ``keep``: the project's models and sources, never dropped as stale views)."""
    relations = con.relations()
    plans: list[tuple[FeatureView, dict[str, str], dict[str, Any], str]] = []
    for view in registry.views.values():
        source = view.source
        if source not in relations or source not in fingerprints:
            continue  # not built (failed, or never): its previous view stays
        columns = con.columns(source)
        check_view(registry, view, columns, where.get(view.name, ""))
        spec = definition(registry, view)
        fingerprint = digest([spec, fingerprints[source], columns])
        plans.append((view, columns, spec, fingerprint))
    stale = [
        name
        for name, kind in relations.items()
        if kind == "view"
        and name.startswith(f"{SCHEMA}.")
        and name.split(".", 1)[1] not in registry.views
        and name not in keep  # a model or source of schema features is not a feature view
    ]
    with con.transaction():
        if plans:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(SCHEMA)}")
        for view, _, _, _ in plans:
            select = ", ".join(quote(c) for c in view_columns(registry, view))
            con.execute(
                f"CREATE OR REPLACE VIEW {qualified(f'{SCHEMA}.{view.name}')} AS "
                f"SELECT {select} FROM {qualified(view.source)}"
            )
        for name in stale:
            con.execute(f"DROP VIEW IF EXISTS {qualified(name)}")
    built = []
    for view, columns, spec, fingerprint in plans:
        before = previous.get(view.name)
        started = time.perf_counter()
        if before is not None and before.get("fingerprint") == fingerprint:
            numbers = dict(before["stats"])
        else:
            types = {f.name: columns[f.name] for f in view.features}
            relation = qualified(f"{SCHEMA}.{view.name}")
            files = (parts or {}).get(view.source, ())
            kept = (samples or {}).get(view.source)
            sample = str(kept) if kept is not None and kept.is_file() else None
            numbers = feature_stats(con, relation, types, parts=files, kept=sample)
        seconds = time.perf_counter() - started
        built.append(
            BuiltView(
                view.name,
                view.source,
                fingerprint,
                spec,
                {c: columns[c] for c in view_columns(registry, view)},
                numbers,
                seconds,
            )
        )
    return built
