"""The feature store's records in the catalog: each build's feature views (definition,
fingerprint, statistics) and the saved training sets (request, data version, fingerprints).

Values the feature store defines (definitions, statistics, requests) are stored as JSON, so
this module needs nothing from ``sqlops.features``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlops.catalog.store import Catalog, now

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feature_view_builds (
    run_id VARCHAR NOT NULL, view VARCHAR NOT NULL, built_at TIMESTAMPTZ NOT NULL,
    fingerprint VARCHAR NOT NULL, source VARCHAR NOT NULL, definition JSON NOT NULL,
    stats JSON NOT NULL, stats_seconds DOUBLE NOT NULL
);
CREATE TABLE IF NOT EXISTS training_sets (
    name VARCHAR NOT NULL, saved_at TIMESTAMPTZ NOT NULL, data_version VARCHAR NOT NULL,
    fingerprints JSON NOT NULL, request JSON NOT NULL, stats JSON NOT NULL,
    path VARCHAR NOT NULL
);
"""


class FeatureCatalog(Catalog):
    """Feature-view builds and training sets, in the same catalog file as the runs."""

    def record_views(self, run_id: str, rows: Sequence[dict[str, Any]]) -> None:
        """One row per feature view built: name, fingerprint, source, definition, stats."""
        built = now()
        values = [
            [
                run_id,
                row["view"],
                built,
                row["fingerprint"],
                row["source"],
                json.dumps(row["definition"], sort_keys=True),
                json.dumps(row["stats"], sort_keys=True),
                row["stats_seconds"],
            ]
            for row in rows
        ]
        self.append_rows(_SCHEMA, "feature_view_builds", values)

    def latest_views(self) -> dict[str, dict[str, Any]]:
        """Each view's latest build record, by view name."""
        rows = self._feature_query(
            "SELECT * FROM feature_view_builds QUALIFY row_number() OVER "
            "(PARTITION BY view ORDER BY built_at DESC) = 1",
            [],
        )
        return {r["view"]: _decoded(r, ("definition", "stats")) for r in rows}

    def record_training_set(
        self,
        name: str,
        data_version: str,
        fingerprints: dict[str, str],
        request: dict[str, Any],
        stats: dict[str, Any],
        path: str,
    ) -> None:
        engine = self._open()
        try:
            engine.script(_SCHEMA)
            engine.execute(
                "INSERT INTO training_sets VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    name,
                    now(),
                    data_version,
                    json.dumps(fingerprints, sort_keys=True),
                    json.dumps(request, sort_keys=True),
                    json.dumps(stats, sort_keys=True),
                    path,
                ],
            )
        finally:
            engine.close()

    def training_set(self, name: str) -> dict[str, Any] | None:
        """The latest record saved under ``name``."""
        rows = self._feature_query(
            "SELECT * FROM training_sets WHERE name = ? ORDER BY saved_at DESC LIMIT 1", [name]
        )
        return _decoded(rows[0], ("fingerprints", "request", "stats")) if rows else None

    def training_sets(self) -> list[dict[str, Any]]:
        rows = self._feature_query(
            "SELECT name, max(saved_at) AS saved_at FROM training_sets GROUP BY name ORDER BY name",
            [],
        )
        return rows

    def _feature_query(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        return self._query(sql, params, needs=("feature_view_builds", "training_sets"))


def _decoded(row: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    out = dict(row)
    for name in fields:
        out[name] = json.loads(out[name])
    for name, value in out.items():
        if isinstance(value, datetime):
            out[name] = value.isoformat()
    return out
