"""Which commit the warehouse shows: checkout, and what merges, reverts and commits
need to keep the warehouse and the checked-out branch in step."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from sqlops.api.base import ProjectBase
from sqlops.api.gitmeta import git_author
from sqlops.errors import UncommittedChanges, VersioningError
from sqlops.storage import shortcut
from sqlops.storage.lock import build_lock
from sqlops.storage.objects import atomic_write
from sqlops.versioning.store import Commit, VersionStore

if TYPE_CHECKING:
    from sqlops.versioning.workspace import TableChange


# the commit the warehouse was last checked out at or committed as: what its tables are
# compared with to find uncommitted work (not a cache: without it, a branch that moved
# would look like changes the warehouse made)
_BASE = "BASE"


class CheckoutMixin(ProjectBase):
    """The checked-out ref and the commit the warehouse's tables show."""

    def checkout(self, ref: str, force: bool = False) -> list[str]:
        """Point the warehouse at a version: views over its objects, no data copied.

        Refused (``UncommittedChanges``) when built tables that no commit holds would be
        replaced or dropped, unless ``force``.
        """
        store = self.versions
        branches = store.branches()
        commit = store.get_commit(branches.get(ref) or store.resolve(ref))
        with build_lock(self.config.state_path):
            names = self._point_at(commit, guard="" if force else f"checking out {ref}")
            self._set_base(commit.id)
            target = ref if ref in branches else commit.id
            if self.branch != target:
                atomic_write(self.config.state_path / "HEAD", target.encode())
        return names

    def _writable_branch(self, store: VersionStore) -> str:
        branch = self.branch
        if branch not in store.branches():
            raise VersioningError(
                f"the warehouse is at commit {branch[:12]}, not on a branch",
                hint="run `sqlops checkout <branch>` or `sqlops branch create NAME --from "
                f"{branch[:12]}` first",
            )
        return branch

    def _base_id(self, store: VersionStore, head_id: str | None = None) -> str:
        """The commit the warehouse shows (see ``_BASE``); the checked-out ref's commit
        when none was recorded (a warehouse from before sqlops recorded it)."""
        try:
            noted = (self.config.state_path / _BASE).read_text().strip()
        except OSError:
            noted = ""
        if noted and noted == head_id:
            return noted  # the usual case, known without reading the commit
        if noted:
            try:
                return store.get_commit(noted).id
            except VersioningError:
                pass  # e.g. the store was replaced: fall back to the ref
        return head_id or store.resolve(self.branch)

    def _set_base(self, commit_id: str) -> None:
        atomic_write(self.config.state_path / _BASE, commit_id.encode())

    def _point_at(
        self,
        commit: Commit,
        only: set[str] | None = None,
        guard: str = "",
    ) -> list[str]:
        """Re-point the warehouse's tables (``only`` those, if given) at ``commit``. With
        ``guard`` (the action, for the message), first refuse (``UncommittedChanges``) if
        uncommitted built tables would be lost, in the same DuckDB session (opening one
        costs more than the checkout)."""
        from sqlops.versioning.workspace import check_out, unsaved

        self._fetch(commit.tree.values())
        engine = self._open_warehouse(macros=False)
        try:
            if guard:
                state = engine.read_state()
                lost = unsaved(state, self._uncommitted(state), commit.tree)
                if lost:
                    raise UncommittedChanges(guard, lost)
            names = check_out(engine, self.objects, commit, f"checkout_{commit.id[:12]}", only)
        finally:
            engine.close()
        shortcut.forget(self.config)
        return names

    def _changes(
        self, current: set[str] | None = None
    ) -> tuple[dict[str, dict[str, Any]], list[TableChange]]:
        """The warehouse's build state and how it differs from the commit it shows."""
        if not self.config.warehouse_path.exists():
            return {}, []
        engine = self._open_warehouse(macros=False)
        try:
            engine.defer_checkpoint()
            state = engine.read_state()
        finally:
            engine.close()
        return state, self._uncommitted(state, current)

    def _uncommitted(
        self, state: Mapping[str, Mapping[str, Any]], current: set[str] | None = None
    ) -> list[TableChange]:
        """How the build state differs from the commit the warehouse shows (with
        ``current``, the project's models and sources, see ``uncommitted``)."""
        from sqlops.versioning.workspace import uncommitted

        store = self.versions
        base = store.get_commit(self._base_id(store))
        sources = {n.lower() for n in self.config.sources}
        return uncommitted(state, base.tree, sources, current)

    def _into_checked_out(self, action: str, operation: Callable[[], Commit]) -> Commit:
        """Run a merge or revert into the checked-out branch, then show its result in the
        warehouse (as git updates the working tree). Refused, before anything moves, while
        the warehouse has built tables no commit holds: the new head would replace them."""
        from sqlops.versioning.workspace import unsaved

        with build_lock(self.config.state_path):
            state, changes = self._changes()
            lost = unsaved(state, changes, None)
            if lost:
                raise UncommittedChanges(action, lost)
            made = operation()
            if self.config.warehouse_path.exists():
                self._point_at(made)
            self._set_base(made.id)
        return made

    def _author(self) -> str:
        """Who commits: ``[versions] author``, else git's user.name <user.email>."""
        return self.config.versions_author or git_author(self.root)
