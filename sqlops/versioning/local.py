"""The embedded version store: content-addressed Parquet objects, commits and refs on disk.

Layout under ``.sqlops/versions/``::

    objects/ab/cdef....parquet   table parts, named by the blake3 hash of their bytes
    commits/<id>.json            parents, message, author, time, metadata, tree
    refs/heads/<branch>          a commit id
    refs/tags/<tag>              a commit id

Every file is written to a temporary name, fsynced and renamed into place, objects before
the commit and the commit before the ref, so after a crash at any point every ref still
names a complete commit whose objects all exist. Commits to one branch are serialized by a
per-branch lock; different branches never wait for each other.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlops.config import user_name
from sqlops.errors import CorruptObject, MergeConflict, RefNotFound, VersioningError
from sqlops.storage.objects import ObjectStore, atomic_write, file_hash, fsync_dir
from sqlops.versioning.store import (
    Commit,
    TableVersion,
    TreeEdit,
    applying,
    check_name,
    commit_id,
    history,
    merge_base,
    parse_ref,
    reverting,
    three_way,
)

DEFAULT_BRANCH = "main"
# a temporary file younger than this may still be written by a live process; an older one
# was left by a process that died between writing it and renaming it into place
TEMP_GRACE = 60.0
# where writes leave temporary files: atomic_write's ``.tmp-*`` beside its target, and
# parts being written in objects/tmp
TEMP_FILES = (("objects/tmp", "*"), ("commits", ".tmp-*"), ("refs", "**/.tmp-*"))


def sweep_temp(root: Path, spots: Iterable[tuple[str, str]], grace: float) -> tuple[int, int]:
    """Delete the temporary files under ``root`` (``(folder, glob)`` pairs) older than
    ``grace`` seconds: what a killed write leaves. Returns (count, bytes freed)."""
    cutoff = time.time() - grace
    count = freed = 0
    for folder, pattern in spots:
        for path in (root / folder).glob(pattern) if (root / folder).is_dir() else ():
            try:
                st = path.stat()
                if not path.is_file() or st.st_mtime > cutoff:
                    continue
                path.unlink()
            except FileNotFoundError:
                continue  # renamed into place or removed meanwhile
            count, freed = count + 1, freed + st.st_size
    return count, freed


def committed_objects(root: Path) -> set[str]:
    """Every object id any commit in the store at ``root`` references."""
    commits = root / "commits"
    if not commits.is_dir():
        return set()
    return {
        part
        for path in commits.glob("*.json")
        for version in Commit.from_json(json.loads(path.read_text())).tree.values()
        for part in version.parts
    }


class LocalStore:
    """The default backend: everything under one folder, no server."""

    def __init__(self, root: Path, objects: ObjectStore | None = None) -> None:
        self.root = root
        self.store = objects or ObjectStore(root / "objects", root)
        self.objects = self.store.folder
        self.commits = root / "commits"
        self.heads = root / "refs" / "heads"
        self.tag_dir = root / "refs" / "tags"

    # -- setup ---------------------------------------------------------------------------

    def init(self, branch: str = DEFAULT_BRANCH) -> str:
        """Create the store with an empty root commit on ``branch`` (idempotent)."""
        for folder in (self.objects, self.commits, self.heads, self.tag_dir):
            folder.mkdir(parents=True, exist_ok=True)
        existing = self.branches()
        if existing:
            return existing.get(branch) or next(iter(existing.values()))
        root = self._write_commit((), "init", "sqlops", {}, {})
        atomic_write(self.heads / branch, root.id.encode())
        return root.id

    # -- refs ----------------------------------------------------------------------------

    def branches(self) -> dict[str, str]:
        return self._refs(self.heads)

    def tags(self) -> dict[str, str]:
        return self._refs(self.tag_dir)

    def _refs(self, folder: Path) -> dict[str, str]:
        """Ref names (``a/b`` for nested folders) and their commit ids, sorted by name.
        os.walk, because pathlib's rglob costs about a millisecond even for a few refs."""
        refs: dict[str, str] = {}
        for parent, _, files in os.walk(folder):
            prefix = os.path.relpath(parent, folder).replace(os.sep, "/")
            for name in files:
                if not name.startswith("."):
                    with open(os.path.join(parent, name)) as handle:
                        refs[name if prefix == "." else f"{prefix}/{name}"] = handle.read().strip()
        return dict(sorted(refs.items(), key=lambda ref: ref[0].split("/")))

    def resolve(self, ref: str) -> str:
        base, back = parse_ref(ref)
        commit = self._resolve_base(base)
        for _ in range(back):
            parents = self.get_commit(commit).parents
            if not parents:
                raise VersioningError(
                    f"{ref} goes back past the first commit", hint="use a smaller ~N"
                )
            commit = parents[0]
        return commit

    def _resolve_base(self, base: str) -> str:
        for folder in (self.heads, self.tag_dir):
            path = folder / base
            if path.is_file():
                return path.read_text().strip()
        if len(base) >= 6 and all(c in "0123456789abcdef" for c in base):
            matches = [p.stem for p in self.commits.glob(f"{base}*.json")]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise VersioningError(
                    f"commit prefix {base!r} is ambiguous", hint="give more digits"
                )
        raise RefNotFound(base, [*self.branches(), *self.tags()])

    def create_branch(self, name: str, from_ref: str = DEFAULT_BRANCH) -> str:
        check_name(name, "branch")
        target = self.resolve(from_ref)
        path = self.heads / name
        if path.exists():
            raise VersioningError(f"branch {name!r} already exists", hint="pick another name")
        atomic_write(path, target.encode())
        return target

    def delete_branch(self, name: str) -> None:
        path = self.heads / name
        if not path.is_file():
            raise RefNotFound(name, self.branches())
        if len(self.branches()) == 1:
            raise VersioningError(f"cannot delete {name!r}, the only branch")
        path.unlink()
        fsync_dir(path.parent)

    def tag(self, name: str, ref: str) -> str:
        check_name(name, "tag")
        target = self.resolve(ref)
        path = self.tag_dir / name
        if path.exists():
            raise VersioningError(
                f"tag {name!r} already exists", hint="tags never move; pick another name"
            )
        atomic_write(path, target.encode())
        return target

    # -- objects -------------------------------------------------------------------------

    def put_part(self, path: Path) -> str:
        """Move a Parquet file into the store under its hash; identical data is kept once."""
        return self.store.put(path)

    def part_path(self, object_id: str) -> Path:
        path = self.store.path(object_id)
        if not path.is_file():
            raise CorruptObject(f"object {object_id} is missing from {self.objects}")
        return path

    def put_artifact(self, object_id: str) -> None:
        """Artifacts live in the object folder already: nothing to do."""

    def artifact_path(self, object_id: str) -> Path:
        return self.part_path(object_id)

    def shared_records(self) -> None:
        """The store is this project's own folder: the catalog is the registry."""
        return None

    # -- commits -------------------------------------------------------------------------

    def get_commit(self, cid: str) -> Commit:
        path = self.commits / f"{cid}.json"
        try:
            return Commit.from_json(json.loads(path.read_text()))
        except FileNotFoundError as exc:
            raise RefNotFound(cid, [*self.branches(), *self.tags()]) from exc
        except (ValueError, KeyError) as exc:
            raise CorruptObject(f"commit {cid} is unreadable: {exc}") from exc

    def commit(
        self,
        branch: str,
        changes: Mapping[str, TableVersion | None],
        message: str,
        metadata: Mapping[str, str],
        author: str = "",
        base: str | None = None,
    ) -> Commit:
        """A new commit on ``branch``: its head's tree with ``changes`` applied (refused
        when the head moved past ``base`` and changed the same tables)."""
        against = (branch, base, self.get_commit(base).tree) if base else None
        edit = applying(changes, self._check_parts, against)
        return self._advance(branch, edit, (), message, metadata, author)

    def merge(self, source: str, dest: str, message: str = "", author: str = "") -> Commit:
        """Three-way merge at table level of ``source`` into branch ``dest``."""
        source_id = self.resolve(source)
        head = self._head(dest)
        base = merge_base(self, source_id, head)
        if base == source_id:  # nothing in source that dest lacks: already up to date, as git
            return self.get_commit(head)
        theirs = self.get_commit(source_id).tree

        def apply(ours: dict[str, TableVersion]) -> dict[str, TableVersion]:
            base_tree = self.get_commit(base).tree if base else {}
            merged, conflicts = three_way(base_tree, theirs, ours)
            if conflicts:
                raise MergeConflict(source, dest, conflicts)
            return merged

        return self._advance(
            dest, apply, (source_id,), message or f"merge {source} into {dest}", {}, author
        )

    def revert(self, ref: str, branch: str, author: str = "") -> Commit:
        """A new commit on ``branch`` that undoes what commit ``ref`` changed (table level)."""
        edit, message, metadata = reverting(self, ref, branch)
        return self._advance(branch, edit, (), message, metadata, author)

    def _advance(
        self,
        branch: str,
        apply: TreeEdit,
        extra_parents: tuple[str, ...],
        message: str,
        metadata: Mapping[str, str],
        author: str,
    ) -> Commit:
        """Under the branch lock: new tree from the head's, write the commit, move the ref."""
        with self._branch_lock(branch):
            head = self._head(branch)
            tree = apply(dict(self.get_commit(head).tree))
            parents = (head, *extra_parents)
            commit = self._write_commit(parents, message, author, metadata, tree)
            atomic_write(self.heads / branch, commit.id.encode())
            return commit

    def _head(self, branch: str) -> str:
        path = self.heads / branch
        if not path.is_file():
            raise RefNotFound(branch, self.branches())
        return path.read_text().strip()

    def _check_parts(self, table: str, version: TableVersion) -> None:
        for part in version.parts:
            if not self.store.path(part).is_file():
                raise CorruptObject(f"table {table}: object {part} was never stored")

    def _write_commit(
        self,
        parents: tuple[str, ...],
        message: str,
        author: str,
        metadata: Mapping[str, str],
        tree: Mapping[str, TableVersion],
    ) -> Commit:
        time = datetime.now(UTC).isoformat(timespec="microseconds")
        author = author or user_name()
        cid = commit_id(parents, message, author, time, metadata, tree)
        commit = Commit(cid, parents, message, author, time, dict(metadata), dict(tree))
        atomic_write(self.commits / f"{cid}.json", json.dumps(commit.to_json()).encode())
        return commit

    @contextmanager
    def _branch_lock(self, branch: str) -> Iterator[None]:
        from filelock import FileLock  # 25 ms of imports: only commands that commit pay

        lock = self.root / "locks" / f"{branch.replace('/', '%')}.lock"
        lock.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(lock):
            yield

    # -- history -------------------------------------------------------------------------

    def log(self, ref: str, table: str | None = None, limit: int | None = None) -> list[Commit]:
        """First-parent history, newest first; with ``table``, only commits that changed it."""
        return history(self, ref, table, limit)

    def gc(self, keep: frozenset[str] = frozenset(), grace: float = TEMP_GRACE) -> tuple[int, int]:
        """Delete objects no commit (nor ``keep``) references, and temporary files older
        than ``grace`` seconds; returns (count, bytes freed)."""
        doomed = self.store.ids() - committed_objects(self.root) - keep
        count, freed = sweep_temp(self.root, TEMP_FILES, grace)
        return len(doomed) + count, self.store.remove(doomed) + freed

    def fsck(self) -> list[str]:
        """Every problem found: refs to missing commits, missing or corrupt objects."""
        problems: list[str] = []
        for kind, refs in (("branch", self.branches()), ("tag", self.tags())):
            for name, cid in refs.items():
                if not (self.commits / f"{cid}.json").is_file():
                    problems.append(f"{kind} {name} points to missing commit {cid}")
        checked: set[str] = set()
        for path in sorted(self.commits.glob("*.json")):
            commit = Commit.from_json(json.loads(path.read_text()))
            for table, version in commit.tree.items():
                for part in version.parts:
                    if part in checked:
                        continue
                    checked.add(part)
                    obj = self.store.path(part)
                    if not obj.is_file():
                        problems.append(
                            f"table {table} in commit {commit.id[:12]}: object {part} is missing"
                        )
                    elif file_hash(obj) != part:
                        problems.append(
                            f"table {table} in commit {commit.id[:12]}: object {part} is corrupt"
                        )
        return problems
