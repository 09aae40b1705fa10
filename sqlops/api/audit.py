"""The audit log's verbs (``sqlops audit``, ``audit verify``, ``audit checkpoint``) and the
one function every other verb records through.

Builds, commits, merges, checks, PII scans, approvals, promotions, exports and denied reads
each append one record (who, what, when, outcome) to ``.sqlops/audit.jsonl``; callers pass
names and counts only, never a value read from a table, so no tagged value reaches the log.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlops.api.base import ProjectBase
from sqlops.config import user_name
from sqlops.config.governance import hmac_key

if TYPE_CHECKING:
    from sqlops.governance.audit import AuditRecord, Checkpoint, VerifyResult

AUDIT_FILE = "audit.jsonl"


def audit_path(project: ProjectBase) -> Path:
    return project.config.state_path / AUDIT_FILE


def record(
    project: ProjectBase,
    action: str,
    target: str,
    outcome: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one record as the project's author (the same name its commits carry)."""
    from sqlops.governance.audit import AuditLog

    author = getattr(project, "_author", None)
    # git's author when it is configured, else the login name (as commits record it)
    who = (author() if callable(author) else project.config.versions_author) or user_name()
    project.config.state_path.mkdir(parents=True, exist_ok=True)
    AuditLog(audit_path(project)).append(
        action, who=who, target=target, outcome=outcome, details=details
    )


class AuditMixin(ProjectBase):
    """``audit``, ``audit_verify`` and ``audit_checkpoint``."""

    def audit(self, since: datetime | None = None) -> list[AuditRecord]:
        """The audit log's records, oldest first; with ``since``, those at or after it."""
        from sqlops.governance.audit import read

        path = audit_path(self)
        return read(path, since) if path.exists() else []

    def audit_verify(self, checkpoint: Path | str | None = None) -> VerifyResult:
        """Check the hash chain (an edited, removed, reordered or inserted line is named);
        with ``checkpoint``, also that the log still holds what the checkpoint saw."""
        from sqlops.governance.audit import verify

        cp = Path(checkpoint) if checkpoint is not None else None
        return verify(audit_path(self), cp, hmac_key(self.config.governance))

    def audit_checkpoint(self, out: Path | str) -> Checkpoint:
        """Write the log's head (count and hash, keyed by the HMAC secret when it is set) to
        ``out``, to keep somewhere the log's writers cannot reach."""
        from sqlops.governance.audit import checkpoint

        return checkpoint(audit_path(self), Path(out), hmac_key(self.config.governance))
