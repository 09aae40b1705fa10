"""Commit: record the warehouse's built tables as a new version of the checked-out branch."""

from __future__ import annotations

import os
from collections.abc import Mapping

from sqlops._version import __version__
from sqlops.api.audit import record
from sqlops.api.checkout import CheckoutMixin
from sqlops.api.gitmeta import git_commit
from sqlops.plan.fingerprint import digest
from sqlops.storage import shortcut
from sqlops.storage.lock import build_lock
from sqlops.versioning import datafiles
from sqlops.versioning.store import Commit, TableVersion

# the head commit the warehouse was last found to hold (see ``commit``)
_COMMITTED = "cache/committed"


class CommitMixin(CheckoutMixin):
    """``commit``, and the note that lets an empty commit skip DuckDB."""

    def commit(self, message: str, metadata: Mapping[str, str] | None = None) -> Commit | None:
        """Commit every built table (and a snapshot of each file source) to the current
        branch; None when nothing changed since the commit the warehouse was checked out at.

        What the warehouse changed is measured against that commit, not against the branch
        head: if the head has moved since (a merge, another writer), the changes land on
        top of it when they touch other tables, and the warehouse then shows the new head;
        if they touch a table the head changed too, ``CommitConflict`` refuses the commit.
        A table whose model no longer exists is never committed as new or changed; the
        next build drops it from the warehouse, and the commit after that deletes it.

        While the branch head, the warehouse and the declared sources stay as they were at
        the last commit, the next commit is known to be empty without opening DuckDB
        (whose start-up and shutdown alone cost ~30 ms).
        """
        from sqlops.versioning.workspace import working_tree

        store = self.versions
        branch = self._writable_branch(store)
        sources = {n.lower() for n in self.config.sources}
        with build_lock(self.config.state_path):
            head_id = store.resolve(branch)
            base_id = self._base_id(store, head_id)
            if base_id == head_id and self._committed_as(head_id, sources):
                return None
            base = store.get_commit(base_id)
            spec = self.load()
            current = {*spec.sources, *spec.models}
            engine = self._open_warehouse(macros=False)
            try:
                engine.defer_checkpoint()  # a commit only reads the warehouse
                tree = working_tree(engine, self.objects, base.tree, set(spec.sources))
            finally:
                engine.close()
            # raw files change only through data_add: a checkout may list them in the
            # warehouse state, but they are never built, so never deleted by a commit
            tree = {n: v for n, v in tree.items() if not datafiles.is_entry(n)}
            changes: dict[str, TableVersion | None] = {
                n: v for n, v in tree.items() if n in current and base.tree.get(n) != v
            }
            changes.update(
                {n: None for n in base.tree.keys() - tree.keys() if not datafiles.is_entry(n)}
            )
            if not changes:
                if base_id == head_id:
                    self._note_committed(head_id, sources)
                return None
            meta = {"sqlops_version": __version__, **git_commit(self.root), **(metadata or {})}
            made = store.commit(branch, changes, message, meta, self._author(), base=base_id)
            if made.parents[:1] != (base_id,):  # the branch had moved: show what it brought
                moved = {
                    n
                    for n in base.tree.keys() | made.tree.keys()
                    if n not in changes and base.tree.get(n) != made.tree.get(n)
                }
                self._point_at(made, only=moved)
            self._set_base(made.id)
            record(self, "commit", branch, "committed", {"commit": made.id, "tables": len(changes)})
            if made.parents[:1] == (head_id,) and base_id == head_id:
                self._note_committed(made.id, sources)
            return made

    def _committed_key(self, head_id: str, sources: set[str]) -> str:
        return digest([head_id, shortcut.warehouse_digest(self.config), sorted(sources)])

    def _committed_as(self, head_id: str, sources: set[str]) -> bool:
        """Whether the warehouse is, as last noted, exactly what commit ``head_id`` holds."""
        try:
            noted = (self.config.state_path / _COMMITTED).read_text()
        except OSError:
            return False
        return noted == self._committed_key(head_id, sources)

    def _note_committed(self, head_id: str, sources: set[str]) -> None:
        """Note that the warehouse as it is now is what commit ``head_id`` holds (a cache:
        losing it only costs the next commit a full look)."""
        path = self.config.state_path / _COMMITTED
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(self._committed_key(head_id, sources))
        os.replace(tmp, path)
