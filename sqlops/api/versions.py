"""The data-version verbs of a project: commit, log, branches, merge, checkout, ..."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlops import __version__
from sqlops.api.base import ProjectBase
from sqlops.errors import UnknownTableError, VersioningError, did_you_mean
from sqlops.execute.lock import build_lock
from sqlops.execute.objects import atomic_write
from sqlops.plan import shortcut
from sqlops.versioning.store import Commit, TableVersion, TreeDiff, VersionStore, tree_diff

if TYPE_CHECKING:
    import polars as pl

    from sqlops.execute.engine import Engine


class VersionsMixin(ProjectBase):
    """Data versions on the project's store (the embedded local store)."""

    def branches(self) -> dict[str, str]:
        return self.versions.branches()

    def create_branch(self, name: str, from_ref: str | None = None) -> str:
        """A new branch at ``from_ref`` (the current branch by default); O(1) in data size."""
        return self.versions.create_branch(name, from_ref or self.branch)

    def delete_branch(self, name: str) -> None:
        if name == self.branch:
            raise VersioningError(
                f"cannot delete {name!r}: it is checked out", hint="check out another branch first"
            )
        self.versions.delete_branch(name)

    def commit(self, message: str, metadata: Mapping[str, str] | None = None) -> Commit | None:
        """Commit every built table (and a snapshot of each file source) to the current
        branch; None when nothing changed since its head."""
        from sqlops.versioning.workspace import working_tree

        store = self.versions
        branch = self._writable_branch(store)
        with build_lock(self.config.state_path):
            head = store.get_commit(store.resolve(branch))
            engine = self._open_warehouse(macros=False)
            try:
                engine.ensure_state()
                tree = working_tree(engine, self.objects, head.tree, set(self.load().sources))
            finally:
                engine.close()
            changes: dict[str, TableVersion | None] = {
                n: v for n, v in tree.items() if n not in head.tree or head.tree[n] != v
            }
            changes.update({n: None for n in head.tree.keys() - tree.keys()})
            if not changes:
                return None
            meta = {"sqlops_version": __version__, **_git_commit(self.root), **(metadata or {})}
            return store.commit(branch, changes, message, meta)

    def log(
        self, table: str | None = None, ref: str | None = None, limit: int | None = None
    ) -> list[Commit]:
        """History of a ref (the current branch by default), or of one table in it."""
        return self.versions.log(ref or self.branch, table.lower() if table else None, limit)

    def tag(self, name: str, ref: str | None = None) -> str:
        return self.versions.tag(name, ref or self.branch)

    def diff(self, a: str, b: str | None = None) -> TreeDiff:
        """Tables added, removed and changed from ``a`` to ``b`` (the current branch)."""
        store = self.versions
        ida, idb = store.resolve(a), store.resolve(b or self.branch)
        return tree_diff(store.get_commit(ida).tree, store.get_commit(idb).tree, (ida, idb))

    def diff_rows(self, table: str, a: str, b: str | None, key: Sequence[str]) -> pl.DataFrame:
        """Rows of one table added, removed or changed between two refs, by a unique key."""
        from sqlops.execute.engine import Engine
        from sqlops.versioning.workspace import row_diff

        if not key:
            raise VersioningError("a row diff needs a key", hint="pass --key COLUMN")
        store = self.versions
        name = table.lower() if "." in table else f"main.{table.lower()}"
        trees = [store.get_commit(store.resolve(r)).tree for r in (a, b or self.branch)]
        if all(name not in tree for tree in trees):
            known = set(trees[0]) | set(trees[1])
            raise UnknownTableError(table, hint=did_you_mean(name, known) or "see `sqlops log`")
        self._fetch(tree.get(name) for tree in trees)
        engine = Engine.open(macros=False)
        try:
            frame: pl.DataFrame = row_diff(
                engine, self.objects, trees[0].get(name), trees[1].get(name), list(key)
            )
            return frame
        finally:
            engine.close()

    def merge(self, source: str, into: str | None = None) -> Commit:
        """Three-way merge at table level; a table changed on both sides is a conflict."""
        return self.versions.merge(source, into or self._writable_branch(self.versions))

    def revert(self, ref: str) -> Commit:
        """A new commit on the current branch undoing what ``ref`` changed."""
        store = self.versions
        return store.revert(ref, self._writable_branch(store))

    def checkout(self, ref: str) -> list[str]:
        """Point the warehouse at a version: views over its objects, no data copied."""
        from sqlops.versioning.workspace import check_out

        store = self.versions
        commit = store.get_commit(store.resolve(ref))
        self._fetch(commit.tree.values())
        with build_lock(self.config.state_path):
            engine = self._open_warehouse(macros=False)
            try:
                names = check_out(engine, self.objects, commit, f"checkout_{commit.id[:12]}")
            finally:
                engine.close()
            shortcut.forget(self.config)
            target = ref if ref in store.branches() else commit.id
            atomic_write(self.config.state_path / "HEAD", target.encode())
        return names

    def gc(self) -> tuple[int, int]:
        """Delete objects that no commit and no warehouse table references."""
        with build_lock(self.config.state_path):
            state, _ = self._warehouse_state()
            live = frozenset(o for row in state.values() for o in row.get("objects", ()))
            return self.versions.gc(keep=live)

    def fsck(self) -> list[str]:
        """Check every ref, commit and object hash; returns the problems found (none: [])."""
        return self.versions.fsck()

    def _writable_branch(self, store: VersionStore) -> str:
        branch = self.branch
        if branch not in store.branches():
            raise VersioningError(
                f"the warehouse is at commit {branch[:12]}, not on a branch",
                hint="run `sqlops checkout <branch>` or `sqlops branch create NAME --from "
                f"{branch[:12]}` first",
            )
        return branch

    def _table_at(self, name: str, ref: str) -> pl.DataFrame:
        from sqlops.execute.engine import Engine
        from sqlops.versioning.workspace import read_version

        store = self.versions
        cid = store.resolve(ref)
        tree = store.get_commit(cid).tree
        key = name.lower() if "." in name else f"main.{name.lower()}"
        if key not in tree:
            raise UnknownTableError(
                name, hint=did_you_mean(key, tree) or f"{ref} ({cid[:12]}) has no such table"
            )
        self._fetch([tree[key]])
        engine = Engine.open(macros=False)
        try:
            frame: pl.DataFrame = read_version(engine, self.objects, tree[key])
            return frame
        finally:
            engine.close()

    def engine_at(self, ref: str) -> Engine:
        """A scratch DuckDB connection whose views show every table as committed at ``ref``."""
        from sqlops.execute.engine import Engine
        from sqlops.versioning.workspace import attach_views

        store = self.versions
        commit = store.get_commit(store.resolve(ref))
        self._fetch(commit.tree.values())
        engine = Engine.open()
        attach_views(engine, self.objects, commit)
        return engine


def _git_commit(root: Path) -> dict[str, str]:
    """The project's git commit, recorded in data commits for lineage (when there is one)."""
    import subprocess

    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return {"git_commit": done.stdout.strip()} if done.returncode == 0 else {}
