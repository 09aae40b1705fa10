"""The model registry: ``store.save_model`` / ``load_model`` / ``list_models`` /
``get_model`` on a project's ``FeatureStore``.

A model is pickled and kept as an object of the version store's object folder, under the
blake3 hash of its bytes (so the same model saved twice is stored once); the catalog keeps
each version's metadata. Objects are named ``<hash>.parquet`` whatever they hold; only the
catalog knows an artifact is a pickle, and ``gc`` keeps every registered object.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from sqlops.catalog.features import FeatureCatalog
from sqlops.catalog.registry import RegistryCatalog
from sqlops.errors import RegistryError, did_you_mean
from sqlops.storage.lock import build_lock
from sqlops.storage.objects import ObjectStore, file_hash

if TYPE_CHECKING:
    from pathlib import Path

    from sqlops.api import Project

# the governance issue's approvals move models between stages; until then every model is here
DEFAULT_STAGE = "none"
# a save waits this long for a running build or gc to finish
LOCK_WAIT = 600.0


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
        a saved training set, whose data version is recorded with it."""
        _check_name(name)
        data_version = self._training_version(training_set) if training_set else None
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
            "data_version": data_version,
            "metrics": _metrics(name, metrics or {}),
            "owner": owner or self.project._author(),
            "stage": DEFAULT_STAGE,
        }
        version = keep_object(
            self.project, lambda path: path.write_bytes(payload), self._registry.record_model, row
        )
        return self.get_model(name, version)

    def list_models(self) -> list[RegisteredModel]:
        """Every version of every model, by name then version."""
        return [_model(r) for r in self._registry.models()]

    def get_model(self, name: str, version: int | None = None) -> RegisteredModel:
        """One version's record (the latest by default)."""
        versions = self._registry.models(name)
        if not versions:
            known = sorted({r["name"] for r in self._registry.models()})
            hint = (
                did_you_mean(name, known) or "save one with store.save_model(name=..., model=...)"
            )
            raise RegistryError(f"no model named {name!r} in the registry; {hint}")
        if version is None:
            return _model(versions[-1])
        for row in versions:
            if row["version"] == version:
                return _model(row)
        raise RegistryError(
            f"model {name} has no version {version}; its versions are 1..{versions[-1]['version']}"
        )

    def load_model(self, name: str, version: int | None = None) -> Any:
        """The unpickled model (the latest version by default), after checking that its
        artifact's bytes still hash to the id recorded when it was saved."""
        record = self.get_model(name, version)
        path = self.project.objects.path(record.artifact)
        where = f"model {name} version {record.version}"
        if not path.is_file():
            raise RegistryError(
                f"{where}: artifact {record.artifact} is missing from {path.parent.parent}; "
                "save the model again"
            )
        if file_hash(path) != record.artifact:
            raise RegistryError(
                f"{where}: artifact {path} is corrupt (its bytes no longer match hash "
                f"{record.artifact}); save the model again"
            )
        try:
            return pickle.loads(path.read_bytes())  # our own artifact, hash-checked above
        except (ImportError, AttributeError) as exc:
            raise RegistryError(
                f"{where}: cannot unpickle it here ({exc}); import or install the code that "
                "defines the model's class, then load it again"
            ) from exc

    def _training_version(self, name: str) -> str:
        catalog = FeatureCatalog(self.project.config.catalog_path)
        record = catalog.training_set(name)
        if record is None:
            known = [r["name"] for r in catalog.training_sets()]
            hint = did_you_mean(name, known) or "save it first with store.save_training_set"
            raise RegistryError(f"save_model: no training set named {name!r}; {hint}")
        return str(record["data_version"])


def keep_object(
    project: Project,
    write: Callable[[Path], object],
    record: Callable[[dict[str, Any]], int],
    row: dict[str, Any],
) -> int:
    """Write an object (``write(path)``), store it and ``record`` its id (as
    ``row["artifact"]``) under the build lock, so a ``gc`` never sees it unrecorded."""
    objects = project.objects
    with build_lock(project.config.state_path, wait=LOCK_WAIT):
        temp = objects.temp_path()
        write(temp)
        return record({**row, "artifact": objects.put(temp)})


def registry_problems(catalog_path: Path, objects: ObjectStore) -> list[str]:
    """``fsck`` of the registry: each registered model and stored frame version whose
    object is missing or no longer matches its hash."""
    catalog = RegistryCatalog(catalog_path)
    problems = []
    for kind, rows, key in (
        ("model", catalog.models(), "artifact"),
        ("stored frame", catalog.frames(), "object"),
    ):
        for row in rows:
            path = objects.path(row[key])
            state = "missing" if not path.is_file() else "corrupt"
            if state == "missing" or file_hash(path) != row[key]:
                problems.append(
                    f"{kind} {row['name']} version {row['version']}: object {row[key]} is {state}"
                )
    return problems


def _metrics(name: str, metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Metrics as JSON values (numpy scalars become Python numbers), checked before anything
    is stored."""
    out = {str(k): v.item() if hasattr(v, "item") else v for k, v in metrics.items()}
    try:
        json.dumps(out, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise RegistryError(
            f"model {name}: metrics must be numbers, strings, lists or dicts ({exc})"
        ) from exc
    return out


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise RegistryError(
            f"model name {name!r} is not a name; use a non-empty string without surrounding spaces"
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
