"""Record runs and model results in ``.sqlops/catalog.duckdb`` and read them back."""

from __future__ import annotations

import importlib.resources
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlops._version import __version__
from sqlops.errors import DiskFull, LockedError
from sqlops.execute.results import BuildResult
from sqlops.oserrors import os_errors

if TYPE_CHECKING:
    from sqlops.execute.engine import Engine

WAIT_SECONDS = 10.0
_SCHEMA = importlib.resources.files("sqlops.catalog").joinpath("schema.sql").read_text()


class Catalog:
    """The catalog database; opened per use so it is never held between commands."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def pending(self) -> Path:
        return self.path.with_name("pending_runs.jsonl")

    def _open(self, read_only: bool = False) -> Engine:
        """The catalog, waiting up to ``WAIT_SECONDS`` while another process holds it (each
        holds it for one short statement batch, as SQLite's busy timeout waits)."""
        from sqlops.execute.engine import Engine

        deadline = time.monotonic() + WAIT_SECONDS
        pause = 0.01
        while True:
            try:
                engine = Engine.open(self.path, read_only=read_only, macros=False)
                break
            except LockedError:
                if time.monotonic() + pause > deadline:
                    raise
                time.sleep(pause)
                pause = min(pause * 2, 0.2)
        if not read_only:
            engine.script(_SCHEMA)
            self._flush(engine)
        return engine

    def append_rows(self, schema: str, table: str, rows: list[list[Any]]) -> None:
        """Insert ``rows`` into ``table`` in one transaction, creating the tables of
        ``schema`` (a later module's DDL) first; nothing is opened for no rows."""
        if not rows:
            return
        engine = self._open()
        try:
            engine.script(schema)
            marks = ", ".join("?" for _ in rows[0])
            with engine.transaction():
                for row in rows:
                    engine.execute(f"INSERT INTO {table} VALUES ({marks})", row)
        finally:
            engine.close()

    def record_later(self, result: BuildResult, command: str, started_at: datetime) -> None:
        """Queue a no-op build's run row without opening DuckDB; the next write flushes it."""
        row = _run_row(result, command, started_at)
        with os_errors(self.pending, "record the run"), self.pending.open("a") as handle:
            handle.write(json.dumps(row, default=str) + "\n")

    def _flush(self, engine: Engine) -> None:
        if not self.pending.exists():
            return
        rows = [row for line in self.pending.read_text().splitlines() if (row := _row(line))]
        if rows:
            columns = [[row[i] for row in rows] for i in range(len(rows[0]))]
            columns[2] = [datetime.fromisoformat(v) for v in columns[2]]
            _insert_columns(engine, "runs", columns)
        self.pending.unlink()

    def record_build(self, result: BuildResult, command: str, started_at: datetime) -> None:
        """Store one build: the run row, a row per node that ran, and changed lineage.

        Unchanged (skipped) nodes get no row, so a no-op build writes one row; rows go in
        as column lists through ``unnest``, one statement per table.
        """
        try:
            self._record(result, command, started_at)
        except DiskFull as exc:
            raise DiskFull(
                "the build finished but the catalog could not record it: no space left on device",
                path=self.path,
                hint="free some space; the built tables are in place, only this run's "
                "record is missing",
            ) from exc

    def _record(self, result: BuildResult, command: str, started_at: datetime) -> None:
        ran = [n for n in result.nodes if n.status != "skipped"]
        engine = self._open()
        try:
            with engine.transaction():
                engine.execute(
                    "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    _run_row(result, command, started_at),
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
                                "engine",
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
        if self.pending.exists():
            self._open().close()
        return self._query("SELECT * FROM runs ORDER BY started_at DESC LIMIT ?", [limit])

    def model_runs(self, run_id: str) -> list[dict[str, Any]]:
        return self._query("SELECT * FROM model_runs WHERE run_id = ? ORDER BY name", [run_id])

    def _query(
        self, sql: str, params: list[Any], needs: tuple[str, ...] = ()
    ) -> list[dict[str, Any]]:
        """Rows as dicts; nothing before the catalog, or the tables in ``needs`` (created on
        first use by the modules that record into them), exist."""
        if not self.path.exists():
            return []
        engine = self._open(read_only=True)
        try:
            if needs:
                known = engine.fetch_value(
                    "SELECT count(*) FROM duckdb_tables() WHERE list_contains(?, table_name) "
                    "AND database_name = current_database()",
                    [list(needs)],
                )
                if known != len(needs):
                    return []
            cursor = engine.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            engine.close()


def _row(line: str) -> list[Any] | None:
    """One queued run row; a line torn by a full disk or a crash is skipped."""
    try:
        row = json.loads(line)
    except ValueError:
        return None
    return row if isinstance(row, list) and len(row) == 9 else None


def _run_row(result: BuildResult, command: str, started_at: datetime) -> list[Any]:
    counts = {s: sum(1 for n in result.nodes if n.status == s) for s in ("success", "skipped")}
    n_error = sum(1 for n in result.nodes if n.status in ("error", "upstream_failed"))
    return [
        result.run_id,
        command,
        started_at.astimezone(UTC),
        result.seconds,
        "success" if result.ok else "error",
        counts["success"],
        counts["skipped"],
        n_error,
        __version__,
    ]


def _insert_columns(engine: Engine, table: str, columns: list[list[Any]]) -> None:
    """Insert rows given as equal-length column lists in one statement."""
    params = ", ".join(f"unnest(${i + 1})" for i in range(len(columns)))
    engine.execute(f"INSERT INTO {table} SELECT {params}", columns)


def now() -> datetime:
    return datetime.now(UTC)
