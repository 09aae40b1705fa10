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
        """Store one build: the run row, a row per node that ran, and changed lineage.

        Unchanged (skipped) nodes get no row, so a no-op build writes one row; rows go in
        as column lists through ``unnest``, one statement per table.
        """
        counts = {s: sum(1 for n in result.nodes if n.status == s) for s in ("success", "skipped")}
        n_error = sum(1 for n in result.nodes if n.status in ("error", "upstream_failed"))
        ran = [n for n in result.nodes if n.status != "skipped"]
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
                if ran:
                    columns = [
                        [result.run_id] * len(ran),
                        *(
                            [getattr(n, f) for n in ran]
                            for f in (
                                "name",
                                "kind",
                                "materialized",
                                "status",
                                "reason",
                                "rows",
                                "seconds",
                                "fingerprint",
                                "error",
                                "path",
                            )
                        ),
                    ]
                    _insert_columns(engine, "model_runs", columns)
                if result.plan is not None:
                    self._record_lineage(engine, result)
        finally:
            engine.close()

    def _record_lineage(self, engine: Engine, result: BuildResult) -> None:
        assert result.plan is not None
        edges = sorted(
            (model.name, up)
            for model in result.plan.spec.models.values()
            for up in model.depends_on
        )
        current = engine.execute("SELECT model, upstream FROM lineage ORDER BY ALL").fetchall()
        if current == edges:
            return
        engine.execute("DELETE FROM lineage")
        if edges:
            models, ups = zip(*edges, strict=True)
            _insert_columns(
                engine, "lineage", [list(models), list(ups), [result.run_id] * len(edges)]
            )

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


def _insert_columns(engine: Engine, table: str, columns: list[list[Any]]) -> None:
    """Insert rows given as equal-length column lists in one statement."""
    params = ", ".join(f"unnest(${i + 1})" for i in range(len(columns)))
    engine.execute(f"INSERT INTO {table} SELECT {params}", columns)


def now() -> datetime:
    return datetime.now(UTC)
