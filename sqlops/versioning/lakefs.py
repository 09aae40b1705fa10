"""The lakeFS backend: data versions in a lakeFS repository, through the official SDK.

This is the only module that calls the ``lakefs`` SDK; every SDK error leaves it as a sqlops
error. Layout in the repository::

    tables/<schema>/<name>/<object id>.parquet   the table's parts (ids are blake3 hashes)
    _sqlops/tables/<schema>.<name>.json          its TableVersion: parts, columns, rows, ...
    _sqlops/artifacts/<object id>                a registered model's artifact, on the
                                                 ``sqlops-artifacts`` branch (data branches
                                                 never see it)
    _sqlops/models/<name>/<version>.json         a registered model version's record, on the
                                                 same branch (the shared model registry;
                                                 each written once, by a merge)

One metadata file per table makes lakeFS's own three-way merge conflict per table. A sqlops
commit is staged on a short-lived ``sqlops-tx-*`` branch cut from the head, committed there
and merged into the target branch: the target never holds half-staged changes, a crash
leaves at most a stray transaction branch, and two writers to one branch are serialized by
lakeFS's merge (the second is refused if both changed the same table). That merge commit is
the sqlops commit; its transaction parent is hidden, so history reads as on the local store.

Parts are read through the project's object folder, a local cache keyed by the same content
hash: a part built here is never downloaded, and a downloaded one is checked against its id.
Commits are immutable, so their trees are cached on disk by commit id.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import lakefs
from lakefs import exceptions as lx
from lakefs.client import Client
from lakefs.models import ObjectInfo

from sqlops.config import LakeFSConfig, user_name
from sqlops.errors import ConfigError, CorruptObject, MergeConflict, RefNotFound, VersioningError
from sqlops.oserrors import translate_os_error
from sqlops.storage.objects import ObjectStore, atomic_write, file_hash
from sqlops.versioning.local import TEMP_GRACE, sweep_temp
from sqlops.versioning.store import (
    Commit,
    TableVersion,
    TreeEdit,
    applying,
    check_name,
    history,
    merge_base,
    parse_ref,
    reverting,
    three_way,
)

TX_PREFIX = "sqlops-tx-"
ARTIFACTS_BRANCH = "sqlops-artifacts"
_ARTIFACTS = "_sqlops/artifacts/"
_META = "_sqlops/tables/"
_AUTHOR = "sqlops_author"
_TX = "sqlops_tx"
_CHUNK = 8 << 20
_RACED = (423, 500)  # refusals a concurrent merge into one branch can cause
_RETRIES = 20
_BACKOFF = 0.02  # seconds, times the attempt number
_T = TypeVar("_T")
_CREATION_WAIT = 10.0  # seconds a refused creation waits for another process's repository


class LakeFSStore:
    """Data versions in one lakeFS repository (``[versions.lakefs]`` in the config)."""

    def __init__(self, settings: LakeFSConfig, objects: ObjectStore, cache: Path) -> None:
        if not settings.repository:
            raise ConfigError(
                "versions.lakefs.repository is not set",
                hint="add repository = 'name' under [versions.lakefs] or set "
                "SQLOPS_LAKEFS_REPOSITORY",
            )
        given = {
            "host": settings.endpoint,
            "username": settings.access_key_id,
            "password": settings.secret_access_key,
        }
        # config already merged LAKECTL_SERVER_ENDPOINT_URL; ~/.lakectl.yaml is the SDK's
        self.endpoint = settings.endpoint
        with self._sdk("read the lakeFS credentials"):
            self.client = Client(**{k: v for k, v in given.items() if v})  # type: ignore[no-untyped-call]
        self.name = settings.repository
        self.namespace = settings.storage_namespace
        self.repo = lakefs.Repository(self.name, client=self.client)
        self.objects = objects
        self.cache = cache / self.name
        self._located: dict[str, list[tuple[str, str]]] = {}  # object id -> [(commit, table)]
        self._meta: dict[str, TableVersion] = {}  # metadata checksum -> table version

    # -- setup ---------------------------------------------------------------------------

    def init(self) -> None:
        """Check the repository exists; create it when a storage namespace is configured.

        Processes opening a new repository at once all try to create it, and lakeFS refuses
        all but the first ("storage namespace already in use", HTTP 400). For the others the
        repository exists: a refused creation counts once the repository can be read (it
        may take the creator a moment to finish); otherwise the refusal stands.
        """
        with self._sdk(f"open repository {self.name}"):
            try:
                next(iter(self.repo.branches(max_amount=1)), None)
                return
            except lx.NotFoundException as exc:
                if not self.namespace:
                    raise VersioningError(
                        f"lakeFS repository {self.name!r} does not exist at {self.endpoint}",
                        hint="create it (lakectl repo create) or set "
                        "versions.lakefs.storage_namespace so sqlops creates it",
                    ) from exc
            try:
                self.repo.create(storage_namespace=self.namespace, exist_ok=True)
            except lx.BadRequestException:
                deadline = time.monotonic() + _CREATION_WAIT
                while time.monotonic() < deadline:
                    try:
                        if next(iter(self.repo.branches(max_amount=1)), None) is not None:
                            return  # created by another process, default branch included
                    except lx.NotFoundException:
                        pass
                    time.sleep(0.05)
                raise

    # -- refs ----------------------------------------------------------------------------

    def branches(self) -> dict[str, str]:
        with self._sdk("list branches"):
            return {
                b.id: b.head.id
                for b in self.repo.branches()
                if not b.id.startswith(TX_PREFIX) and b.id != ARTIFACTS_BRANCH
            }

    def tags(self) -> dict[str, str]:
        with self._sdk("list tags"):
            return {t.id: t.get_commit().id for t in self.repo.tags()}

    def resolve(self, ref: str) -> str:
        base, back = parse_ref(ref)
        with self._sdk(f"resolve {ref}"):
            try:
                return str(self.repo.ref(ref.strip()).get_commit().id)
            except lx.NotFoundException:
                pass
            if back:
                self.resolve(base)  # raises RefNotFound when the base is unknown
                raise VersioningError(
                    f"{ref} goes back past the first commit", hint="use a smaller ~N"
                )
            raise RefNotFound(base, [*self.branches(), *self.tags()])

    def create_branch(self, name: str, from_ref: str = "main") -> str:
        check_name(name, "branch")
        target = self.resolve(from_ref)
        with self._sdk(f"create branch {name}"):
            try:
                self.repo.branch(name).create(source_reference=target)
            except lx.ConflictException as exc:
                raise VersioningError(
                    f"branch {name!r} already exists", hint="pick another name"
                ) from exc
            except lx.BadRequestException as exc:
                raise VersioningError(
                    f"invalid branch name {name!r} for lakeFS: {_reason(exc)}",
                    hint="lakeFS branch names use letters, digits, '_' and '-'",
                ) from exc
        return target

    def delete_branch(self, name: str) -> None:
        known = self.branches()
        if name not in known:
            raise RefNotFound(name, known)
        if len(known) == 1:
            raise VersioningError(f"cannot delete {name!r}, the only branch")
        with self._sdk(f"delete branch {name}"):
            try:
                self.repo.branch(name).delete()
            except lx.ServerException as exc:
                reason = _reason(exc)
                raise VersioningError(f"lakeFS refused to delete {name!r}: {reason}") from exc

    def tag(self, name: str, ref: str) -> str:
        check_name(name, "tag")
        target = self.resolve(ref)
        with self._sdk(f"create tag {name}"):
            try:
                self.repo.tag(name).create(target)
            except lx.ConflictException as exc:
                raise VersioningError(
                    f"tag {name!r} already exists", hint="tags never move; pick another name"
                ) from exc
        return target

    # -- objects -------------------------------------------------------------------------

    def put_part(self, path: Path) -> str:
        """Keep the file in the local cache under its hash; it is uploaded at commit."""
        return self.objects.put(path)

    def part_path(self, object_id: str) -> Path:
        """The cached file of a part, downloaded (and checked against its id) on a miss."""
        path = self.objects.path(object_id)
        if path.is_file():
            return path
        places = self._located.get(object_id)
        if not places:
            raise CorruptObject(f"object {object_id} is in no commit of {self.name} read so far")
        problems = [
            p for commit, table in places if (p := self._download(object_id, commit, table))
        ]
        if len(problems) == len(places):
            raise CorruptObject(problems[0])
        return path

    def _download(self, object_id: str, commit: str, table: str) -> str | None:
        """Fetch one part as stored in ``commit``; returns what is wrong with it, if anything."""
        where = f"table {table} in commit {commit[:12]}: object {object_id}"
        return self._fetch(object_id, commit, _part(table, object_id), where)

    def _fetch(self, object_id: str, ref: str, path: str, where: str) -> str | None:
        """Download ``path`` at ``ref`` into the local cache if its bytes hash to
        ``object_id``; returns what is wrong with it, if anything."""
        tmp = self.objects.temp_path()
        try:
            with self._sdk(f"download {where}"):
                try:
                    source = self.repo.ref(ref).object(path)
                    with source.reader(mode="rb") as reader, tmp.open("wb") as out:
                        while chunk := reader.read(_CHUNK):
                            out.write(chunk if isinstance(chunk, bytes) else chunk.encode())
                except lx.NotFoundException:
                    return f"{where} is missing from lakeFS repository {self.name}"
            if file_hash(tmp) != object_id:
                return f"{where} is corrupt (its bytes do not match its hash)"
            self.objects.put(tmp)
            return None
        finally:
            tmp.unlink(missing_ok=True)

    # -- artifacts (registered models, stored frames) --------------------------------------

    def put_artifact(self, object_id: str) -> None:
        """Keep a cached object in the repository too (committed on the artifacts branch),
        so a machine without it can fetch it; a no-op when it is there already."""
        target = f"{_ARTIFACTS}{object_id}"

        def write(tx: Any) -> None:
            writer = tx.object(target).writer(mode="wb", content_type="application/octet-stream")
            with writer as out, self.objects.path(object_id).open("rb") as src:
                shutil.copyfileobj(src, out, _CHUNK)

        with self._sdk(f"store artifact {object_id}"):
            if not _has(self.repo.branch(ARTIFACTS_BRANCH).object(target)):
                self._add(target, write, f"artifact {object_id}")  # False: stored meanwhile

    def artifact_path(self, object_id: str) -> Path:
        """The cached file of an artifact, downloaded (and checked against its id) on a miss."""
        path = self.objects.path(object_id)
        if not path.is_file():
            where = f"artifact {object_id}"
            problem = self._fetch(object_id, ARTIFACTS_BRANCH, f"{_ARTIFACTS}{object_id}", where)
            if problem:
                raise CorruptObject(problem)
        return path

    # -- shared records (the model registry) ---------------------------------------------
    #
    # Every write to the artifacts branch is a commit on a short-lived branch merged into
    # it, so lakeFS's three-way merge decides which of two clones adding one path wins: the
    # second merge conflicts ("taken"). lakeFS's conditional upload (If-None-Match: *)
    # straight to the branch was measured unsafe here: it checks only the staging area it
    # writes to, and a commit by another clone in between seals that area, so two clones
    # both "created" one record. Nothing is ever staged on the artifacts branch itself
    # (lakeFS refuses merges into a branch with uncommitted changes).

    def shared_records(self) -> LakeFSStore:
        return self

    def record_paths(self, prefix: str) -> dict[str, str]:
        with self._sdk(f"list {prefix} on branch {ARTIFACTS_BRANCH}"):
            try:
                return {
                    i.path: i.checksum
                    for i in self.repo.ref(ARTIFACTS_BRANCH).objects(prefix=prefix)
                    if isinstance(i, ObjectInfo)
                }
            except lx.NotFoundException:
                return {}  # nothing saved yet: no artifacts branch

    def read_record(self, path: str) -> bytes | None:
        with self._sdk(f"read {self.record_location(path)}"):
            try:
                with self.repo.ref(ARTIFACTS_BRANCH).object(path).reader(mode="rb") as reader:
                    data = reader.read()
            except lx.NotFoundException:
                return None
        return data if isinstance(data, bytes) else data.encode()

    def create_record(self, path: str, data: bytes, message: str) -> bool:
        with self._sdk(f"write {self.record_location(path)}"):
            return self._add(path, lambda tx: tx.object(path).upload(data=data), message)

    def _add(self, path: str, write: Callable[[Any], object], message: str) -> bool:
        """Add ``path`` to the artifacts branch (``write(branch)`` writes it): committed on
        a transaction branch cut from it and merged back. False when ``path`` is there
        already: at the cut (checked on the cut, so nothing added before it is overwritten)
        or added by another writer since (the merge conflicts)."""
        try:
            tx = self.repo.branch(_tx_name()).create(source_reference=ARTIFACTS_BRANCH)
        except lx.NotFoundException:  # the first write to the repository
            self._create_artifacts_branch()
            tx = self.repo.branch(_tx_name()).create(source_reference=ARTIFACTS_BRANCH)
        try:
            if _has(tx.object(path)):
                return False
            write(tx)
            tx.commit(message=message, metadata={_AUTHOR: _user()})
            home = self.repo.branch(ARTIFACTS_BRANCH)
            try:
                self._retried(lambda: tx.merge_into(home, message=message))
            except lx.ConflictException:
                return False
            return True
        finally:
            tx.delete()

    def _retried(self, call: Callable[[], _T]) -> _T:
        """``call()``, again after a refusal a concurrent write to the same branch causes:
        lakeFS moves a branch with compare-and-set, so of two merges at once one may be
        refused (HTTP 500 "predicate failed", or 423 once lakeFS's own retries ran out)."""
        for attempt in range(_RETRIES):
            try:
                return call()
            except lx.LakeFSException as exc:
                if getattr(exc, "status_code", None) not in _RACED or attempt == _RETRIES - 1:
                    raise
            time.sleep(_BACKOFF * (attempt + 1))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def record_location(self, path: str) -> str:
        return f"{path} on branch {ARTIFACTS_BRANCH} of lakeFS repository {self.name}"

    def _create_artifacts_branch(self) -> None:
        """The artifacts branch, cut once from the default branch (two processes may race)."""
        default = self.repo.properties.default_branch
        with contextlib.suppress(lx.ConflictException):
            self.repo.branch(ARTIFACTS_BRANCH).create(source_reference=default, exist_ok=True)

    # -- commits -------------------------------------------------------------------------

    def get_commit(self, commit_id: str) -> Commit:
        cached = self.cache / "commits" / f"{commit_id}.json"
        if cached.is_file():
            commit = Commit.from_json(json.loads(cached.read_text()))
        else:
            with self._sdk(f"read commit {commit_id[:12]}"):
                try:
                    raw = self.repo.ref(commit_id).get_commit()
                except lx.NotFoundException as exc:
                    raise RefNotFound(commit_id, [*self.branches(), *self.tags()]) from exc
                commit = self._to_commit(raw)
            atomic_write(self.cache / "commits" / f"{commit.id}.json", _dump(commit))
        for table, version in commit.tree.items():
            for part in version.parts:
                places = self._located.setdefault(part, [])
                if (commit.id, table) not in places:
                    places.append((commit.id, table))
        return commit

    def _to_commit(self, raw: Any) -> Commit:
        metadata = {k: v for k, v in (raw.metadata or {}).items() if not k.startswith(".lakefs")}
        author = metadata.pop(_AUTHOR, raw.committer or "")
        parents = tuple(raw.parents or ())
        if metadata.pop(_TX, None):
            parents = parents[:1]  # the transaction branch's commit is an implementation detail
        return Commit(
            id=raw.id,
            parents=parents,
            message=raw.message or "",
            author=author,
            time=datetime.fromtimestamp(raw.creation_date, UTC).isoformat(),
            metadata=metadata,
            tree=self._read_tree(raw.id),
        )

    def _read_tree(self, commit_id: str) -> dict[str, TableVersion]:
        ref = self.repo.ref(commit_id)
        tree: dict[str, TableVersion] = {}
        for info in ref.objects(prefix=_META):
            if not isinstance(info, ObjectInfo):
                continue
            name = info.path[len(_META) : -len(".json")]
            if info.checksum not in self._meta:
                with ref.object(info.path).reader(mode="rb") as reader:
                    self._meta[info.checksum] = TableVersion.from_json(json.loads(reader.read()))
            tree[name] = self._meta[info.checksum]
        return tree

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
        return self._transact(branch, applying(changes, base=against), message, metadata, author)

    def merge(self, source: str, dest: str, message: str = "", author: str = "") -> Commit:
        """Three-way merge at table level of ``source`` into branch ``dest``.

        Conflicts are found here first, so the error names every conflicting table; lakeFS
        then merges the objects and records both parents.
        """
        source_id = self.resolve(source)
        head = self._head(dest)
        base = merge_base(self, source_id, head)
        if base == source_id:  # nothing in source that dest lacks: already up to date, as git
            return self.get_commit(head)
        base_tree = self.get_commit(base).tree if base else {}
        theirs, ours = self.get_commit(source_id).tree, self.get_commit(head).tree
        _, conflicts = three_way(base_tree, theirs, ours)
        if conflicts:
            raise MergeConflict(source, dest, conflicts)
        meta = {_AUTHOR: author or _user()}
        with self._sdk(f"merge {source} into {dest}"):
            try:
                merged = self.repo.ref(source_id).merge_into(
                    self.repo.branch(dest),
                    message=message or f"merge {source} into {dest}",
                    metadata=meta,
                )
            except lx.ConflictException as exc:
                raise VersioningError(
                    f"{dest} changed while merging {source} into it",
                    hint="run the merge again",
                ) from exc
        return self.get_commit(merged)

    def revert(self, ref: str, branch: str, author: str = "") -> Commit:
        edit, message, metadata = reverting(self, ref, branch)
        return self._transact(branch, edit, message, metadata, author)

    def _transact(
        self,
        branch: str,
        apply: TreeEdit,
        message: str,
        metadata: Mapping[str, str],
        author: str,
    ) -> Commit:
        """Stage the new tree on a transaction branch, commit it, merge it into ``branch``."""
        head = self._head(branch)
        old = self.get_commit(head).tree
        new = apply(dict(old))
        if new == old:
            raise VersioningError(f"nothing to commit on {branch}: no table changed")
        for name, version in new.items():
            if old.get(name) != version:
                for part in version.parts:
                    if not (self.objects.exists(part) or part in self._located):
                        raise CorruptObject(f"table {name}: object {part} was never stored")
        meta = {**metadata, _AUTHOR: author or _user(), _TX: "1"}
        with self._sdk(f"commit to {branch}"):
            tx = self.repo.branch(_tx_name()).create(source_reference=head)
            try:
                self._stage(tx, old, new)
                tx.commit(message=message, metadata={_AUTHOR: meta[_AUTHOR]})
                merged = tx.merge_into(self.repo.branch(branch), message=message, metadata=meta)
            except lx.ConflictException as exc:
                raise VersioningError(
                    f"another writer changed the same tables on {branch} during this commit",
                    hint="run the commit again",
                ) from exc
            finally:
                tx.delete()
        return self.get_commit(merged)

    def _stage(
        self, tx: Any, old: Mapping[str, TableVersion], new: Mapping[str, TableVersion]
    ) -> None:
        stale: list[str] = []
        for name in sorted(old.keys() | new.keys()):
            before, after = old.get(name, _EMPTY), new.get(name)
            if after == old.get(name):
                continue
            keep = set(after.parts) if after else set()
            stale += [_part(name, p) for p in before.parts if p not in keep]
            if after is None:
                stale.append(f"{_META}{name}.json")
                continue
            for part in sorted(keep - set(before.parts)):
                self._put(tx, name, part)
            tx.object(f"{_META}{name}.json").upload(
                data=json.dumps(after.to_json(), sort_keys=True).encode(),
                content_type="application/json",
            )
        if stale:
            tx.delete_objects(stale)

    def _put(self, tx: Any, table: str, part: str) -> None:
        """Upload a part from the local cache, or copy it inside lakeFS from the commit it was
        read from (a revert or merge can bring back parts this machine never had)."""
        target = _part(table, part)
        if self.objects.exists(part):
            writer = tx.object(target).writer(
                mode="wb", content_type="application/vnd.apache.parquet"
            )
            with writer as out, self.objects.path(part).open("rb") as src:
                shutil.copyfileobj(src, out, _CHUNK)
            return
        commit, origin = self._located[part][0]
        self.repo.ref(commit).object(_part(origin, part)).copy(tx.id, target)

    def _head(self, branch: str) -> str:
        with self._sdk(f"read branch {branch}"):
            try:
                if not branch.startswith(TX_PREFIX):
                    return str(self.repo.branch(branch).get_commit().id)  # type: ignore[no-untyped-call]
            except lx.NotFoundException:
                pass
            raise RefNotFound(branch, self.branches())

    # -- history and upkeep --------------------------------------------------------------

    def log(self, ref: str, table: str | None = None, limit: int | None = None) -> list[Commit]:
        return history(self, ref, table, limit)

    def gc(self, keep: frozenset[str] = frozenset(), grace: float = TEMP_GRACE) -> tuple[int, int]:
        """Empty the local cache of parts ``keep`` does not list (lakeFS keeps them all), and
        of temporary files older than ``grace`` seconds."""
        doomed = self.objects.ids() - keep
        self._drop_stale_transactions(grace)
        parts = sweep_temp(self.objects.tmp, [(".", "*")], grace)
        commits = sweep_temp(self.cache, [("commits", ".tmp-*")], grace)
        count, freed = parts[0] + commits[0], parts[1] + commits[1]
        return len(doomed) + count, self.objects.remove(doomed) + freed

    def _drop_stale_transactions(self, grace: float) -> None:
        """Delete the transaction branches that killed commits left (older than ``grace``
        seconds: a younger one may belong to a commit still running; a commit whose branch
        is deleted under it fails and changes nothing)."""
        cutoff = time.time() - grace
        with self._sdk("list transaction branches"):
            stale = [
                b.id for b in self.repo.branches(prefix=TX_PREFIX) if _tx_started(b.id) < cutoff
            ]
            for name in stale:
                # gone already when its commit finished (or another gc got it) meanwhile
                with contextlib.suppress(lx.NotFoundException):
                    self.repo.branch(name).delete()

    def fsck(self) -> list[str]:
        """Check that every table part of every branch and tag head is in lakeFS, and that
        every cached part still matches its hash."""
        problems: list[str] = []
        for cid in sorted({*self.branches().values(), *self.tags().values()}):
            commit = self.get_commit(cid)
            ref = self.repo.ref(cid)
            for table, version in sorted(commit.tree.items()):
                with self._sdk(f"list table {table}"):
                    stored = {i.path for i in ref.objects(prefix=_part(table, ""))}
                for part in version.parts:
                    if _part(table, part) not in stored:
                        problems.append(
                            f"table {table} in commit {cid[:12]}: object {part} is missing"
                        )
                    cached = self.objects.path(part)
                    if cached.is_file() and file_hash(cached) != part:
                        problems.append(
                            f"table {table} in commit {cid[:12]}: cached object {part} is corrupt"
                        )
        return problems

    # -- errors --------------------------------------------------------------------------

    @contextmanager
    def _sdk(self, action: str) -> Iterator[None]:
        """Translate what the SDK and its HTTP client raise into one-line sqlops errors."""
        try:
            yield
        except lx.NoAuthenticationFound as exc:
            raise ConfigError(
                f"no lakeFS endpoint or credentials to {action}",
                hint="set [versions.lakefs] endpoint and access_key_id, the LAKECTL_* "
                "variables, or ~/.lakectl.yaml",
            ) from exc
        except (lx.NotAuthorizedException, lx.ForbiddenException, lx.PermissionException) as exc:
            raise VersioningError(
                f"lakeFS refused to {action}: {_reason(exc)}",
                hint="check the access key and its permissions",
            ) from exc
        except lx.LakeFSException as exc:
            raise VersioningError(f"lakeFS could not {action}: {_reason(exc)}") from exc
        except Exception as exc:
            # a dead endpoint surfaces as urllib3's own errors (MaxRetryError, timeouts); a local
            # file error (the object cache) is not a connection problem
            unreachable = isinstance(exc, ConnectionError) or type(exc).__module__.startswith(
                "urllib3"
            )
            if not unreachable and isinstance(exc, OSError):
                raise translate_os_error(exc, None, action) from exc
            if not unreachable:
                raise
            raise VersioningError(
                f"cannot reach lakeFS at {self.endpoint or 'the configured endpoint'} to "
                f"{action}: {type(exc).__name__}",
                hint="is the server running? check versions.lakefs.endpoint",
            ) from exc


_EMPTY = TableVersion((), (), 0)


def _part(table: str, object_id: str) -> str:
    schema, name = table.split(".", 1)
    folder = f"tables/{schema}/{name}/"
    return f"{folder}{object_id}.parquet" if object_id else folder


def _reason(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return str(exc).splitlines()[0]


def _tx_name() -> str:
    """A transaction branch's name; the start time in it lets gc tell one a killed process
    left."""
    return f"{TX_PREFIX}{int(time.time())}-{uuid.uuid4().hex[:16]}"


def _has(stored: Any) -> bool:
    """Whether an object exists (False when its branch does not exist yet)."""
    try:
        return bool(stored.exists())
    except lx.NotFoundException:
        return False


def _tx_started(branch: str) -> float:
    """When a transaction branch was cut (0 for a name from before names carried it)."""
    stamp = branch[len(TX_PREFIX) :].split("-", 1)[0]
    return float(stamp) if stamp.isdigit() and len(stamp) >= 9 else 0.0


def _dump(commit: Commit) -> bytes:
    return json.dumps(commit.to_json()).encode()


def _user() -> str:
    return user_name()
