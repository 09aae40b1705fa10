"""Refs and history: branches, tags, log and diffs between versions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlops.api.base import ProjectBase
from sqlops.errors import UnknownTableError, VersioningError, did_you_mean
from sqlops.versioning.store import Commit, TreeDiff, tree_diff

if TYPE_CHECKING:
    import polars as pl


class BranchesMixin(ProjectBase):
    """Branches, tags, ``log``, ``diff`` and ``diff_rows``."""

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

    def tag(self, name: str, ref: str | None = None) -> str:
        return self.versions.tag(name, ref or self.branch)

    def log(
        self, table: str | None = None, ref: str | None = None, limit: int | None = None
    ) -> list[Commit]:
        """History of a ref (the current branch by default), or of one table in it."""
        return self.versions.log(ref or self.branch, table.lower() if table else None, limit)

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
