"""Record runs and model results in ``.sqlops/catalog.duckdb`` and read them back."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlops.execute.engine import Engine
from sqlops.execute.runner import BuildResult

_SCHEMA = importlib.resources.files("sqlops.catalog").joinpath("schema.sql").read_text()


class Catalog:
    """The catalog database; opened per use so it is never held between commands."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _open(self, read_only: bool = False) -> Engine:
        engine = Engine.open(self.path, read_only=read_only, macros=False)
        if not read_only:
            engine.script(_SCHEMA)
        return engine

    def record_build(self, result: BuildResult, command: str, started_at: datetime) -> None:
        """Store one build: the run row, one row per node, and the table-level lineage."""
        counts = {s: sum(1 for n in result.nodes if n.status == s) for s in ("success", "skipped")}
        n_error = sum(1 for n in result.nodes if n.status in ("error", "upstream_failed"))
        engine = self._open()
        try:
            with engine.transaction():
                engine.execute(
                    "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        result.run_id,
                        command,
                        started_at.astimezone(UTC),
                        result.seconds,
                        "success" if result.ok else "error",
                        counts["success"],
                        counts["skipped"],
                        n_error,
                        importlib.metadata.version("sqlops"),
                    ],
                )
                rows = [
                    [
                        result.run_id,
                        n.name,
                        n.kind,
                        n.materialized,
                        n.status,
                        n.reason,
                        n.rows,
                        n.seconds,
                        n.fingerprint,
                        n.error,
                        n.path,
                    ]
                    for n in result.nodes
                ]
                if rows:
                    engine.con.executemany(
                        "INSERT INTO model_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
                    )
                if result.plan is not None:
                    edges = [
                        [model.name, up, result.run_id]
                        for model in result.plan.spec.models.values()
                        for up in model.depends_on
                    ]
                    engine.execute("DELETE FROM lineage")
                    if edges:
                        engine.con.executemany("INSERT INTO lineage VALUES (?, ?, ?)", edges)
        finally:
            engine.close()

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest runs, newest first."""
        return self._query("SELECT * FROM runs ORDER BY started_at DESC LIMIT ?", [limit])

    def model_runs(self, run_id: str) -> list[dict[str, Any]]:
        return self._query("SELECT * FROM model_runs WHERE run_id = ? ORDER BY name", [run_id])

    def _query(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        engine = self._open(read_only=True)
        try:
            cursor = engine.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            engine.close()


def now() -> datetime:
    return datetime.now(UTC)
