"""The model registry's records in the catalog: each saved model version (artifact id,
features, training set and its data version, metrics, owner, stage) and the frames the
seed-style store methods keep (``add``, ``save_features``).

Artifacts and frames live in the version store's object folder; only their ids are here,
so ``gc`` asks this module which objects it must keep.
"""

from __future__ import annotations

import json
from typing import Any

from sqlops.catalog.features import _decoded
from sqlops.catalog.store import Catalog, now

_SCHEMA = """
CREATE TABLE IF NOT EXISTS registered_models (
    name VARCHAR NOT NULL, version INTEGER NOT NULL, artifact VARCHAR NOT NULL,
    features JSON NOT NULL, training_set VARCHAR, data_version VARCHAR, metrics JSON NOT NULL,
    owner VARCHAR NOT NULL, stage VARCHAR NOT NULL, saved_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS stored_frames (
    name VARCHAR NOT NULL, version INTEGER NOT NULL, object VARCHAR NOT NULL,
    columns JSON NOT NULL, saved_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (name, version)
);
"""
_TABLES = ("registered_models", "stored_frames")


class RegistryCatalog(Catalog):
    """Registered models and stored frames, in the same catalog file as the runs."""

    def record_model(self, row: dict[str, Any]) -> int:
        """Insert the next version of ``row["name"]`` in one transaction; returns it."""
        return self._insert_next(
            "registered_models",
            row["name"],
            [
                row["artifact"],
                json.dumps(row["features"]),
                row["training_set"],
                row["data_version"],
                json.dumps(row["metrics"], sort_keys=True),
                row["owner"],
                row["stage"],
            ],
        )

    def record_frame(self, name: str, object_id: str, columns: list[str]) -> int:
        return self._insert_next("stored_frames", name, [object_id, json.dumps(columns)])

    def _insert_next(self, table: str, name: str, values: list[Any]) -> int:
        engine = self._open()
        try:
            engine.script(_SCHEMA)
            with engine.transaction():
                latest = engine.fetch_value(
                    f"SELECT coalesce(max(version), 0) FROM {table} WHERE name = ?", [name]
                )
                version = int(latest) + 1
                marks = ", ".join("?" * (len(values) + 3))
                engine.execute(
                    f"INSERT INTO {table} VALUES ({marks})", [name, version, *values, now()]
                )
            return version
        finally:
            engine.close()

    def models(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every model version (or one name's), by name then version."""
        where, params = ("WHERE name = ?", [name]) if name is not None else ("", [])
        rows = self._registry_query(
            f"SELECT * FROM registered_models {where} ORDER BY name, version", params
        )
        return [_decoded(r, ("features", "metrics")) for r in rows]

    def frames(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every stored frame version (or one name's), by name then version."""
        where, params = ("WHERE name = ?", [name]) if name is not None else ("", [])
        rows = self._registry_query(
            f"SELECT * FROM stored_frames {where} ORDER BY name, version", params
        )
        return [_decoded(r, ("columns",)) for r in rows]

    def objects(self) -> set[str]:
        """Every object id a record references: what ``gc`` must keep."""
        rows = self._registry_query(
            "SELECT artifact AS id FROM registered_models UNION SELECT object FROM stored_frames",
            [],
        )
        return {r["id"] for r in rows}

    def _registry_query(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        return self._query(sql, params, needs=_TABLES)
