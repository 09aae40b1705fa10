"""The model registry's front door: ``project.models`` (a ``ModelRegistry``).

It composes the registry's write-once version records and artifacts (``api/registry.py``),
the append-only approval events beside them (``api/modelevents.py``) and what those events
mean (``governance/approval.py``): ``save``, ``get``, ``list``, ``load``, ``approve``,
``reject``, ``promote``, ``card`` and ``history``. A version's ``stage`` as returned here is
the one its events put it in (``candidate`` until moved). The approval policy (who may
approve, how many must, the metric thresholds) is the ``[approval]`` section's, each value
given as an argument winning over it.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import math
import pickle
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlops.api.audit import record as audit
from sqlops.api.modelevents import append_events, event_of, new_event, read_events
from sqlops.api.registry import (
    DEFAULT_STAGE,
    RegisteredModel,
    artifact_bytes,
    publish_model,
    record_path,
    refresh,
    registry_lock,
    store_object,
)
from sqlops.catalog.features import FeatureCatalog
from sqlops.catalog.registry import RegistryCatalog
from sqlops.config import user_name
from sqlops.config.governance import ApprovalConfig
from sqlops.errors import ApprovalError, RegistryError, did_you_mean
from sqlops.governance.approval import (
    APPROVE,
    PRODUCTION,
    PROMOTE,
    REJECT,
    ApprovalState,
    HistoryEntry,
    ModelEvent,
    approval_state,
    check_target,
    model_card,
    requirements,
)

if TYPE_CHECKING:
    from sqlops.api import Project
    from sqlops.versioning.store import SharedRecords

# whether the training set's contracts passed at its data version: known, or asked of the
# version (None: not checked)
Contracts = bool | None | Callable[[RegisteredModel], bool | None]


class ModelRegistry:
    """``sqlops.Project(".").models``: saved model versions, their approvals and stages."""

    def __init__(self, project: Project) -> None:
        self.project = project

    @property
    def _catalog(self) -> RegistryCatalog:
        return RegistryCatalog(self.project.config.catalog_path)

    # -- versions ------------------------------------------------------------------------

    def save(
        self,
        name: str,
        model: Any,
        *,
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
                version = self._catalog.record_model(row)
            else:
                version = publish_model(shared, row)
            return self.get(name, version)

    def list(self) -> builtins.list[RegisteredModel]:
        """Every version of every model, by name then version, each at its current stage."""
        rows, state = self._read(None)
        return [_staged(RegisteredModel.from_row(r), state) for r in rows]

    def get(self, name: str, version: int | None = None) -> RegisteredModel:
        """One version's record (the latest by default), at its current stage."""
        rows, state = self._read(name)
        return _staged(self._pick(name, version, rows), state)

    def _read(self, name: str | None) -> tuple[builtins.list[dict[str, Any]], ApprovalState]:
        """Version rows and the fold of their events (one model's, or all)."""
        shared = self._shared()
        if shared is not None:
            return self._versions(name), self.state(name)
        rows, events = self._catalog.models_and_events(name)
        return rows, approval_state(event_of(r) for r in events)

    def load(self, name: str, version: int | None = None) -> Any:
        """The unpickled model (the latest version by default), after checking that its
        artifact's bytes still hash to the id recorded when it was saved: a changed file is
        refused before a byte of it is unpickled (on lakeFS, an artifact this machine lacks
        is downloaded first)."""
        record = self._record(name, version)
        where = f"model {name} version {record.version}"
        data = artifact_bytes(self.project, record.artifact, where)
        try:
            return pickle.loads(data)  # our own artifact, hash-checked
        except (ImportError, AttributeError) as exc:
            raise RegistryError(
                f"model {name} version {record.version}: cannot unpickle it here ({exc}); "
                "import or install the code that defines the model's class, then load it again"
            ) from exc

    # -- approvals and stages ------------------------------------------------------------

    def state(self, name: str | None = None) -> ApprovalState:
        """The fold of the registry's events (one model's, or all)."""
        return approval_state(read_events(self._catalog, self._shared(), name))

    def history(self, name: str) -> builtins.list[HistoryEntry]:
        """Every approval, rejection and stage move of ``name``, oldest first (the moves a
        promotion caused, such as the previous production version archived, included)."""
        self._record(name, None)  # an unknown name is an error, not an empty history
        return builtins.list(self.state(name).history.get(name, ()))

    def approve(
        self,
        name: str,
        version: int,
        by: str,
        reason: str = "",
        *,
        approvers: Sequence[str] | None = None,
    ) -> ModelEvent:
        """Record ``by``'s approval of a version (``by`` must be one of ``approvers``; a
        second approval by the same person counts once, and lifts their earlier veto)."""
        return self._verdict(APPROVE, name, version, by, reason, approvers)

    def reject(
        self,
        name: str,
        version: int,
        by: str,
        reason: str = "",
        *,
        approvers: Sequence[str] | None = None,
    ) -> ModelEvent:
        """Record ``by``'s veto: the version cannot go to production until ``by`` approves
        it again."""
        return self._verdict(REJECT, name, version, by, reason, approvers)

    def _verdict(
        self,
        kind: str,
        name: str,
        version: int,
        by: str,
        reason: str,
        approvers: Sequence[str] | None,
    ) -> ModelEvent:
        _check_text("reason", reason)
        _check_approver(by, self._policy(approvers).approvers, name)
        with registry_lock(self.project):
            self._record(name, _exact(name, version, kind))
            event = new_event(name, version, kind, by, reason)
            append_events(self._catalog, self._shared(), [event])
        audit(self.project, kind, f"{name}@{version}", "recorded", {"by": by})
        return event

    def requirements(
        self,
        name: str,
        version: int,
        *,
        approvers: Sequence[str] | None = None,
        min_approvers: int | None = None,
        metrics: Mapping[str, str] | None = None,
        contracts: Contracts = None,
        pii_features: Sequence[str] = (),
    ) -> builtins.list[str]:
        """What stands between a version and production, one line each (empty: nothing)."""
        record = self._record(name, _exact(name, version, "check"))
        return self._unmet(
            record, self.state(name), approvers, min_approvers, metrics, contracts, pii_features
        )

    def promote(
        self,
        name: str,
        version: int,
        to: str,
        *,
        by: str | None = None,
        reason: str = "",
        approvers: Sequence[str] | None = None,
        min_approvers: int | None = None,
        metrics: Mapping[str, str] | None = None,
        contracts: Contracts = None,
        pii_features: Sequence[str] = (),
    ) -> RegisteredModel:
        """Move a version to ``to`` (staging, production or archived); the version there
        before (staging and production hold one each) is archived. To production only when
        every requirement holds (metric thresholds, the training set's contracts at its data
        version, no un-anonymized PII feature, ``min_approvers`` distinct approvers and no
        standing veto): otherwise an ApprovalError listing each, and nothing written. A
        version already at ``to`` is left as it is."""
        check_target(to)
        _check_text("reason", reason)
        who = by or self.project._author() or user_name()
        with registry_lock(self.project):
            record = self._record(name, _exact(name, version, "promote"))
            state = self.state(name)
            if state.stage(name, version) == to:
                return _staged(record, state)
            if to == PRODUCTION:
                unmet = self._unmet(
                    record, state, approvers, min_approvers, metrics, contracts, pii_features
                )
                if unmet:
                    details = {"to": to, "unmet": len(unmet)}
                    audit(self.project, "promote", f"{name}@{version}", "refused", details)
                    raise ApprovalError(
                        f"model {name} version {version} cannot go to production: "
                        f"{len(unmet)} requirement{'s' if len(unmet) > 1 else ''} unmet: "
                        + "; ".join(unmet),
                        unmet=unmet,
                    )
            event = new_event(name, version, PROMOTE, who, reason, to)
            append_events(self._catalog, self._shared(), [event])
        audit(self.project, "promote", f"{name}@{version}", "moved", {"to": to})
        return self.get(name, version)

    def card(
        self,
        name: str,
        version: int | None = None,
        *,
        intended_use: str | None = None,
        contracts: Contracts = None,
        pii_features: Sequence[str] = (),
        approvers: Sequence[str] | None = None,
        min_approvers: int | None = None,
        metrics: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """A version's model card (JSON values; ``render_card_markdown`` makes Markdown of
        it): intended use and owner, metrics, training data and its contracts, features,
        approvals, stage history, and what production still needs."""
        record = self._record(name, version)
        state = self.state(name)
        passed = _contracts(record, self._or_contracts_at(contracts))
        pii = pii_features or self.raw_pii_features(record)
        unmet = self._unmet(record, state, approvers, min_approvers, metrics, passed, pii)
        return model_card(
            record,
            state,
            intended_use=intended_use,
            contract_status=passed,
            pii_features=pii,
            unmet=unmet,
        )

    def _unmet(
        self,
        record: RegisteredModel,
        state: ApprovalState,
        approvers: Sequence[str] | None,
        min_approvers: int | None,
        metrics: Mapping[str, str] | None,
        contracts: Contracts,
        pii_features: Sequence[str],
    ) -> builtins.list[str]:
        policy = self._policy(approvers, min_approvers, metrics)
        return requirements(
            record,
            state,
            approvers=policy.approvers,
            min_approvers=policy.min_approvers,
            metric_rules=policy.metrics,
            contract_status=_contracts(record, self._or_contracts_at(contracts)),
            pii_features=pii_features or self.raw_pii_features(record),
        )

    def _or_contracts_at(self, contracts: Contracts) -> Contracts:
        return self.contracts_at if contracts is None else contracts

    def contracts_at(self, record: RegisteredModel) -> bool | None:
        """Whether the contracts of the tables behind the model's features pass on the data
        as recorded with it (its data version); None when no contract covers them, since a
        requirement never holds by being skipped."""
        from sqlops.api.contracts import Contracts as Checker
        from sqlops.api.contracts import bindings

        bound = bindings(self.project.load())
        tables = sorted(self._feature_columns(record).keys() & bound.keys())
        if not tables or record.data_version is None:
            return None
        checker = Checker(self.project.config, bound)
        engine = self.project.engine_at(record.data_version)
        try:
            for table in tables:
                checker.validate(engine, table, table)
        finally:
            engine.close()
        return not any(r.bad for r in checker.results)

    def raw_pii_features(self, record: RegisteredModel) -> builtins.list[str]:
        """The model's features whose column is tagged as PII with no anonymization rule."""
        tags = self.project.config.columns
        return sorted(
            f"{table}.{column}"
            for table, columns in self._feature_columns(record).items()
            for column in columns
            if (p := tags.get(table, {}).get(column)) is not None and p.pii and not p.anonymize
        )

    def _feature_columns(self, record: RegisteredModel) -> dict[str, set[str]]:
        """The relation and column behind each of the model's ``view:feature`` features."""
        from sqlops.features.definitions import split_ref

        views = self.project.features.registry.views
        out: dict[str, set[str]] = {}
        for ref in record.features:
            view_name, feature = split_ref(ref)
            view = views.get(view_name)
            if view is not None:
                names = [f.name for f in view.features] if feature == "*" else [feature]
                out.setdefault(view.source, set()).update(names)
        return out

    def _policy(
        self,
        approvers: Sequence[str] | None,
        min_approvers: int | None = None,
        metrics: Mapping[str, str] | None = None,
    ) -> ApprovalConfig:
        """The ``[approval]`` section, each value given as an argument winning over it."""
        config = self.project.config.approval
        return ApprovalConfig(
            approvers=config.approvers if approvers is None else tuple(approvers),
            min_approvers=config.min_approvers if min_approvers is None else min_approvers,
            metrics=config.metrics if metrics is None else metrics,
        )

    # -- the records ---------------------------------------------------------------------

    def _record(self, name: str, version: int | None) -> RegisteredModel:
        """One version's record as saved (the latest by default)."""
        return self._pick(name, version, None)

    def _pick(
        self, name: str, version: int | None, rows: builtins.list[dict[str, Any]] | None
    ) -> RegisteredModel:
        """One version of ``name`` among its rows (read here when None), or the error that
        says what there is instead."""
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise RegistryError(
                f"model {name}: version {version!r} is not a version number; pass an int"
            )
        versions = self._versions(name) if rows is None else rows
        for row in versions:
            if row["version"] == version or (version is None and row is versions[-1]):
                return RegisteredModel.from_row(row)
        self._check_not_gone(name, version)
        if not versions:
            known = sorted({r["name"] for r in self._versions()})
            hint = (
                did_you_mean(name, known) or "save one with store.save_model(name=..., model=...)"
            )
            if self._shared() is not None and self._catalog.models(name):
                hint = (
                    "it is in this clone's local registry from before the switch to lakeFS "
                    "(kept there; set versions.backend = 'local' to read it)"
                )
            raise RegistryError(f"no model named {name!r} in the registry; {hint}")
        raise RegistryError(
            f"model {name} has no version {version}; its versions are 1..{versions[-1]['version']}"
        )

    def _shared(self) -> SharedRecords | None:
        """The version store's shared records when it is lakeFS (the local store's registry
        is the catalog; asking the config first keeps a read from creating the store)."""
        if self.project.config.versions_backend != "lakefs":
            return None
        return self.project.versions.shared_records()

    def _versions(self, name: str | None = None) -> builtins.list[dict[str, Any]]:
        """The registry's rows (one name's, or all), read fresh from a shared store."""
        shared = self._shared()
        if shared is None:
            return self._catalog.models(name)
        refresh(shared, self._catalog, name)
        return self._catalog.models(name, shared=True)

    def _check_not_gone(self, name: str, version: int | None) -> None:
        """A version this clone has read before whose record is gone from the store is
        one error saying so, not 'no such model'."""
        shared = self._shared()
        if shared is None:
            return
        gone = sorted(
            v for (_, v), (_, was_gone) in self._catalog.mirrored(name).items() if was_gone
        )
        if gone and (version is None or version in gone):
            missing = gone[-1] if version is None else version
            raise RegistryError(
                f"model {name} version {missing}: its record is missing from "
                f"{shared.record_location(record_path(name, missing))}; restore it from that "
                "branch's history (lakectl log, then revert) or save the model again"
            )

    def _training_set(self, name: str) -> tuple[str, builtins.list[str]]:
        """A saved training set's data version and the features it was computed with."""
        catalog = FeatureCatalog(self.project.config.catalog_path)
        record = catalog.training_set(name)
        if record is None:
            known = [r["name"] for r in catalog.training_sets()]
            hint = did_you_mean(name, known) or "save it first with store.save_training_set"
            raise RegistryError(f"save_model: no training set named {name!r}; {hint}")
        return str(record["data_version"]), builtins.list(record["request"]["features"])


def _staged(record: RegisteredModel, state: ApprovalState) -> RegisteredModel:
    return dataclasses.replace(record, stage=state.stage(record.name, record.version))


def _contracts(record: RegisteredModel, contracts: Contracts) -> bool | None:
    """The contract verdict, asked of a callable only when a data version is recorded."""
    if not callable(contracts):
        return contracts
    return contracts(record) if record.data_version is not None else None


def _exact(name: str, version: int | None, verb: str) -> int:
    """Approvals and moves name a version: 'the latest' could change under the reader."""
    if version is None:
        raise ApprovalError(
            f"model {name}: {verb} needs a version number; sqlops models list shows them"
        )
    return version


def _check_approver(by: str, approvers: Sequence[str], name: str) -> None:
    _check_text("approver", by, empty=False)
    if not approvers:
        raise ApprovalError(
            f"model {name}: nobody may approve ([approval] approvers is empty); "
            "list who may approve in sqlops.toml"
        )
    if by not in approvers:
        hint = did_you_mean(by, approvers) or f"approvers are {', '.join(approvers)}"
        raise ApprovalError(f"model {name}: {by!r} is not listed in [approval] approvers; {hint}")


def _check_text(what: str, text: Any, *, empty: bool = True) -> None:
    """A name or reason as one printable line (it is shown in one-line messages)."""
    if not isinstance(text, str) or (not empty and not text.strip()) or not text.isprintable():
        raise ApprovalError(f"{what} {text!r} is not a one-line text; pass a printable string")


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
