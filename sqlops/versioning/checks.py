"""Pre-merge checks (write-audit-publish): the audit step between a branch and its merge.

A check is any callable that takes a ``MergeCandidate`` (the exact commit about to be
merged, queryable) and returns what failed: nothing (``None`` or an empty iterable) when
the data is fine, else ``CheckFailure`` records or ``(table, message)`` pairs. A check that
raises counts as failed, so a broken check can never wave a merge through. Every check runs
(collect-all), then one ``ChecksFailed`` names each failed check and table.

Checks come from ``project.add_check(fn)`` and from ``[versions] pre_merge =
["module:function"]`` in the config (the project root is importable); data contracts plug in
here as one more check.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlops.errors import ChecksFailed as ChecksFailed  # defined in errors.py; kept importable
from sqlops.errors import ConfigError, SqlopsError

if TYPE_CHECKING:
    import polars as pl

    from sqlops.execute.engine import Engine


@dataclass(frozen=True)
class CheckFailure:
    """One failed check: which check, on which table ("" when not about one table), why."""

    check: str
    table: str
    message: str

    def __str__(self) -> str:
        where = f" on {self.table}" if self.table else ""
        return f"{self.check}{where}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"check": self.check, "table": self.table, "message": self.message}


Check = Callable[["MergeCandidate"], Iterable["CheckFailure | tuple[str, str]"] | None]


@dataclass
class MergeCandidate:
    """What a pre-merge check sees: the version about to be merged.

    Attributes:
        source: the ref as the user named it (``dev``).
        into: the branch it would be merged into.
        commit: the commit id checked — and merged, if every check passes.
        tables: every table at that commit.
        changed: the tables that differ from ``into``'s head (added or changed there).
    """

    source: str
    into: str
    commit: str
    tables: tuple[str, ...]
    changed: tuple[str, ...]
    open_engine: Callable[[], Engine] = field(repr=False)
    _engine: Engine | None = field(default=None, repr=False)

    def sql(self, query: str, **params: Any) -> pl.DataFrame:
        """Run a query against the tables as committed in the candidate."""
        from sqlops.execute.engine import Where

        if self._engine is None:
            self._engine = self.open_engine()
        return self._engine.polars(query, params or None, Where(path="<pre-merge check>"))

    def table(self, name: str) -> pl.DataFrame:
        """One table of the candidate as a Polars DataFrame."""
        from sqlops.execute.materialize import qualified

        return self.sql(f"SELECT * FROM {qualified(name)}")

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


def check_name(check: Callable[..., Any]) -> str:
    """A check's name as failures report it: its function name."""
    return str(getattr(check, "__name__", None) or type(check).__name__)


def run_checks(
    checks: Sequence[tuple[str, Check]], candidate: MergeCandidate
) -> list[CheckFailure]:
    """Run every check against the candidate and collect what failed."""
    failures: list[CheckFailure] = []
    try:
        for name, check in checks:
            failures += _run_one(name, check, candidate)
    finally:
        candidate.close()
    return failures


def _run_one(name: str, check: Check, candidate: MergeCandidate) -> list[CheckFailure]:
    try:
        found = check(candidate)
        return [_failure(name, item) for item in found or ()]
    except Exception as exc:  # user code: a check that breaks fails closed
        message = exc.message if isinstance(exc, SqlopsError) else str(exc).splitlines()[0]
        return [CheckFailure(name, "", f"raised {type(exc).__name__}: {message}")]


def _failure(name: str, item: Any) -> CheckFailure:
    if isinstance(item, CheckFailure):
        return item
    if isinstance(item, str):
        return CheckFailure(name, "", item)
    table, message = item
    return CheckFailure(name, str(table), str(message))


def load_checks(specs: Sequence[str], root: Path) -> list[tuple[str, Check]]:
    """Import the checks named in ``[versions] pre_merge`` (``module:function``)."""
    checks: list[tuple[str, Check]] = []
    for spec in specs:
        module_name, _, attr = spec.partition(":")
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # user code: any failure is the user's to fix
            raise ConfigError(
                f"versions.pre_merge: importing {module_name!r} failed: "
                f"{type(exc).__name__}: {exc}",
                hint="the module must be importable from the project root",
            ) from exc
        check = getattr(module, attr, None)
        if not callable(check):
            raise ConfigError(
                f"versions.pre_merge: module {module_name!r} has no function {attr!r}",
                hint="write 'module:function' naming a function that takes the merge candidate",
            )
        checks.append((check_name(check), check))
    return checks
