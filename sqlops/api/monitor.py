"""``sqlops monitor TABLE --reference REF``: drift of a built table against a reference, a
committed version of the table or a saved training set.

The reference is kept as bin edges and counts (``governance/monitor.py``), never raw rows:
profiled once per reference (``.sqlops/monitor/<table>/<key>.json``, the key naming the
commit or the training set's save), then each run bins today's table against it in DuckDB.
Each run's results go to the catalog and the audit log.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlops.api.audit import record
from sqlops.api.query import QueryMixin
from sqlops.errors import (
    ConfigError,
    MonitorError,
    RefNotFound,
    UnknownTableError,
    did_you_mean,
)

if TYPE_CHECKING:
    from sqlops.execute.engine import Engine
    from sqlops.governance.monitor import DriftConfig, DriftResult, Reference

_REFERENCE_VIEW = "__sqlops_reference"


@dataclass(frozen=True)
class MonitorReport:
    """One monitor run: every column's metrics; ``drifted`` when any says drift."""

    table: str
    reference: str
    results: tuple[DriftResult, ...] = field(default_factory=tuple)

    @property
    def drifted(self) -> bool:
        return any(r.level == "drift" for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        keys = ("column", "metric", "value", "threshold", "level")
        return {
            "table": self.table,
            "reference": self.reference,
            "columns": [{k: r.to_dict()[k] for k in keys} for r in self.results],
        }


class MonitorMixin(QueryMixin):
    """``monitor``."""

    def monitor(self, table: str, reference: str) -> MonitorReport:
        """Drift of each column of ``table`` against ``reference`` (a branch, tag or commit
        holding the table, or the name of a saved training set)."""
        from sqlops.catalog.governance import GovernanceCatalog
        from sqlops.catalog.store import now
        from sqlops.governance.monitor import drift

        name = table.lower() if "." in table else f"main.{table.lower()}"
        config = self._drift_config()
        ref = self._reference(name, reference)
        engine = self._open_warehouse(read_only=True)
        try:
            if name not in engine.relations():
                raise UnknownTableError(
                    table, hint=did_you_mean(name, engine.relations()) or "run `sqlops build`"
                )
            results = tuple(drift(engine, name, ref, config=config))
        finally:
            engine.close()
        report = MonitorReport(name, reference, results)
        run_id = now().strftime("%Y%m%dT%H%M%S") + "_monitor"
        rows = report.to_dict()["columns"]
        GovernanceCatalog(self.config.catalog_path).record_drift(run_id, name, reference, rows)
        outcome = "drift" if report.drifted else "ok"
        record(self, "monitor", name, outcome, {"reference": reference, "metrics": len(rows)})
        return report

    def _drift_config(self) -> DriftConfig:
        from sqlops.governance.monitor import DriftConfig

        known = {f.name for f in dataclasses.fields(DriftConfig)}
        settings = dict(self.config.governance.drift)
        for key in settings.keys() - known:
            raise ConfigError(
                f"unknown config key governance.drift.{key}",
                path=self.config.config_file,
                hint=did_you_mean(key, known) or f"known keys: {', '.join(sorted(known))}",
            )
        return DriftConfig(**settings)

    def _reference(self, table: str, reference: str) -> Reference:
        """The reference's profile, computed once and kept as JSON beside the state."""
        from sqlops.execute.materialize import qualified
        from sqlops.governance.monitor import Reference, column_kind, profile

        key, open_data = self._reference_data(table, reference)
        path = self.config.state_path / "monitor" / table / f"{key}.json"
        if path.exists():
            return Reference.from_dict(json.loads(path.read_text()))
        engine, relation = open_data()
        try:
            # a tagged column is left out: its profile would keep raw values (categories)
            policies = self.config.columns.get(table, {}).items()
            tagged = {c for c, p in policies if p.tagged}
            described = engine.describe(f"SELECT * FROM {qualified(relation)}")
            kept = [c for c, t in described if c not in tagged and column_kind(t) is not None]
            if not kept:
                raise MonitorError(
                    f"{table} has no untagged numeric or text column to monitor",
                    hint="tagged (PII) columns are never profiled: their values would be kept",
                )
            made = profile(engine, relation, kept)
        finally:
            engine.close()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(made.to_dict(), sort_keys=True))
        os.replace(tmp, path)
        return made

    def _reference_data(self, table: str, reference: str) -> tuple[str, Any]:
        """A stable key for the reference, and how to open its rows (engine, relation)."""
        from sqlops.catalog.features import FeatureCatalog

        saved = FeatureCatalog(self.config.catalog_path).training_set(reference)
        if saved is not None:
            frame = self.config.state_path / saved["path"] / "frame.parquet"
            key = "ts-" + hashlib.sha256(f"{reference}:{saved['saved_at']}".encode()).hexdigest()

            def open_training_set() -> tuple[Engine, str]:
                return _parquet_engine(frame), _REFERENCE_VIEW

            return key[:40], open_training_set
        try:
            commit = self.versions.resolve(reference)
        except RefNotFound as exc:
            raise MonitorError(
                f"reference {reference!r} is neither a saved training set nor a version",
                hint="pass a branch, tag or commit holding the table, or a training set's name",
            ) from exc
        tree = self.versions.get_commit(commit).tree
        if table not in tree:
            raise MonitorError(
                f"reference {reference} ({commit[:12]}) has no table {table}",
                hint=did_you_mean(table, tree) or "commit the table first",
            )
        return commit, lambda: (self.engine_at(commit), table)


def _parquet_engine(path: Path) -> Engine:
    from sqlops.execute.engine import Engine
    from sqlops.execute.materialize import literal, quote

    engine = Engine.open(macros=False)
    engine.execute(
        f"CREATE TEMP VIEW {quote(_REFERENCE_VIEW)} AS "
        f"SELECT * FROM read_parquet({literal(str(path))})"
    )
    return engine
