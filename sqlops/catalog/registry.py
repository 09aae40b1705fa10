"""The model registry's records in the catalog: each saved model version (artifact id,
features, training set and its data version, metrics, owner, stage) and the frames the
seed-style store methods keep (``add``, ``save_features``).

On the local store ``registered_models`` is the registry. On lakeFS the registry is the
records in the repository, and ``shared_models`` mirrors them here (each row with the
checksum of the record it came from, so a read downloads only new or changed records);
``registered_models`` then keeps the versions saved before the switch, untouched.

Approvals and stage moves are append-only events beside the write-once versions:
``model_events`` on the local store, and on lakeFS ``shared_model_events`` mirrors the event
records of the repository (by path, with each record's checksum).

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
CREATE TABLE IF NOT EXISTS shared_models (
    name VARCHAR NOT NULL, version INTEGER NOT NULL, artifact VARCHAR NOT NULL,
    features JSON NOT NULL, training_set VARCHAR, data_version VARCHAR, metrics JSON NOT NULL,
    owner VARCHAR NOT NULL, stage VARCHAR NOT NULL, saved_at VARCHAR NOT NULL,
    checksum VARCHAR NOT NULL, gone BOOLEAN NOT NULL, PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS model_events (
    id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, version INTEGER NOT NULL,
    kind VARCHAR NOT NULL, author VARCHAR NOT NULL, reason VARCHAR NOT NULL, to_stage VARCHAR,
    happened_at VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS shared_model_events (
    path VARCHAR PRIMARY KEY, checksum VARCHAR NOT NULL, id VARCHAR NOT NULL,
    name VARCHAR NOT NULL, version INTEGER NOT NULL, kind VARCHAR NOT NULL,
    author VARCHAR NOT NULL, reason VARCHAR NOT NULL, to_stage VARCHAR,
    happened_at VARCHAR NOT NULL
);
"""
# an event's fields in both event tables (``author`` and ``happened_at`` are the event's
# ``by`` and ``at``: keywords in SQL)
_EVENT_FIELDS = (
    "id", "name", "version", "kind", "author", "reason", "to_stage", "happened_at",
)  # fmt: skip
_MODEL_FIELDS = (
    "name", "version", "artifact", "features", "training_set", "data_version", "metrics",
    "owner", "stage", "saved_at",
)  # fmt: skip


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

    def models(self, name: str | None = None, shared: bool = False) -> list[dict[str, Any]]:
        """Every model version (or one name's), by name then version: the local registry's,
        or with ``shared`` the mirror of the version store's (records gone from it left out)."""
        table, gone = ("shared_models", "NOT gone") if shared else ("registered_models", "true")
        where, params = ("AND name = ?", [name]) if name is not None else ("", [])
        rows = self._query(
            f"SELECT {', '.join(_MODEL_FIELDS)} FROM {table} WHERE {gone} {where} "
            "ORDER BY name, version",
            params,
            needs=(table,),
        )
        return [_decoded(r, ("features", "metrics")) for r in rows]

    def models_and_events(
        self, name: str | None = None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """``models(name)`` and ``events(name)`` of the local registry through one opening of
        the catalog (each opening is most of a read's time)."""
        if not self.path.exists():
            return [], []
        where, params = ("WHERE name = ?", [name]) if name is not None else ("", [])
        queries = {
            "registered_models": f"SELECT {', '.join(_MODEL_FIELDS)} FROM registered_models "
            f"{where} ORDER BY name, version",
            "model_events": f"SELECT {', '.join(_EVENT_FIELDS)} FROM model_events {where} "
            "ORDER BY happened_at, rowid",
        }
        engine = self._open(read_only=True)
        try:
            known = engine.fetch_value(
                "SELECT list(table_name) FROM duckdb_tables() "
                "WHERE database_name = current_database()"
            )
            out = []
            for table, sql in queries.items():
                cursor = engine.execute(sql, params) if table in (known or []) else None
                names = [d[0] for d in cursor.description] if cursor else []
                rows = cursor.fetchall() if cursor else []
                out.append([dict(zip(names, row, strict=True)) for row in rows])
        finally:
            engine.close()
        return [_decoded(r, ("features", "metrics")) for r in out[0]], out[1]

    def mirrored(self, name: str | None = None) -> dict[tuple[str, int], tuple[str, bool]]:
        """The mirror's (name, version) -> (record checksum, gone) (of one name's, or all)."""
        where, params = ("WHERE name = ?", [name]) if name is not None else ("", [])
        rows = self._query(
            f"SELECT name, version, checksum, gone FROM shared_models {where}",
            params,
            needs=("shared_models",),
        )
        return {(r["name"], r["version"]): (r["checksum"], r["gone"]) for r in rows}

    def mirror(self, fresh: list[tuple[dict[str, Any], str]], gone: list[tuple[str, int]]) -> None:
        """Store new or changed shared records (each with its checksum) and mark those no
        longer in the version store, in one transaction."""
        engine = self._open()
        try:
            engine.script(_SCHEMA)
            with engine.transaction():
                for row, checksum in fresh:
                    engine.execute(
                        "INSERT OR REPLACE INTO shared_models VALUES "
                        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, false)",
                        [
                            *(row[f] for f in _MODEL_FIELDS[:3]),
                            json.dumps(row["features"]),
                            row["training_set"],
                            row["data_version"],
                            json.dumps(row["metrics"], sort_keys=True),
                            *(row[f] for f in _MODEL_FIELDS[7:]),
                            checksum,
                        ],
                    )
                for name, version in gone:
                    engine.execute(
                        "UPDATE shared_models SET gone = true WHERE name = ? AND version = ?",
                        [name, version],
                    )
        finally:
            engine.close()

    def record_events(self, rows: list[dict[str, Any]]) -> None:
        """Append events (dicts of ``_EVENT_FIELDS``) in one transaction."""
        self.append_rows(_SCHEMA, "model_events", [[r[f] for f in _EVENT_FIELDS] for r in rows])

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        """The local registry's events (one model's, or all), oldest first."""
        where, params = ("WHERE name = ?", [name]) if name is not None else ("", [])
        return self._query(
            f"SELECT {', '.join(_EVENT_FIELDS)} FROM model_events {where} "
            "ORDER BY happened_at, rowid",
            params,
            needs=("model_events",),
        )

    def mirrored_events(self, name: str | None = None) -> dict[str, tuple[str, dict[str, Any]]]:
        """The mirror of the shared event records: path -> (checksum, event row)."""
        where, params = ("WHERE name = ?", [name]) if name is not None else ("", [])
        rows = self._query(
            f"SELECT path, checksum, {', '.join(_EVENT_FIELDS)} FROM shared_model_events {where}",
            params,
            needs=("shared_model_events",),
        )
        return {r.pop("path"): (r.pop("checksum"), r) for r in rows}

    def mirror_events(self, fresh: list[tuple[str, str, dict[str, Any]]]) -> None:
        """Store new or changed shared event records (path, checksum, row) in one
        transaction."""
        engine = self._open()
        try:
            engine.script(_SCHEMA)
            with engine.transaction():
                for path, checksum, row in fresh:
                    engine.execute(
                        "INSERT OR REPLACE INTO shared_model_events "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [path, checksum, *(row[f] for f in _EVENT_FIELDS)],
                    )
        finally:
            engine.close()

    def frames(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every stored frame version (or one name's), by name then version."""
        where, params = ("WHERE name = ?", [name]) if name is not None else ("", [])
        rows = self._query(
            f"SELECT * FROM stored_frames {where} ORDER BY name, version",
            params,
            needs=("stored_frames",),
        )
        return [_decoded(r, ("columns",)) for r in rows]

    def objects(self) -> set[str]:
        """Every object id a record references: what ``gc`` must keep."""
        ids: set[str] = set()
        for table, column in (
            ("registered_models", "artifact"),
            ("stored_frames", "object"),
            ("shared_models", "artifact"),
        ):
            rows = self._query(f"SELECT {column} AS id FROM {table}", [], needs=(table,))
            ids |= {r["id"] for r in rows}
        return ids
