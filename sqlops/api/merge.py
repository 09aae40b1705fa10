"""Merge and revert: new commits made from others, with pre-merge checks."""

from __future__ import annotations

from functools import cached_property

from sqlops.api.audit import record
from sqlops.api.checkout import CheckoutMixin
from sqlops.api.contracts import bindings, merge_gate
from sqlops.api.query import QueryMixin
from sqlops.errors import ChecksFailed, MergeConflict
from sqlops.versioning import datafiles
from sqlops.versioning.checks import Check, MergeCandidate, check_name, load_checks, run_checks
from sqlops.versioning.store import Commit


class MergeMixin(CheckoutMixin, QueryMixin):
    """``merge``, ``revert`` and the pre-merge checks registered with ``add_check``."""

    def merge(self, source: str, into: str | None = None) -> Commit:
        """Three-way merge at table level; a table changed on both sides is a conflict.

        Pre-merge checks (``add_check`` and ``[versions] pre_merge``) run first against the
        exact commit ``source`` names, and that commit is what gets merged; if any check
        fails, ``ChecksFailed`` names each failed check and table and nothing is merged.
        Merging into the checked-out branch also shows the result in the warehouse; it is
        refused while the warehouse has uncommitted built tables.
        """
        store = self.versions
        dest = into or self._writable_branch(store)
        checks = [*load_checks(self.config.pre_merge, self.root), *self._added_checks]
        if dest in self.config.governance.protected_branches:
            spec = self.load()
            if bindings(spec):
                checks.append(("contracts", merge_gate(self.config, spec)))
        cid = store.resolve(source)
        message = f"merge {source} into {dest}"
        if checks:
            failures = run_checks(checks, self._candidate(source, dest, cid))
            if failures:
                details = {"commit": cid, "failed_checks": len(failures)}
                record(self, "merge", f"{source}->{dest}", "refused", details)
                raise ChecksFailed(source, dest, failures)
            message += f" ({len(checks)} pre-merge checks passed)"

        def merge() -> Commit:
            try:
                return store.merge(cid, dest, message, self._author())
            except MergeConflict as exc:
                raise MergeConflict(source, dest, exc.tables) from exc

        if dest != self.branch:
            made = merge()
        else:
            made = self._into_checked_out(f"merging {source} into {dest}", merge)
        record(self, "merge", f"{source}->{dest}", "merged", {"commit": made.id})
        return made

    def revert(self, ref: str) -> Commit:
        """A new commit on the current branch undoing what ``ref`` changed; the warehouse
        then shows it (refused while the warehouse has uncommitted built tables)."""
        store = self.versions
        branch = self._writable_branch(store)
        return self._into_checked_out(
            f"reverting {ref} on {branch}", lambda: store.revert(ref, branch, self._author())
        )

    def add_check(self, check: Check) -> Check:
        """Register a pre-merge check for this project object; returns it, so it also works
        as a decorator. The check gets a ``MergeCandidate`` (``.sql(q)``, ``.table(name)``,
        ``.changed``) and returns nothing when fine, else ``(table, message)`` pairs."""
        self._added_checks.append((check_name(check), check))
        return check

    @cached_property
    def _added_checks(self) -> list[tuple[str, Check]]:
        return []

    def _candidate(self, source: str, dest: str, cid: str) -> MergeCandidate:
        store = self.versions
        tree = store.get_commit(cid).tree
        head = store.get_commit(store.resolve(dest)).tree
        tables = tuple(sorted(n for n in tree if not datafiles.is_entry(n)))
        changed = tuple(n for n in tables if n not in head or head[n].content != tree[n].content)
        return MergeCandidate(source, dest, cid, tables, changed, lambda: self.engine_at(cid))
