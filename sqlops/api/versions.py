"""The data-version verbs of a project: commit, log, branches, merge, checkout, ..."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlops._version import __version__
from sqlops.api.base import ProjectBase
from sqlops.config import SourceConfig, parse_toml
from sqlops.errors import (
    ChecksFailed,
    ConfigError,
    MergeConflict,
    SourceError,
    UncommittedChanges,
    UnknownTableError,
    VersioningError,
    did_you_mean,
)
from sqlops.oserrors import read_text
from sqlops.plan.fingerprint import digest
from sqlops.storage import shortcut
from sqlops.storage.lock import build_lock
from sqlops.storage.objects import atomic_write, file_hash
from sqlops.versioning import datafiles
from sqlops.versioning.checks import (
    Check,
    MergeCandidate,
    check_name,
    load_checks,
    run_checks,
)
from sqlops.versioning.datafiles import DataFile
from sqlops.versioning.local import TEMP_GRACE, sweep_temp
from sqlops.versioning.store import Commit, TableVersion, TreeDiff, VersionStore, tree_diff

if TYPE_CHECKING:
    import polars as pl

    from sqlops.execute.engine import Engine
    from sqlops.execute.results import BuildResult
    from sqlops.plan.planner import Plan
    from sqlops.versioning.workspace import TableChange

# the head commit the warehouse was last found to hold (see ``commit``)
_COMMITTED = "cache/committed"
# the commit the warehouse was last checked out at or committed as: what its tables are
# compared with to find uncommitted work (not a cache: without it, a branch that moved
# would look like changes the warehouse made)
_BASE = "BASE"
# the incremental models built from a ref's inputs by ``build --at`` (see ``_incremental_state``)
_BUILT_AT = "incremental_at.json"
# temporary files of the project's own state: BASE and HEAD, the caches
_STATE_TEMP = ((".", ".tmp-*"), ("cache", "**/.tmp-*"), ("cache", "*.tmp"))
_SOURCE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")
_DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".json", ".ndjson", ".jsonl")


@dataclass(frozen=True)
class DataAdded:
    """What ``data_add`` did: the file, the source it feeds, and the commit (None when the
    file was already stored as it is)."""

    file: DataFile
    commit: Commit | None
    new_source: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.file.to_dict(),
            "commit": self.commit.id if self.commit else None,
            "new_source": self.new_source,
        }


@dataclass(frozen=True)
class Status:
    """Where the warehouse stands: the ref checked out, the commit its tables show, the
    branch head (another commit when the branch moved since), uncommitted tables, and the
    models a build would run (with why)."""

    ref: str
    branch: str | None
    commit: str
    head: str | None
    uncommitted: tuple[TableChange, ...]
    stale: tuple[tuple[str, str], ...]

    @property
    def behind(self) -> bool:
        """Whether the branch has commits the warehouse does not show."""
        return self.head is not None and self.head != self.commit

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "branch": self.branch,
            "commit": self.commit,
            "head": self.head,
            "behind": self.behind,
            "uncommitted": [c.to_dict() for c in self.uncommitted],
            "stale": [{"name": n, "reason": r} for n, r in self.stale],
        }


class VersionsMixin(ProjectBase):
    """Data versions on the project's store (the embedded local store)."""

    if TYPE_CHECKING:

        def build(self, *args: Any, **kwargs: Any) -> BuildResult: ...

        def plan(self, *args: Any, **kwargs: Any) -> Plan: ...

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
            meta = {"sqlops_version": __version__, **_git_commit(self.root), **(metadata or {})}
            made = store.commit(branch, changes, message, meta, self._author(), base=base_id)
            if made.parents[:1] != (base_id,):  # the branch had moved: show what it brought
                moved = {
                    n
                    for n in base.tree.keys() | made.tree.keys()
                    if n not in changes and base.tree.get(n) != made.tree.get(n)
                }
                self._point_at(made, only=moved)
            self._set_base(made.id)
            if made.parents[:1] == (head_id,) and base_id == head_id:
                self._note_committed(made.id, sources)
            return made

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
        return self.config.versions_author or _git_author(self.root)

    def status(self) -> Status:
        """The checked-out ref, the commit the warehouse shows and the branch head, the
        tables a commit would record, and the models a build would run."""
        store = self.versions
        ref = self.branch
        branch = ref if ref in store.branches() else None
        head = store.resolve(branch) if branch else None
        commit = self._base_id(store, head)
        spec = self.load()
        _, changes = self._changes({*spec.sources, *spec.models})
        stale = tuple((n.name, n.reason) for n in self.plan().models if n.action == "run")
        return Status(ref, branch, commit, head, tuple(changes), stale)

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
        cid = store.resolve(source)
        message = f"merge {source} into {dest}"
        if checks:
            failures = run_checks(checks, self._candidate(source, dest, cid))
            if failures:
                raise ChecksFailed(source, dest, failures)
            message += f" ({len(checks)} pre-merge checks passed)"

        def merge() -> Commit:
            try:
                return store.merge(cid, dest, message, self._author())
            except MergeConflict as exc:
                raise MergeConflict(source, dest, exc.tables) from exc

        if dest != self.branch:
            return merge()
        return self._into_checked_out(f"merging {source} into {dest}", merge)

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

    def data_add(
        self, path: Path | str, name: str | None = None, message: str | None = None
    ) -> DataAdded:
        """Snapshot a data file into the store as a commit on the current branch: its exact
        bytes (restored by ``data_checkout``) and the table they parse to (what
        ``table(name, ref=)`` and ``build(at=)`` read). The file becomes source ``name``
        (default: the source already reading it, else ``raw.<file stem>``) if it is not one.
        Relative paths start at the project root."""
        store = self.versions
        branch = self._writable_branch(store)
        file, rel = self._data_file(path)
        name, new = self._data_source(file, rel, name)
        config_text = _with_source(self.config, name, rel) if new else None
        before = self.config
        if new:
            sources = {**before.sources, name: SourceConfig(name=name, path=rel)}
            self.config = dataclasses.replace(before, sources=sources)
        try:
            made = self._snapshot_file(store, branch, file, rel, name, message)
        except BaseException:
            self.config = before
            raise
        if config_text is not None:
            config_file = before.config_file or Path("sqlops.toml")
            atomic_write(self.root / config_file, config_text.encode())
            self.config = dataclasses.replace(self.config, config_file=config_file)
        return DataAdded(made[0], made[1], new)

    def _snapshot_file(
        self,
        store: VersionStore,
        branch: str,
        file: Path,
        rel: str,
        name: str,
        message: str | None,
    ) -> tuple[DataFile, Commit | None]:
        """Build the source's view, then commit its parsed rows and its raw bytes."""
        from sqlops.versioning.workspace import working_tree

        result = self.build(select=[name])
        failed = next((n for n in result.nodes if n.status == "error"), None)
        if failed is not None:
            reason = (failed.error or "unreadable").splitlines()[0]
            raise SourceError(f"cannot read {rel} as source {name}: {reason}", path=rel)
        with build_lock(self.config.state_path):
            head = store.get_commit(store.resolve(branch))
            before = file_hash(file)
            engine = self._open_warehouse(macros=False)
            try:
                parsed = working_tree(engine, self.objects, head.tree, {name})[name]
            finally:
                engine.close()
            raw = datafiles.pack(file, rel, name, self.objects)
            if raw.fingerprint != before:  # the rows and the bytes must be one version
                raise SourceError(
                    f"{rel} changed while it was being added",
                    hint="add it again once it is written",
                )
            info = DataFile(name, rel, file.stat().st_size, raw.fingerprint)
            new = {name: parsed, datafiles.entry_name(name): raw}
            if all(n in head.tree and head.tree[n].content == v.content for n, v in new.items()):
                return info, None
            changes: dict[str, TableVersion | None] = {
                n: v for n, v in new.items() if head.tree.get(n) != v
            }
            meta = {"sqlops_version": __version__, **_git_commit(self.root), "data_add": rel}
            made = store.commit(branch, changes, message or f"data add {rel}", meta, self._author())
            if self._base_id(store, head.id) == head.id and made.parents[:1] == (head.id,):
                self._set_base(made.id)  # the warehouse holds exactly what was committed
        return info, made

    def _data_file(self, path: Path | str) -> tuple[Path, str]:
        """The file to add and its path relative to the project root."""
        given = Path(path)
        file = (given if given.is_absolute() else self.root / given).resolve()
        shown = file.relative_to(self.root).as_posix() if file.is_relative_to(self.root) else path
        if not file.is_file():
            what = "is a folder" if file.is_dir() else "does not exist"
            raise SourceError(
                f"{shown} {what}",
                hint="give one data file; relative paths start at the project root",
            )
        if not file.is_relative_to(self.root):
            raise SourceError(
                f"{path} is outside the project folder {self.root}",
                hint="copy it into the project (e.g. data/) and add it from there",
            )
        if file.suffix.lower() not in _DATA_SUFFIXES:
            raise SourceError(
                f"cannot tell the format of {file.name}",
                hint="data add takes .csv, .tsv, .parquet, .json or .ndjson files",
            )
        return file, file.relative_to(self.root).as_posix()

    def _data_source(self, file: Path, rel: str, name: str | None) -> tuple[str, bool]:
        """The source the file feeds, and whether it has to be declared."""
        reading = [
            cfg.name
            for cfg in self.config.sources.values()
            if cfg.path and (self.root / cfg.path).resolve() == file
        ]
        if name is None:
            if reading:
                return reading[0].lower(), False
            stem = re.sub(r"[^a-z0-9_]", "_", file.stem.lower())
            name = f"raw.{stem if stem[:1].isalpha() else 't_' + stem}"
        if not _SOURCE_NAME.match(name):
            raise SourceError(
                f"source name {name!r} must be schema.table",
                hint=f"e.g. --name raw.{re.sub(r'[^a-z0-9_]', '_', name.lower()) or 'orders'}",
            )
        name = name.lower()
        known = {n.lower(): cfg for n, cfg in self.config.sources.items()}
        if name in known:
            cfg = known[name]
            if name not in {r.lower() for r in reading}:
                raise SourceError(
                    f"source {name} reads {cfg.path!r}, not {rel}",
                    hint="pick another --name, or point the source at this file",
                )
            return name, False
        if reading:
            raise SourceError(
                f"{rel} is already source {reading[0]}",
                hint=f"use --name {reading[0]} (or leave --name out)",
            )
        if name in self.load().models:
            raise SourceError(f"{name} is a model", hint="pick another --name for the data file")
        return name, True

    def data_checkout(
        self, ref: str, name: str | None = None, force: bool = False
    ) -> list[DataFile]:
        """Write the raw files recorded at ``ref`` back to their paths, byte for byte
        (hash-verified). A file whose current content is stored in no version known here
        (neither at ``ref`` nor at the checked-out head) is refused unless ``force``."""
        store = self.versions
        commit = store.get_commit(store.resolve(ref))
        files = datafiles.entries(commit.tree)
        if not files:
            raise VersioningError(
                f"{ref} ({commit.id[:12]}) holds no data files",
                hint="snapshot one with `sqlops data add PATH`",
            )
        if name is not None:
            key = name.lower()
            if key not in files:
                hint = did_you_mean(key, files) or f"{ref} has: {', '.join(files)}"
                raise UnknownTableError(name, hint=hint)
            files = {key: files[key]}
        self._fetch(files.values())
        head = datafiles.entries(store.get_commit(store.resolve(self.branch)).tree)
        plan = [(datafiles.describe(self.objects, v), v) for v in files.values()]
        if not force:
            for info, version in plan:
                self._check_overwrite(info, version, head.get(info.source))
        return [datafiles.unpack(self.objects, v, self.root) for _, v in plan]

    def _check_overwrite(
        self, info: DataFile, target: TableVersion, head: TableVersion | None
    ) -> None:
        path = self.root / info.path
        if not path.is_file():
            return
        current = file_hash(path)
        if current in {target.fingerprint, head.fingerprint if head else ""}:
            return
        raise VersioningError(
            f"{info.path} has changes that are stored in no version",
            hint=f"snapshot them first with `sqlops data add {info.path}`, or pass --force "
            "to overwrite them",
        )

    def revert(self, ref: str) -> Commit:
        """A new commit on the current branch undoing what ``ref`` changed; the warehouse
        then shows it (refused while the warehouse has uncommitted built tables)."""
        store = self.versions
        branch = self._writable_branch(store)
        return self._into_checked_out(
            f"reverting {ref} on {branch}", lambda: store.revert(ref, branch, self._author())
        )

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

    # -- build --at and incremental models ----------------------------------------------
    #
    # An incremental model's table is the history of the rows it was fed, not a function of
    # today's inputs. To reproduce it at a ref, ``build(at=)`` rebuilds it in full from the
    # inputs at that ref; and the next plain build rebuilds it in full again from today's
    # inputs, since appending today's rows to a table grown from another version's history
    # would match neither. ``incremental_at.json`` notes the ref each was last rebuilt at.

    _building_at: str | None = None

    def _incremental_state(
        self, state: dict[str, dict[str, Any]], incremental: set[str]
    ) -> dict[str, dict[str, Any]]:
        """The build state the planner sees: without the incremental models that must be
        rebuilt in full (as if new), as explained above."""
        built_at = self._built_at()
        at = self._building_at
        redo = {n for n in incremental if built_at.get(n) != at} if at else set(built_at)
        return {n: row for n, row in state.items() if n not in redo}

    def _note_incremental(self, incremental: set[str], built: set[str]) -> None:
        """Record which incremental models now hold rows built at which ref."""
        path = self.config.state_path / _BUILT_AT
        before = self._built_at()
        if not before and self._building_at is None:
            return
        noted = {n: r for n, r in before.items() if n in incremental and n not in built}
        if self._building_at is not None:
            noted.update({n: self._building_at for n in incremental & built})
        if noted:
            atomic_write(path, json.dumps(noted, sort_keys=True).encode())
        else:
            path.unlink(missing_ok=True)

    def _built_at(self) -> dict[str, str]:
        try:
            noted = json.loads((self.config.state_path / _BUILT_AT).read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in noted.items()} if isinstance(noted, dict) else {}

    def gc(self, grace: float = TEMP_GRACE) -> tuple[int, int]:
        """Delete objects that no commit and no warehouse table references, the part
        links of ``build --at`` inputs that no warehouse view reads any more, and the
        temporary files killed writes left (those older than ``grace`` seconds: a younger
        one may belong to a write still running). Returns (files, bytes) removed."""
        with build_lock(self.config.state_path):
            state, _ = self._warehouse_state()
            live = frozenset(o for row in state.values() for o in row.get("objects", ()))
            self._prune_inputs_at()
            count, freed = sweep_temp(self.config.state_path, _STATE_TEMP, grace)
            more, more_freed = self.versions.gc(keep=live, grace=grace)
            return count + more, freed + more_freed

    def _prune_inputs_at(self) -> None:
        folder = self.config.state_path / "at"
        if not folder.is_dir():
            return
        views = ""
        if self.config.warehouse_path.exists():
            engine = self._open_warehouse(read_only=True, macros=False)
            try:
                frame = engine.polars("SELECT sql FROM duckdb_views() WHERE NOT internal")
                views = "\n".join(str(v) for v in frame["sql"].to_list())
            finally:
                engine.close()
        for links in folder.iterdir():
            if f"{links}/" not in views:
                shutil.rmtree(links, ignore_errors=True)

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


def _with_source(config: Any, name: str, rel: str) -> str:
    """The config file's text with ``[sources."name"]`` appended (checked to parse)."""
    config_file = config.config_file or Path("sqlops.toml")
    path = config.root / config_file
    text = read_text(path, config_file) if path.is_file() else ""
    prefix = "tool.sqlops." if config_file.name == "pyproject.toml" else ""
    block = f'[{prefix}sources."{name}"]\npath = {json.dumps(rel)}\n'
    new = text + ("\n" if text and not text.endswith("\n") else "") + ("\n" if text else "")
    new += block
    try:
        parse_toml(new, config_file)
    except ConfigError as exc:
        raise ConfigError(
            f"cannot declare source {name} in {config_file}: {exc.message}",
            path=config_file,
            hint=f"add it by hand: {block.strip()}",
        ) from exc
    return new


def _git_author(root: Path) -> str:
    """``Name <email>`` from git's config for the project (one git call), or "" (the store
    then records the login name)."""
    import subprocess

    try:
        done = subprocess.run(
            ["git", "config", "--get-regexp", r"^user\.(name|email)$"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    found = dict(line.partition(" ")[::2] for line in done.stdout.splitlines())
    name, email = found.get("user.name", "").strip(), found.get("user.email", "").strip()
    return f"{name} <{email}>" if name and email else name or email


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
