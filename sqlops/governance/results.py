"""What a contract run says, as data: one ``CheckResult`` per check, a ``CheckReport`` per run.

The words are the tools users already read: Soda's outcomes (passed / warn / failed / error /
not_evaluated), Great Expectations' counts (failing rows, their share, a capped sample) and
pandera's reason codes (``dtype``, ``nullable``, ``unique``, ``check``, ...). The records hold
plain JSON-safe values, so the CLI renders them, the catalog stores them and ``--json`` prints
them without knowing pandera.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlops.errors import ContractFailed

Severity = Literal["error", "warn"]
Outcome = Literal["passed", "warn", "failed", "error", "not_evaluated"]
OUTCOMES: tuple[Outcome, ...] = ("passed", "warn", "failed", "error", "not_evaluated")
MAX_SAMPLES = 5

# The keys ``sqlops check --json`` prints for each result (fixed by the interface).
JSON_KEYS = (
    "table", "check", "column", "severity", "outcome", "failures", "rows", "failure_percent",
    "samples",
)  # fmt: skip


@dataclass(frozen=True)
class CheckResult:
    """One check of one table: its verdict, how many rows failed and a few of their values.

    ``failures`` counts failing rows (both rows of a duplicate pair); it is None for checks
    that judge the whole table (dtype, row count, freshness, an aggregate), whose verdict is
    the outcome alone. ``reason`` is a short code in the spirit of pandera's
    ``SchemaErrorReason``.
    """

    table: str
    check: str
    column: str | None
    severity: Severity
    outcome: Outcome
    failures: int | None
    rows: int
    failure_percent: float | None = None
    samples: list[Any] = field(default_factory=list)
    reason: str = "check"
    message: str = ""

    def __post_init__(self) -> None:
        assert self.outcome in OUTCOMES, self.outcome

    @property
    def bad(self) -> bool:
        """Whether this result blocks a build: an error-severity check that failed or broke."""
        return self.outcome in ("failed", "error") and self.severity == "error"

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``sqlops check --json``, plus ``reason`` and ``message``."""
        out = {key: getattr(self, key) for key in JSON_KEYS}
        out["samples"] = [json_safe(v) for v in self.samples]
        out["reason"] = self.reason
        out["message"] = self.message
        return out

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        count = "" if self.failures is None else f" ({self.failures} of {self.rows} rows)"
        return f"{where} {self.check}: {self.outcome}{count}"


def result(
    table: str,
    check: str,
    column: str | None,
    severity: Severity,
    *,
    failed: bool | None,
    rows: int,
    failures: int | None = None,
    samples: Sequence[Any] = (),
    reason: str = "check",
    message: str = "",
) -> CheckResult:
    """Build a result from a verdict: ``failed`` None means the check could not run."""
    if failed is None:
        outcome: Outcome = "error"
    elif not failed:
        outcome = "passed"
    else:
        outcome = "warn" if severity == "warn" else "failed"
    percent = None if failures is None else (100.0 * failures / rows if rows else 0.0)
    return CheckResult(
        table, check, column, severity, outcome, failures, rows, percent,
        [json_safe(v) for v in list(samples)[:MAX_SAMPLES]], reason, message,
    )  # fmt: skip


def json_safe(value: Any) -> Any:
    """A sample value as JSON can hold it: NaN and infinities as strings, times as ISO text.

    >>> json_safe(float("nan")), json_safe(dt.date(2024, 1, 2)), json_safe({"a": 1})
    ('NaN', '2024-01-02', {'a': 1})
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value).replace("nan", "NaN")
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, (dt.timedelta, decimal.Decimal)):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


@dataclass(frozen=True)
class CheckReport:
    """Every result of one run (all tables, all checks: never only the first failure)."""

    results: tuple[CheckResult, ...] = ()

    @classmethod
    def of(cls, results: Iterable[CheckResult]) -> CheckReport:
        return cls(tuple(results))

    @property
    def ok(self) -> bool:
        """No error-severity check failed or broke (warnings and not_evaluated allowed)."""
        return not any(r.bad for r in self.results)

    @property
    def evaluated(self) -> bool:
        """Every check ran: a report with a not_evaluated check is never a clean pass."""
        return all(r.outcome != "not_evaluated" for r in self.results)

    def failed(self) -> list[CheckResult]:
        """The results that block: error-severity failures and errors."""
        return [r for r in self.results if r.bad]

    def to_dict(self) -> dict[str, Any]:
        return {"results": [r.to_dict() for r in self.results]}

    def raise_on_error(self) -> None:
        """Raise ``ContractFailed`` (carrying every result) for each table that failed."""
        bad = self.failed()
        if bad:
            tables = sorted({r.table for r in bad})
            raise ContractFailed(", ".join(tables), list(self.results))
