"""The version store protocol both backends implement, and the records they exchange.

A commit is metadata over immutable objects: its tree maps each table name to the list of
content-addressed Parquet parts that hold its rows. Branching copies a pointer, so it costs
the same whatever the data size; a commit only writes the parts that are new.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlops.errors import CommitConflict, MergeConflict, VersioningError

_REF = re.compile(r"^(?P<base>[^~]+)(?:~(?P<back>\d+))?$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")


@dataclass(frozen=True)
class TableVersion:
    """One table as stored: its parts (object ids, in order), schema and row count."""

    parts: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]
    rows: int
    fingerprint: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "parts": list(self.parts),
            "columns": [list(c) for c in self.columns],
            "rows": self.rows,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TableVersion:
        return cls(
            parts=tuple(data["parts"]),
            columns=tuple((c[0], c[1]) for c in data["columns"]),
            rows=int(data["rows"]),
            fingerprint=data.get("fingerprint", ""),
        )

    @property
    def content(self) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
        """What makes two versions the same data (the fingerprint is only a hint)."""
        return self.parts, self.columns


@dataclass(frozen=True)
class Commit:
    """An immutable snapshot of every table, with its history and metadata."""

    id: str
    parents: tuple[str, ...]
    message: str
    author: str
    time: str
    metadata: Mapping[str, str]
    tree: Mapping[str, TableVersion]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parents": list(self.parents),
            "message": self.message,
            "author": self.author,
            "time": self.time,
            "metadata": dict(self.metadata),
            "tree": {name: tv.to_json() for name, tv in sorted(self.tree.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Commit:
        return cls(
            id=data["id"],
            parents=tuple(data["parents"]),
            message=data["message"],
            author=data["author"],
            time=data["time"],
            metadata=dict(data["metadata"]),
            tree={n: TableVersion.from_json(t) for n, t in data["tree"].items()},
        )

    def summary(self) -> dict[str, Any]:
        """The commit without its tree: what ``log`` prints."""
        out = self.to_json()
        out["tables"] = sorted(out.pop("tree"))
        return out


def commit_id(
    parents: Sequence[str],
    message: str,
    author: str,
    time: str,
    metadata: Mapping[str, str],
    tree: Mapping[str, TableVersion],
) -> str:
    """Content address of a commit, like git's: the same content gives the same id."""
    body = {
        "parents": list(parents),
        "message": message,
        "author": author,
        "time": time,
        "metadata": dict(sorted(metadata.items())),
        "tree": {name: tv.to_json() for name, tv in sorted(tree.items())},
    }
    blob = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:40]


@dataclass(frozen=True)
class TreeDiff:
    """Tables added, removed and changed between two commits."""

    a: str
    b: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    rows: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": list(self.changed),
        }


def tree_diff(
    a: Mapping[str, TableVersion], b: Mapping[str, TableVersion], ids: tuple[str, str]
) -> TreeDiff:
    """Compare two trees at table level.

    >>> t = TableVersion(("p1",), (("x", "INTEGER"),), 1)
    >>> u = TableVersion(("p2",), (("x", "INTEGER"),), 1)
    >>> d = tree_diff({"a": t, "b": t}, {"b": u, "c": t}, ("x", "y"))
    >>> d.added, d.removed, d.changed
    (('c',), ('a',), ('b',))
    """
    return TreeDiff(
        a=ids[0],
        b=ids[1],
        added=tuple(sorted(b.keys() - a.keys())),
        removed=tuple(sorted(a.keys() - b.keys())),
        changed=tuple(sorted(n for n in a.keys() & b.keys() if a[n].content != b[n].content)),
    )


def parse_ref(ref: str) -> tuple[str, int]:
    """``main~2`` -> ``("main", 2)``; ``v1`` -> ``("v1", 0)``.

    >>> parse_ref("dev~3")
    ('dev', 3)
    """
    match = _REF.match(ref.strip())
    if not match:
        raise VersioningError(
            f"invalid ref {ref!r}", hint="write a branch, tag or commit id, e.g. main~1"
        )
    return match.group("base"), int(match.group("back") or 0)


def check_name(name: str, what: str) -> str:
    """Branch and tag names: letters, digits, ``._/-``; no ``~`` (it means ancestry)."""
    if not _NAME.match(name) or ".." in name or name.endswith((".lock", "/")):
        raise VersioningError(
            f"invalid {what} name {name!r}",
            hint="use letters, digits, '.', '_', '-' or '/', starting with a letter or digit",
        )
    return name


class SharedRecords(Protocol):
    """Small records every clone of one version store sees (the model registry's), each
    written once: ``create_record`` refuses a path that exists, atomically, so two clones
    never both create one."""

    def record_paths(self, prefix: str) -> dict[str, str]:
        """The records under ``prefix``: path -> checksum of its bytes."""
        ...

    def read_record(self, path: str) -> bytes | None:
        """A record's bytes (None when it is not there)."""
        ...

    def create_record(self, path: str, data: bytes, message: str) -> bool:
        """Write a new record and commit it; False (nothing written) when ``path`` exists."""
        ...

    def record_location(self, path: str) -> str:
        """Where a record lives, for messages."""
        ...


class VersionStore(Protocol):
    """What every backend provides (the local store and lakeFS)."""

    def branches(self) -> dict[str, str]:
        """Branch names and the commit each points to."""
        ...

    def tags(self) -> dict[str, str]: ...

    def resolve(self, ref: str) -> str:
        """The commit id a ref names (branch, tag, id or id prefix, with optional ``~N``)."""
        ...

    def get_commit(self, commit_id: str) -> Commit: ...

    def create_branch(self, name: str, from_ref: str) -> str: ...

    def delete_branch(self, name: str) -> None: ...

    def put_part(self, path: Path) -> str:
        """Store one Parquet file as an immutable object; returns its id (content hash)."""
        ...

    def part_path(self, object_id: str) -> Path:
        """A local path DuckDB can read the object from (a cache, for remote stores)."""
        ...

    def put_artifact(self, object_id: str) -> None:
        """Keep an object of the local folder (a model artifact) in the store, outside
        every branch's tables, so any clone of the store can fetch it."""
        ...

    def artifact_path(self, object_id: str) -> Path:
        """A local path of an artifact ``put_artifact`` kept (fetched on a cache miss)."""
        ...

    def shared_records(self) -> SharedRecords | None:
        """The store's shared records (lakeFS), or None when the store is this project
        folder's own (local) and the catalog is the registry."""
        ...

    def commit(
        self,
        branch: str,
        changes: Mapping[str, TableVersion | None],
        message: str,
        metadata: Mapping[str, str],
        author: str = "",
        base: str | None = None,
    ) -> Commit:
        """Apply table changes (None deletes) on top of the branch head, atomically.

        ``base`` is the commit the changes were made against. If the head has moved past
        it, the changes still land on top of the head when no table they touch changed
        meanwhile; otherwise ``CommitConflict`` is raised and nothing is committed.
        """
        ...

    def log(self, ref: str, table: str | None = None, limit: int | None = None) -> list[Commit]: ...

    def tag(self, name: str, ref: str) -> str: ...

    def merge(self, source: str, dest: str, message: str = "", author: str = "") -> Commit: ...

    def revert(self, ref: str, branch: str, author: str = "") -> Commit:
        """A new commit on ``branch`` that undoes what commit ``ref`` changed (table level)."""
        ...

    def gc(self, keep: frozenset[str] = frozenset(), grace: float = 60.0) -> tuple[int, int]:
        """Delete local objects nothing needs, and temporary files older than ``grace``
        seconds (left by killed writes); returns (count, bytes freed)."""
        ...

    def fsck(self) -> list[str]:
        """Every problem found (refs to missing commits, missing or corrupt objects)."""
        ...


def history(
    store: VersionStore, ref: str, table: str | None = None, limit: int | None = None
) -> list[Commit]:
    """Every commit reachable from ``ref`` (through all parents of merges, as ``git log``),
    newest first but never a commit before one of its children (git's ``--date-order``:
    lakeFS stamps commits to the second, so time alone cannot order a quick series); with
    ``table``, only commits that changed it against their first parent."""
    start = store.get_commit(store.resolve(ref))
    commits = {start.id: start}
    children: dict[str, int] = {start.id: 0}
    stack = [start]
    while stack:  # the whole reachable graph first: a parent waits for all its children
        for parent in stack.pop().parents:
            children[parent] = children.get(parent, 0) + 1
            if parent not in commits:
                commits[parent] = store.get_commit(parent)
                stack.append(commits[parent])
    out: list[Commit] = []
    ready = [(_newest_first(start), start.id)]
    while ready and (limit is None or len(out) < limit):
        _, cid = heapq.heappop(ready)
        commit = commits[cid]
        first = commits[commit.parents[0]] if commit.parents else None
        if table is None or _changed(commit, first, table):
            out.append(commit)
        for parent in commit.parents:
            children[parent] -= 1
            if children[parent] == 0:
                heapq.heappush(ready, (_newest_first(commits[parent]), parent))
    return out


def _newest_first(commit: Commit) -> tuple[float, str]:
    """A heap key that pops the latest commit first."""
    return -datetime.fromisoformat(commit.time).timestamp(), commit.id


def _changed(newer: Commit, older: Commit | None, table: str) -> bool:
    a, b = (older.tree.get(table) if older else None), newer.tree.get(table)
    if a is None or b is None:
        return (a is None) != (b is None)
    return a.content != b.content


TreeEdit = Callable[[dict[str, "TableVersion"]], dict[str, "TableVersion"]]


def applying(
    changes: Mapping[str, TableVersion | None],
    check: Callable[[str, TableVersion], None] | None = None,
    base: tuple[str, str, Mapping[str, TableVersion]] | None = None,
) -> TreeEdit:
    """The edit a commit makes to its branch head's tree: set tables, delete (None) others.

    With ``base`` (branch, commit id, tree the changes were made against), a table the head
    changed since then and the changes set differently raises ``CommitConflict``.
    """

    def edit(tree: dict[str, TableVersion]) -> dict[str, TableVersion]:
        if base is not None:
            branch, base_id, before = base
            conflicts = sorted(
                name
                for name, version in changes.items()
                if _content(tree.get(name)) not in (_content(before.get(name)), _content(version))
            )
            if conflicts:
                raise CommitConflict(branch, base_id, conflicts)
        for name, version in changes.items():
            if version is None:
                tree.pop(name, None)
            else:
                if check is not None:
                    check(name, version)
                tree[name] = version
        return tree

    return edit


def reverting(store: VersionStore, ref: str, branch: str) -> tuple[TreeEdit, str, dict[str, str]]:
    """The edit, message and metadata of a commit on ``branch`` undoing what ``ref`` changed;
    the edit raises MergeConflict for tables changed since in a way the undo would lose."""
    target = store.get_commit(store.resolve(ref))
    before = store.get_commit(target.parents[0]).tree if target.parents else {}

    def edit(tree: dict[str, TableVersion]) -> dict[str, TableVersion]:
        undo, conflicts = three_way(target.tree, before, tree)
        if conflicts:
            raise MergeConflict(f"revert of {target.id[:12]}", branch, conflicts)
        return undo

    return edit, f"revert {target.id[:12]}: {target.message}", {"reverts": target.id}


def merge_base(store: VersionStore, a: str, b: str) -> str | None:
    """The best common ancestor of two commits: one that no other common ancestor descends
    from (the most recent such, if criss-cross merges leave several)."""
    common = _ancestors(store, a) & _ancestors(store, b)
    if not common:
        return None
    shadowed = {p for c in common for p in _ancestors(store, c) if p != c}
    best = common - shadowed
    return max(best, key=lambda c: store.get_commit(c).time)


def _ancestors(store: VersionStore, start: str) -> set[str]:
    seen: set[str] = set()
    stack = [start]
    while stack:
        cid = stack.pop()
        if cid not in seen:
            seen.add(cid)
            stack.extend(store.get_commit(cid).parents)
    return seen


def three_way(
    base: Mapping[str, TableVersion],
    theirs: Mapping[str, TableVersion],
    ours: Mapping[str, TableVersion],
) -> tuple[dict[str, TableVersion], list[str]]:
    """Merge trees table by table; a table both sides changed differently is a conflict.

    >>> v = lambda p: TableVersion((p,), (), 0)
    >>> three_way({"t": v("0")}, {"t": v("1")}, {"t": v("0"), "u": v("2")})[0]["t"].parts
    ('1',)
    >>> three_way({"t": v("0")}, {"t": v("1")}, {"t": v("2")})[1]
    ['t']
    """
    merged: dict[str, TableVersion] = {}
    conflicts: list[str] = []
    for name in sorted(base.keys() | theirs.keys() | ours.keys()):
        b, t, o = (_content(x.get(name)) for x in (base, theirs, ours))
        if t in (o, b):
            pick = ours.get(name)
        elif o == b:
            pick = theirs.get(name)
        else:
            conflicts.append(name)
            continue
        if pick is not None:
            merged[name] = pick
    return merged, conflicts


def _content(version: TableVersion | None) -> Any:
    return None if version is None else version.content
