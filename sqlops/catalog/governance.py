"""Governance records in the catalog: each run's contract results and drift results.

Rows arrive as plain dicts (``CheckResult.to_dict()``, ``DriftResult.to_dict()``), so this
module needs nothing from ``sqlops.governance``; samples arrive already withheld where a
column is tagged, so no raw tagged value reaches the catalog.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlops.catalog.store import Catalog, now

_SCHEMA = """
CREATE TABLE IF NOT EXISTS contract_results (
    run_id VARCHAR NOT NULL, command VARCHAR NOT NULL, checked_at TIMESTAMPTZ NOT NULL,
    "table" VARCHAR NOT NULL, "check" VARCHAR NOT NULL, "column" VARCHAR,
    severity VARCHAR NOT NULL, outcome VARCHAR NOT NULL, failures BIGINT, "rows" BIGINT,
    failure_percent DOUBLE, samples JSON NOT NULL, message VARCHAR
);
CREATE TABLE IF NOT EXISTS drift_results (
    run_id VARCHAR NOT NULL, checked_at TIMESTAMPTZ NOT NULL, "table" VARCHAR NOT NULL,
    reference VARCHAR NOT NULL, "column" VARCHAR, metric VARCHAR NOT NULL,
    value DOUBLE, threshold DOUBLE, level VARCHAR NOT NULL
);
"""
_CHECK_FIELDS = (
    "table", "check", "column", "severity", "outcome", "failures", "rows", "failure_percent",
)  # fmt: skip


class GovernanceCatalog(Catalog):
    """Contract and drift results, in the same catalog file as the runs they belong to."""

    def record_checks(self, run_id: str, command: str, rows: Sequence[dict[str, Any]]) -> None:
        at = now()
        values = [
            [run_id, command, at, *(r.get(f) for f in _CHECK_FIELDS),
             json.dumps(r.get("samples") or [], default=str), r.get("message")]
            for r in rows
        ]  # fmt: skip
        self.append_rows(_SCHEMA, "contract_results", values)

    def record_drift(
        self, run_id: str, table: str, reference: str, rows: Sequence[dict[str, Any]]
    ) -> None:
        at = now()
        values = [
            [run_id, at, table, reference, r["column"], r["metric"], r.get("value"),
             r.get("threshold"), r["level"]]
            for r in rows
        ]  # fmt: skip
        self.append_rows(_SCHEMA, "drift_results", values)

    def latest_checks(self) -> list[dict[str, Any]]:
        """Each (table, check, column)'s latest result."""
        return self._query(
            "SELECT * EXCLUDE (samples), samples::VARCHAR AS samples FROM contract_results "
            'QUALIFY row_number() OVER (PARTITION BY "table", "check", "column" '
            'ORDER BY checked_at DESC) = 1 ORDER BY "table", "check", "column"',
            [],
            needs=("contract_results",),
        )

    def latest_drift(self) -> list[dict[str, Any]]:
        """Each table's latest monitor run, every column and metric of it."""
        return self._query(
            "SELECT * FROM drift_results QUALIFY run_id = first_value(run_id) OVER "
            '(PARTITION BY "table" ORDER BY checked_at DESC) ORDER BY "table", "column", metric',
            [],
            needs=("drift_results",),
        )
