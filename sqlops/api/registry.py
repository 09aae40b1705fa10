"""The model registry's versions: their record format, their artifacts and the shared
records on lakeFS (``project.models``, in ``api/models.py``, is the front door; the seed's
``store.save_model`` / ``load_model`` / ``list_models`` / ``get_model`` on a project's
``FeatureStore`` delegate to it).

A model is pickled and kept as an object of the version store's object folder, under the
blake3 hash of its bytes (so the same model saved twice is stored once); on lakeFS it is
also committed to the repository (``VersionStore.put_artifact``), so a machine without the
local object downloads it. Objects are named ``<hash>.parquet`` whatever they hold; only
the registry knows an artifact is a pickle, and ``gc`` keeps every registered object.

Each version's record (metadata) lives with the version store, so every clone of it shares
one registry: on the local store, the catalog; on lakeFS, one JSON object per version,
``_sqlops/models/<name>/<version>.json`` on the artifacts branch, each created once (the
store refuses a path that exists, so a version number is taken by exactly one save) and
mirrored into the catalog by every read (only new or changed records are downloaded).
Approvals and stage moves are records of their own beside them (``api/modelevents.py``,
under ``<name>/events/``), so a version record is never rewritten.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from sqlops.catalog.registry import RegistryCatalog
from sqlops.errors import CorruptObject, RegistryError
from sqlops.storage.lock import build_lock
from sqlops.storage.objects import bytes_hash, file_hash

if TYPE_CHECKING:
    from sqlops.api import Project
    from sqlops.versioning.store import SharedRecords, VersionStore

# the stage field a version record is written with; its stage now is derived from the
# approval events (``governance/approval.py``), so this stays as saved records have it
DEFAULT_STAGE = "candidate"  # a new version's stage; records saved before approvals say "none"
# a save waits this long for a running build or gc to finish
LOCK_WAIT = 600.0
# the shared registry's records in a version store: <MODELS><quoted name>/<version>.json
MODELS = "_sqlops/models/"
RECORD_FORMAT = 1
_DOWNLOADS = 8  # records downloaded at once by a read that finds many new ones
_RECORD_TYPES: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "version": int,
    "artifact": str,
    "features": list,
    "training_set": (str, type(None)),
    "data_version": (str, type(None)),
    "metrics": dict,
    "owner": str,
    "stage": str,
    "saved_at": str,
}


@dataclass(frozen=True)
class RegisteredModel:
    """One saved version of a model: what it was trained on, how it scored, who saved it."""

    name: str
    version: int
    artifact: str
    features: list[str] = field(default_factory=list)
    training_set: str | None = None
    data_version: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    owner: str = ""
    stage: str = DEFAULT_STAGE
    saved_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> RegisteredModel:
        """A catalog row or record as it was saved (its ``stage`` the record's own)."""
        return cls(
            name=row["name"],
            version=int(row["version"]),
            artifact=row["artifact"],
            features=list(row["features"]),
            training_set=row["training_set"],
            data_version=row["data_version"],
            metrics=dict(row["metrics"]),
            owner=row["owner"],
            stage=row["stage"],
            saved_at=row["saved_at"],
        )


class ModelRegistryMixin:
    """The seed's spelling of the registry verbs on ``FeatureStore`` (which provides
    ``project``): each delegates to ``project.models``, the registry's own front door."""

    project: Project

    def save_model(
        self,
        name: str,
        model: Any,
        features: Sequence[str] | None = None,
        training_set: str | None = None,
        metrics: Mapping[str, Any] | None = None,
        owner: str | None = None,
    ) -> RegisteredModel:
        """``project.models.save``: ``model`` (pickled) as the next version of ``name``."""
        return self.project.models.save(
            name, model, features=features, training_set=training_set, metrics=metrics, owner=owner
        )

    def list_models(self) -> list[RegisteredModel]:
        """``project.models.list``: every version of every model, by name then version."""
        return self.project.models.list()

    def get_model(self, name: str, version: int | None = None) -> RegisteredModel:
        """``project.models.get``: one version's record (the latest by default)."""
        return self.project.models.get(name, version)

    def load_model(self, name: str, version: int | None = None) -> Any:
        """``project.models.load``: the unpickled model, its artifact checked first."""
        return self.project.models.load(name, version)


@contextmanager
def registry_lock(project: Project) -> Iterator[None]:
    """The project's build lock: saves queue behind a build, a ``gc`` or another save."""
    with build_lock(project.config.state_path, wait=LOCK_WAIT):
        yield


def store_object(project: Project, write: Callable[[Path], object]) -> str:
    """Write an object (``write(path)``) into the object folder and the version store (so
    another clone can fetch it); returns its id. Call it under ``registry_lock`` and record
    the id before releasing it, so a ``gc`` never sees the object unrecorded."""
    objects = project.objects
    temp = objects.temp_path()
    write(temp)
    object_id = objects.put(temp)
    project.versions.put_artifact(object_id)
    return object_id


def artifact_bytes(project: Project, object_id: str, where: str) -> bytes:
    """An object's bytes, read once and checked against its id: what is unpickled is
    exactly what was hashed (no window for the file to change in between)."""
    path = _artifact_file(project, object_id, where)
    data = path.read_bytes()
    if bytes_hash(data) != object_id:
        raise _corrupt(project, path, object_id, where)
    return data


def artifact(project: Project, object_id: str, where: str) -> Path:
    """The local file of a stored object (fetched from the version store when this machine
    lacks it), checked against its hash: a missing or changed object is one RegistryError."""
    path = _artifact_file(project, object_id, where)
    if file_hash(path) != object_id:
        raise _corrupt(project, path, object_id, where)
    return path


def _artifact_file(project: Project, object_id: str, where: str) -> Path:
    try:
        return project.versions.artifact_path(object_id)
    except CorruptObject as exc:
        raise RegistryError(f"{where}: {exc.message}; save it again") from exc


def _corrupt(project: Project, path: Path, object_id: str, where: str) -> RegistryError:
    """The error for an object whose bytes no longer hash to its id (edited, or damaged)."""
    fix = (
        "delete that file to download the repository's copy again, or save it again"
        if project.config.versions_backend == "lakefs"
        else "restore that file from a backup or save it again (sqlops fsck lists all)"
    )
    return RegistryError(
        f"{where}: artifact {path} is corrupt (its bytes no longer match hash {object_id}); {fix}"
    )


def publish_model(shared: SharedRecords, row: dict[str, Any]) -> int:
    """Create the record of the next free version of ``row["name"]`` in the shared store;
    returns that version. The store creates each path once, so when another clone took the
    number meanwhile this one moves on to the next."""
    prefix = record_path(row["name"])
    taken = [_version_in(path, prefix) for path in shared.record_paths(prefix)]
    version = max((v for v in taken if v is not None), default=0) + 1
    record = {"format": RECORD_FORMAT, **row, "saved_at": datetime.now(UTC).isoformat()}
    while True:
        record["version"] = version
        data = json.dumps(record, sort_keys=True, indent=1).encode()
        path = record_path(row["name"], version)
        if shared.create_record(path, data, f"model {row['name']} version {version}"):
            return version
        version += 1


def refresh(shared: SharedRecords, catalog: RegistryCatalog, name: str | None = None) -> None:
    """Bring the catalog's mirror of the shared records (one name's, or all) up to date:
    one listing, then a download of each record that is new or changed since this clone
    last read it (several at once: a new clone reads them all); records deleted from the
    store are marked gone."""
    prefix = MODELS if name is None else record_path(name)
    listed = {p: c for p, c in shared.record_paths(prefix).items() if not is_event_path(p)}
    known = catalog.mirrored(name)
    keys = {path: _record_key(shared, path) for path in sorted(listed)}
    wanted = [p for p, key in keys.items() if known.get(key) != (listed[p], False)]
    with ThreadPoolExecutor(max_workers=_DOWNLOADS) as pool:
        downloaded = list(pool.map(shared.read_record, wanted))
    fresh = [
        (_decoded_record(shared, path, keys[path], data), listed[path])
        for path, data in zip(wanted, downloaded, strict=True)
        if data is not None  # None: deleted since the listing
    ]
    present = set(keys.values())
    gone = [key for key, (_, was_gone) in known.items() if key not in present and not was_gone]
    if fresh or gone:
        catalog.mirror(fresh, gone)


def record_path(name: str, version: int | None = None) -> str:
    """``_sqlops/models/<name>/<version>.json`` (the name percent-encoded, so any name is
    one path segment); without a version, the name's folder."""
    folder = f"{MODELS}{quote(name, safe='')}/"
    return folder if version is None else f"{folder}{version}.json"


def is_event_path(path: str) -> bool:
    """An approval event's record (``<name>/events/...``), not a version's (``<name>/<v>``):
    a name is one percent-encoded segment, so a version record has one slash below MODELS."""
    return path.startswith(MODELS) and path[len(MODELS) :].count("/") > 1


def _version_in(path: str, folder: str) -> int | None:
    stem = path[len(folder) :].removesuffix(".json")
    return int(stem) if path.endswith(".json") and stem.isdigit() else None


def _record_key(shared: SharedRecords, path: str) -> tuple[str, int]:
    folder, _, _ = path.rpartition("/")
    name = unquote(folder[len(MODELS) :])
    version = _version_in(path, f"{folder}/")
    if not name or version is None or record_path(name, version) != path:
        raise RegistryError(
            f"{shared.record_location(path)} is not a model registry record (records are "
            f"{MODELS}<name>/<version>.json); move or delete it"
        )
    return name, version


def _decoded_record(
    shared: SharedRecords, path: str, key: tuple[str, int], data: bytes
) -> dict[str, Any]:
    """A record's row, checked: a record that is not what sqlops wrote is one error."""
    try:
        record = json.loads(data)
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        wrong = [f for f, kind in _RECORD_TYPES.items() if not isinstance(record.get(f), kind)] + (
            ["version"] if isinstance(record.get("version"), bool) else []
        )
        if wrong:
            raise ValueError(f"missing or mistyped {', '.join(sorted(set(wrong)))}")
        if (record["name"], record["version"]) != key:
            raise ValueError(f"it names {record['name']} version {record['version']}")
    except ValueError as exc:
        raise RegistryError(
            f"{shared.record_location(path)} is corrupt ({str(exc).splitlines()[0]}); "
            "restore it from that branch's history (lakectl log, then revert) or delete it"
        ) from exc
    return {f: record[f] for f in _RECORD_TYPES}


def registry_problems(catalog_path: Path, versions: VersionStore) -> list[str]:
    """``fsck`` of the registry: each registered model and stored frame version whose
    object is missing from the version store or no longer matches its hash (on lakeFS, an
    object this machine lacks is downloaded to be checked, and the models are the shared
    registry's)."""
    catalog = RegistryCatalog(catalog_path)
    shared = versions.shared_records()
    problems = []
    if shared is not None:
        try:
            refresh(shared, catalog)
        except RegistryError as exc:  # a corrupt record: reported, the rest still checked
            problems.append(exc.message)
    for kind, rows, key in (
        ("model", catalog.models(shared=shared is not None), "artifact"),
        ("stored frame", catalog.frames(), "object"),
    ):
        for row in rows:
            where = f"{kind} {row['name']} version {row['version']}"
            try:
                path = versions.artifact_path(row[key])
            except CorruptObject as exc:
                problems.append(f"{where}: {exc.message}")
                continue
            if file_hash(path) != row[key]:
                problems.append(f"{where}: object {row[key]} is corrupt")
    return problems
