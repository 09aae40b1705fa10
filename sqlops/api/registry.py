"""The model registry: ``store.save_model`` / ``load_model`` / ``list_models`` /
``get_model`` on a project's ``FeatureStore``.

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
"""

from __future__ import annotations

import json
import math
import pickle
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from sqlops.catalog.features import FeatureCatalog
from sqlops.catalog.registry import RegistryCatalog
from sqlops.errors import CorruptObject, RegistryError, did_you_mean
from sqlops.storage.lock import build_lock
from sqlops.storage.objects import file_hash

if TYPE_CHECKING:
    from sqlops.api import Project
    from sqlops.versioning.store import SharedRecords, VersionStore

# the governance issue's approvals move models between stages; until then every model is here
DEFAULT_STAGE = "none"
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


class ModelRegistryMixin:
    """The registry verbs of ``FeatureStore`` (which provides ``project``)."""

    project: Project

    @property
    def _registry(self) -> RegistryCatalog:
        return RegistryCatalog(self.project.config.catalog_path)

    def save_model(
        self,
        name: str,
        model: Any,
        features: Sequence[str] | None = None,
        training_set: str | None = None,
        metrics: Mapping[str, Any] | None = None,
        owner: str | None = None,
    ) -> RegisteredModel:
        """Store ``model`` (pickled) as the next version of ``name``; ``training_set`` names
        a saved training set, whose data version (and, without ``features``, whose features)
        is recorded with it. Nothing is recorded when any part fails."""
        _check_name(name)
        try:
            payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise RegistryError(
                f"model {name}: {type(model).__name__} cannot be pickled ({exc}); "
                "save a picklable estimator"
            ) from exc
        row = {
            "name": name,
            "features": list([features] if isinstance(features, str) else features or []),
            "training_set": training_set,
            "data_version": None,
            "metrics": _metrics(name, metrics or {}),
            "owner": owner or self.project._author(),
            "stage": DEFAULT_STAGE,
        }
        # every catalog read and write under one lock: a process reading the catalog while
        # another writes it would be refused by DuckDB
        with registry_lock(self.project):
            if training_set:
                row["data_version"], used = self._training_set(training_set)
                row["features"] = row["features"] or used
            row["artifact"] = store_object(self.project, lambda path: path.write_bytes(payload))
            shared = self._shared()
            if shared is None:
                version = self._registry.record_model(row)
            else:
                version = publish_model(shared, row)
            return self.get_model(name, version)

    def list_models(self) -> list[RegisteredModel]:
        """Every version of every model, by name then version."""
        return [_model(r) for r in self._versions()]

    def get_model(self, name: str, version: int | None = None) -> RegisteredModel:
        """One version's record (the latest by default)."""
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise RegistryError(
                f"model {name}: version {version!r} is not a version number; pass an int"
            )
        versions = self._versions(name)
        for row in versions:
            if row["version"] == version or (version is None and row is versions[-1]):
                return _model(row)
        self._check_not_gone(name, version)
        if not versions:
            known = sorted({r["name"] for r in self._versions()})
            hint = (
                did_you_mean(name, known) or "save one with store.save_model(name=..., model=...)"
            )
            if self._shared() is not None and self._registry.models(name):
                hint = (
                    "it is in this clone's local registry from before the switch to lakeFS "
                    "(kept there; set versions.backend = 'local' to read it)"
                )
            raise RegistryError(f"no model named {name!r} in the registry; {hint}")
        raise RegistryError(
            f"model {name} has no version {version}; its versions are 1..{versions[-1]['version']}"
        )

    def load_model(self, name: str, version: int | None = None) -> Any:
        """The unpickled model (the latest version by default), after checking that its
        artifact's bytes still hash to the id recorded when it was saved (on lakeFS, an
        artifact this machine lacks is downloaded first)."""
        record = self.get_model(name, version)
        path = artifact(self.project, record.artifact, f"model {name} version {record.version}")
        try:
            return pickle.loads(path.read_bytes())  # our own artifact, hash-checked
        except (ImportError, AttributeError) as exc:
            raise RegistryError(
                f"model {name} version {record.version}: cannot unpickle it here ({exc}); "
                "import or install the code that defines the model's class, then load it again"
            ) from exc

    def _shared(self) -> SharedRecords | None:
        """The version store's shared records when it is lakeFS (the local store's registry
        is the catalog; asking the config first keeps a read from creating the store)."""
        if self.project.config.versions_backend != "lakefs":
            return None
        return self.project.versions.shared_records()

    def _versions(self, name: str | None = None) -> list[dict[str, Any]]:
        """The registry's rows (one name's, or all), read fresh from a shared store."""
        shared = self._shared()
        if shared is None:
            return self._registry.models(name)
        refresh(shared, self._registry, name)
        return self._registry.models(name, shared=True)

    def _check_not_gone(self, name: str, version: int | None) -> None:
        """A version this clone has read before whose record is gone from the store is
        one error saying so, not 'no such model'."""
        shared = self._shared()
        if shared is None:
            return
        gone = sorted(
            v for (_, v), (_, was_gone) in self._registry.mirrored(name).items() if was_gone
        )
        if gone and (version is None or version in gone):
            missing = gone[-1] if version is None else version
            raise RegistryError(
                f"model {name} version {missing}: its record is missing from "
                f"{shared.record_location(record_path(name, missing))}; restore it from that "
                "branch's history (lakectl log, then revert) or save the model again"
            )

    def _training_set(self, name: str) -> tuple[str, list[str]]:
        """A saved training set's data version and the features it was computed with."""
        catalog = FeatureCatalog(self.project.config.catalog_path)
        record = catalog.training_set(name)
        if record is None:
            known = [r["name"] for r in catalog.training_sets()]
            hint = did_you_mean(name, known) or "save it first with store.save_training_set"
            raise RegistryError(f"save_model: no training set named {name!r}; {hint}")
        return str(record["data_version"]), list(record["request"]["features"])


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


def artifact(project: Project, object_id: str, where: str) -> Path:
    """The local file of a stored object (fetched from the version store when this machine
    lacks it), checked against its hash: a missing or changed object is one RegistryError."""
    try:
        path = project.versions.artifact_path(object_id)
    except CorruptObject as exc:
        raise RegistryError(f"{where}: {exc.message}; save it again") from exc
    if file_hash(path) != object_id:
        raise RegistryError(
            f"{where}: artifact {path} is corrupt (its bytes no longer match hash "
            f"{object_id}); save it again"
        )
    return path


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
    listed = shared.record_paths(prefix)
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


def _metrics(name: str, metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Metrics as JSON values (numpy scalars become Python numbers), checked before anything
    is stored. NaN and infinities are refused: JSON has no such numbers, and ``--json``
    output must stay JSON."""
    out = {str(k): v.item() if hasattr(v, "item") else v for k, v in metrics.items()}
    for key, value in out.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise RegistryError(
                f"model {name}: metric {key!r} is {value}, which JSON cannot hold; "
                "record it as a string (e.g. 'nan') or leave it out"
            )
    try:
        json.dumps(out, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise RegistryError(
            f"model {name}: metrics must be finite numbers, strings, lists or dicts ({exc})"
        ) from exc
    return out


def _check_name(name: str) -> None:
    if (
        not isinstance(name, str)
        or not name.strip()
        or name != name.strip()
        or not name.isprintable()
    ):
        raise RegistryError(
            f"model name {name!r} is not a name; use a non-empty, one-line string without "
            "surrounding spaces"
        )


def _model(row: Mapping[str, Any]) -> RegisteredModel:
    return RegisteredModel(
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
