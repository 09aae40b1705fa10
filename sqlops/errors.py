"""Every error sqlops raises on purpose, so callers catch one base class.

The tree::

    SqlopsError                   base: a user mistake or a failed check, never a bug
    ├── ConfigError               invalid sqlops.toml / [tool.sqlops] / flag / SQLOPS_* variable
    ├── ProjectError              the files on disk do not form a valid project
    │   ├── ModelParseError       SQL that does not parse, or a bad header line
    │   ├── DuplicateModelError   two files define the same model name
    │   ├── UnknownTableError     a model reads a table no model or source defines
    │   └── SourceError           a source's files or database are missing or unreadable
    ├── PlanError
    │   ├── CycleError            models that depend on each other in a loop
    │   └── SelectionError        a --select/--exclude that names nothing
    ├── ExecutionError            the engine rejected a model or a query
    ├── OutputError               a result cannot be written in the format asked for
    ├── FileAccessError           a file or folder cannot be read or written (missing,
    │   │                         permissions, not a folder, not UTF-8)
    │   └── DiskFull              no space left on the device while writing
    ├── BuildFailed               a build finished with failed models (carries the result)
    ├── LockedError               another build holds the project's lock
    ├── VersioningError           the version store refused an operation
    │   ├── RefNotFound           a branch, tag or commit that does not exist
    │   ├── MergeConflict         both sides changed the same tables differently
    │   ├── ChecksFailed          pre-merge checks failed; nothing was merged
    │   ├── CommitConflict        the branch moved and changed tables this commit also changes
    │   ├── UncommittedChanges    a checkout or merge would discard uncommitted built tables
    │   └── CorruptObject         stored data does not match its hash, or is missing
    └── FeatureError              a feature-store mistake
        ├── FeatureDefinitionError   an entity or feature view that is not valid (bad ttl, ...)
        ├── UnknownFeatureError      a feature reference naming no view or no feature
        ├── EntityFrameError         an entity frame missing a key or timestamp, or mistyped
        ├── OnlineStoreError         the online store is missing, stale or was given bad rows
        ├── RegistryError            a registered model that is unknown, corrupt or cannot load
        ├── SynthesisError           aggregate features: bad target, cutoffs or relationship
        └── TransformError           a fitted transform that cannot be fitted, found or applied
    └── GovernanceError           a governance mistake or refusal
        ├── ContractError            a contract that cannot be used (missing column, unknown
        │                            check, a file that does not import)
        ├── ContractFailed           error-severity checks failed (carries every result)
        ├── PolicyError              a malformed role, column policy or row filter
        ├── PolicyDenied             a role read a table or column it may not, or ran SQL
        │                            outside its views
        ├── PrivacyError             an anonymization rule that cannot run (no HMAC secret)
        ├── ApprovalError            an approval or promotion refused (not an approver,
        │                            unknown stage, unmet requirements)
        ├── AuditError               the audit log is corrupt, edited or truncated
        └── MonitorError             a drift reference that is missing or does not fit

Third-party exceptions become these in one module per library, always ``from exc``:
duckdb in ``execute/engine.py`` (``translate``), sqlglot in ``project/parse.py``, TOML in
``config.py``, OSError and UnicodeDecodeError in ``oserrors.py``, Polars in
``execute/polarserrors.py``, the lakeFS SDK and urllib3 in ``versioning/lakefs.py``.

Messages are one line: what, where (``file:line:col`` or ``table.column``), and the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


class SqlopsError(Exception):
    """Base of every error sqlops raises for a user mistake or a failed check."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message.rstrip('.')}. {hint}")


def location(path: Path | str | None, line: int | None = None, col: int | None = None) -> str:
    """Format ``path:line:col`` as used in every message, dropping the unknown parts.

    >>> location("sql/stg/orders.sql", 3, 14)
    'sql/stg/orders.sql:3:14'
    >>> location("sqlops.toml")
    'sqlops.toml'
    """
    where = str(path) if path is not None else "<input>"
    if line is not None:
        where += f":{line}"
        if col is not None:
            where += f":{col}"
    return where


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """Suggest the closest known names for a misspelt one, or None.

    >>> did_you_mean("stg.oders", ["stg.orders", "stg.customers"])
    'did you mean stg.orders?'
    """
    scored = sorted(
        ((difflib.SequenceMatcher(None, name, c).ratio(), c) for c in set(candidates)),
        reverse=True,
    )
    if not scored or scored[0][0] < 0.6:
        return None
    close = [c for score, c in scored[:3] if score >= scored[0][0] - 0.05]
    return f"did you mean {' or '.join(close)}?"


class _Located(SqlopsError):
    """An error that points at a place in a file."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        col: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.col = col
        where = location(path, line, col) if path is not None else None
        super().__init__(f"{where}: {message}" if where else message, hint=hint)


class ConfigError(_Located):
    """The configuration is invalid: unknown key, wrong type, bad value."""


class ProjectError(_Located):
    """The project's files do not form a valid project."""


class ModelParseError(ProjectError):
    """A model's SQL does not parse or its header is malformed."""


class DuplicateModelError(ProjectError):
    """Two files define the same model name."""


class UnknownTableError(ProjectError):
    """A model reads a table that no model or source defines."""

    def __init__(self, table: str, **kwargs: Any) -> None:
        self.table = table
        super().__init__(f"unknown table {table}", **kwargs)


class SourceError(ProjectError):
    """A source's files or database cannot be found or read."""


class PlanError(SqlopsError):
    """The plan cannot be made."""


class CycleError(PlanError):
    """Models depend on each other in a loop."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__(
            f"dependency cycle: {' -> '.join(cycle)}",
            hint="remove one of these references so the models form a DAG",
        )


class SelectionError(PlanError):
    """A selector names nothing in the project."""


class ExecutionError(_Located):
    """The engine rejected a model, source or query."""

    def __init__(self, message: str, *, model: str | None = None, **kwargs: Any) -> None:
        self.model = model
        super().__init__(message, **kwargs)


class BuildFailed(SqlopsError):
    """A build finished but some models failed; ``result`` holds the details."""

    def __init__(self, result: Any) -> None:
        self.result = result
        failed = [m.name for m in result.models if m.status == "error"]
        super().__init__(f"{len(failed)} model(s) failed: {', '.join(failed)}")


class LockedError(SqlopsError):
    """Another process holds the project's build lock."""


class VersioningError(SqlopsError):
    """The version store refused an operation."""


class RefNotFound(VersioningError):
    """A branch, tag or commit that does not exist; suggests close names."""

    def __init__(self, ref: str, known: Iterable[str] = ()) -> None:
        self.ref = ref
        hint = did_you_mean(ref, known) or "list them with `sqlops branch list` or `sqlops log`"
        super().__init__(f"unknown ref {ref!r}", hint=hint)


class MergeConflict(VersioningError):
    """Both sides of a merge changed the same tables in different ways."""

    def __init__(self, source: str, dest: str, tables: list[str]) -> None:
        self.tables = tables
        super().__init__(
            f"merging {source} into {dest} conflicts on {len(tables)} table(s): "
            + ", ".join(tables),
            hint=f"rebuild those tables on {source} from {dest}'s inputs, or revert one side",
        )


class CommitConflict(VersioningError):
    """The branch head moved past the commit the warehouse was built on, and changed tables
    this commit changes too: committing would silently replace that work."""

    def __init__(self, branch: str, base: str, tables: list[str]) -> None:
        self.branch = branch
        self.tables = tables
        super().__init__(
            f"{branch} moved since the warehouse was checked out at {base[:12]} and changed "
            f"{', '.join(tables)}, which this commit changes too",
            hint=f"nothing was committed; rebuild on the new head (`sqlops checkout {branch} "
            "--force`, then `sqlops build`) and commit again",
        )


class UncommittedChanges(VersioningError):
    """An operation would replace built tables of the warehouse that no commit holds."""

    def __init__(self, action: str, tables: list[str]) -> None:
        self.tables = tables
        shown = ", ".join(tables[:5]) + (f" (+{len(tables) - 5} more)" if len(tables) > 5 else "")
        super().__init__(
            f"{action} would discard {len(tables)} uncommitted built table(s): {shown}",
            hint="commit them first (`sqlops commit -m ...`), or pass --force "
            "(force=True) to discard them",
        )


class CorruptObject(VersioningError):
    """Stored table data is missing or does not match its content hash."""


class ChecksFailed(VersioningError):
    """Pre-merge checks failed; nothing was merged. ``failures`` lists each one.

    The failures are ``sqlops.CheckFailure`` records (anything whose ``str`` names the check,
    the table and the reason).
    """

    def __init__(self, source: str, into: str, failures: Sequence[Any]) -> None:
        self.failures = list(failures)
        super().__init__(
            f"merge of {source} into {into} refused: {len(self.failures)} pre-merge check(s) "
            "failed: " + "; ".join(str(f) for f in self.failures),
            hint=f"fix the data on {source} (or the check) and merge again; nothing was merged",
        )


class OutputError(_Located):
    """A result cannot be written in the format asked for (e.g. a list column to CSV)."""


class FileAccessError(_Located):
    """A file or folder sqlops must read or write cannot be used."""


class DiskFull(FileAccessError):
    """The device ran out of space while sqlops was writing; what was written before stays."""


class FeatureError(SqlopsError):
    """A mistake in a feature definition, reference or request."""


class FeatureDefinitionError(FeatureError):
    """An entity or feature view definition that cannot be used."""


class UnknownFeatureError(FeatureError):
    """A feature reference (``view:feature``) that names nothing known."""


class EntityFrameError(FeatureError):
    """An entity frame (or feature source) whose columns do not fit the request."""


class OnlineStoreError(FeatureError):
    """The online store cannot answer: not materialized, or bad entity rows."""


class RegistryError(FeatureError):
    """A model registry or stored-frame mistake: unknown name or version, a corrupt artifact."""


class SynthesisError(FeatureError):
    """Aggregate features cannot be synthesized: unknown target, bad cutoff times, a
    relationship naming a missing column."""


class TransformError(FeatureError):
    """A fitted transform that cannot be fitted, found or applied to the given data."""


class GovernanceError(SqlopsError):
    """A governance mistake (contract, policy, approval, audit, monitor) or refusal."""


class ContractError(GovernanceError):
    """A contract that cannot be used: a missing column, an unknown check, a file that does
    not import (``path``/``line`` name it when known)."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        where = location(path, line) if path is not None else None
        super().__init__(f"{where}: {message}" if where else message, hint=hint)


class ContractFailed(GovernanceError):
    """Error-severity checks failed; ``results`` holds every check's result (all of them,
    never only the first failure)."""

    def __init__(self, table: str, results: Sequence[Any]) -> None:
        self.table = table
        self.results = list(results)
        bad = [r for r in self.results if getattr(r, "outcome", "") in ("failed", "error")]
        shown = "; ".join(str(r) for r in bad[:3]) + (
            f" (+{len(bad) - 3} more)" if len(bad) > 3 else ""
        )
        super().__init__(
            f"contract of {table} failed: {len(bad)} check(s): {shown}",
            hint="fix the data or the contract; the previous version stays published",
        )


class PolicyError(GovernanceError):
    """A role, column policy or row filter that is malformed or names unknown tables."""


class PolicyDenied(GovernanceError):
    """A role read a table or column it may not, or ran SQL outside its views."""

    def __init__(self, message: str, *, role: str, target: str = "", hint: str | None = None):
        self.role = role
        self.target = target
        super().__init__(f"role {role}: {message}", hint=hint)


class PrivacyError(GovernanceError):
    """An anonymization rule that cannot run, e.g. a ``hash`` rule without its secret."""


class ApprovalError(GovernanceError):
    """An approval or promotion refused: not an approver, an unknown stage or version, or
    unmet requirements (``unmet`` lists each)."""

    def __init__(self, message: str, *, unmet: Sequence[str] = (), hint: str | None = None):
        self.unmet = list(unmet)
        super().__init__(message, hint=hint)


class AuditError(GovernanceError):
    """The audit log is corrupt, edited, reordered or truncated (``line`` is the first bad
    one, 1-based, when known)."""

    def __init__(self, message: str, *, line: int | None = None, hint: str | None = None):
        self.line = line
        super().__init__(message, hint=hint)


class MonitorError(GovernanceError):
    """A drift reference that is missing, or does not fit the table monitored."""
