"""``sqlops governance report``: one page of what needs attention (the seed's step 6,
continuous evaluation), composed from what the other verbs already know: owners, contracts
and their latest results, columns that look like PII without a tag, the models in
production and their approvals, drift alerts, and whether the audit log verifies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlops.api.audit import AuditMixin
from sqlops.api.contracts import ContractsMixin, bindings
from sqlops.api.monitor import MonitorMixin
from sqlops.api.owners import OwnersMixin
from sqlops.api.privacy import PrivacyMixin

# a scan of a large table reads a repeatable sample: the report is a look, not an audit
REPORT_SAMPLE_ROWS = 100_000


@dataclass(frozen=True)
class GovernanceReport:
    """Each list is something to look at; ``attention`` counts them all."""

    unowned: list[dict[str, Any]] = field(default_factory=list)
    uncontracted: list[str] = field(default_factory=list)
    untagged_pii: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    production: list[dict[str, Any]] = field(default_factory=list)
    drift: list[dict[str, Any]] = field(default_factory=list)
    audit: dict[str, Any] = field(default_factory=dict)

    @property
    def attention(self) -> int:
        lists = (self.unowned, self.uncontracted, self.untagged_pii, self.checks, self.drift)
        return sum(len(items) for items in lists) + (0 if self.audit.get("ok", True) else 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "attention": self.attention,
            "unowned": self.unowned,
            "uncontracted": self.uncontracted,
            "untagged_pii": self.untagged_pii,
            "checks": self.checks,
            "production": self.production,
            "drift": self.drift,
            "audit": self.audit,
        }


class ReportMixin(OwnersMixin, ContractsMixin, PrivacyMixin, MonitorMixin, AuditMixin):
    """``governance_report``."""

    def governance_report(self) -> GovernanceReport:
        from sqlops.catalog.governance import GovernanceCatalog

        spec = self.load()
        bound = bindings(spec)
        tables = sorted(
            n for n, m in spec.models.items() if m.materialized != "view" and n not in bound
        )
        catalog = GovernanceCatalog(self.config.catalog_path)
        problems = [
            {k: r[k] for k in ("table", "check", "column", "outcome", "failures", "severity")}
            for r in catalog.latest_checks()
            if r["outcome"] not in ("passed",)
        ]
        alerts = [
            {k: r[k] for k in ("table", "reference", "column", "metric", "value", "level")}
            for r in catalog.latest_drift()
            if r["level"] != "ok"
        ]
        built = self.config.warehouse_path.exists()
        scan = self.pii_scan(sample_rows=REPORT_SAMPLE_ROWS) if built else None
        return GovernanceReport(
            unowned=[o.to_dict() for o in self.owners() if not o.owner],
            uncontracted=tables,
            untagged_pii=[f.to_dict() for f in scan.untagged] if scan else [],
            checks=problems,
            production=self._production(),
            drift=alerts,
            audit=self.audit_verify().to_dict(),
        )

    def _production(self) -> list[dict[str, Any]]:
        registry: Any = getattr(self, "models")  # noqa: B009  (Project's registry)
        state = registry.state()
        names = sorted({m.name for m in registry.list()})
        out = []
        for name in names:
            version = state.holder(name, "production")
            if version is not None:
                out.append(
                    {"model": name, "version": version, "approvers": state.approvers(name, version)}
                )
        return out
