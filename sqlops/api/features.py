"""The feature store verbs: ``project.features`` (a ``FeatureStore``), with Feast's names.

It composes the project (config, loading, warehouse, versions) with ``sqlops.features``
(definitions, point-in-time joins, the online store) and the catalog (view builds and
training sets). ``build_features`` is the step ``Project.build`` runs after the models.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlops.api.registry import ModelRegistryMixin
from sqlops.api.seedstore import SeedStoreMixin, polars_frame
from sqlops.api.transforms import TransformVerbs
from sqlops.catalog.features import FeatureCatalog
from sqlops.errors import FeatureError, OnlineStoreError, PolicyDenied
from sqlops.execute.parts import SampleRequest, sample_file
from sqlops.execute.results import BuildResult
from sqlops.features.declared import project_registry, python_declarations
from sqlops.features.definitions import (
    Entity,
    Feature,
    FeatureRegistry,
    FeatureView,
    ViewSelection,
)
from sqlops.features.pit import from_text
from sqlops.features.stats import SAMPLE_ROWS

if TYPE_CHECKING:
    import polars as pl

    from sqlops.api import Project
    from sqlops.api.base import ProjectBase
    from sqlops.execute.engine import Engine
    from sqlops.features.build import BuiltView
    from sqlops.features.online import Materialized, OnlineStore
    from sqlops.governance.sandbox import Sandbox
    from sqlops.project.model import ProjectSpec

ONLINE_FILE = "online.sqlite"
# present while the warehouse has feature views, so a build whose config has none left
# knows to drop them
BUILT_MARKER = "cache/feature-views"
SAMPLES_DIR = "cache/samples"
TRAINING_DIR = "training_sets"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_OK = ("success", "skipped")


def sample_requests(project: ProjectBase, spec: ProjectSpec) -> dict[str, SampleRequest]:
    """The table models feature views read, each with the feature columns whose statistics
    the build computes: the build keeps a sample of them while the table is staged. Empty
    when a view is misdeclared (``build_features`` then reports it, after the models)."""
    config = project.config
    declared = python_declarations(config)
    if not config.feature_views and not declared:
        return {}
    try:
        registry = project_registry(config, spec.names, declared)
    except FeatureError:
        return {}
    columns: dict[str, dict[str, None]] = {}
    for view in registry.views.values():
        model = spec.models.get(view.source)
        if model is not None and model.materialized == "table":
            columns.setdefault(view.source, {}).update(dict.fromkeys(f.name for f in view.features))
    folder = config.state_path / SAMPLES_DIR
    return {name: SampleRequest(folder, tuple(cols), SAMPLE_ROWS) for name, cols in columns.items()}


def build_features(project: ProjectBase, spec: ProjectSpec, result: BuildResult) -> list[BuiltView]:
    """Create ``features.<view>`` for every declared view whose relation built, and record
    each view's definition, fingerprint and statistics in the catalog."""
    config = project.config
    marker = config.state_path / BUILT_MARKER
    declared = python_declarations(config)  # walks sys.modules: once for this step
    if not config.feature_views and not declared and not marker.exists():
        return []  # no feature store here: no DuckDB, no catalog
    from sqlops.features.build import build_views

    registry = project_registry(config, spec.names, declared)
    fingerprints = {n.name: n.fingerprint for n in result.nodes if n.status in _OK}
    # a table model's parts share one schema (an incremental model's may not); its sample
    # was kept while it was staged, if it was
    tables = [
        n for n in result.nodes if n.status == "success" and n.materialized == "table" and n.objects
    ]
    parts = {n.name: [str(project.objects.path(o)) for o in n.objects] for n in tables}
    folder = config.state_path / SAMPLES_DIR
    samples = {n.name: sample_file(folder, n.name, n.objects) for n in tables}
    catalog = FeatureCatalog(config.catalog_path)
    previous = catalog.latest_views()
    where = {
        name: f"{config.config_file}:{view.line}: " if config.config_file else ""
        for name, view in config.feature_views.items()
    }
    where.update({v.name: f"{path}: " for v, path in declared if isinstance(v, FeatureView)})
    engine = project._open_warehouse(macros=False)
    try:
        built = build_views(
            engine,
            registry,
            fingerprints,
            previous,
            where,
            parts=parts,
            samples=samples,
            keep=set(spec.names),
        )
    finally:
        engine.close()
    catalog.record_views(result.run_id, [b.record() for b in built])
    # a sample serves the build that kept it: the rest belong to replaced or removed tables
    for stale in set(folder.glob("*.parquet")) - set(samples.values()):
        stale.unlink(missing_ok=True)
    if registry.views:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    else:  # the last views are gone from the config and (just now) from the warehouse
        marker.unlink(missing_ok=True)
    return built


class FeatureStore(ModelRegistryMixin, SeedStoreMixin, TransformVerbs):
    """A project's feature store: ``sqlops.Project(".").features``.

    Feature data is read from the warehouse (or, with ``ref=``, from a committed version);
    the online store is ``.sqlops/online.sqlite``; training sets are kept under
    ``.sqlops/training_sets/``.
    """

    def __init__(self, project: Project) -> None:
        self.project = project
        self._online: OnlineStore | None = None
        self._requests: dict[int, tuple[pl.DataFrame, dict[str, Any], Any]] = {}

    # -- definitions ---------------------------------------------------------------------

    @cached_property
    def registry(self) -> FeatureRegistry:
        """Every entity and feature view of the project (config and Python)."""
        spec = self.project.load()
        return project_registry(self.project.config, spec.names)

    @property
    def _catalog(self) -> FeatureCatalog:
        return FeatureCatalog(self.project.config.catalog_path)

    def list_feature_views(self) -> list[dict[str, Any]]:
        """Each view: name, source, entities, join keys, features, ttl, owner, last build."""
        from sqlops.features.build import definition

        built = self._catalog.latest_views()
        out = []
        for name in sorted(self.registry.views):
            spec = definition(self.registry, self.registry.views[name])
            record = built.get(name, {})
            spec["features"] = [f["name"] for f in spec["features"]]
            spec["fingerprint"] = record.get("fingerprint")
            spec["built_at"] = record.get("built_at")
            out.append(spec)
        return out

    def get_feature_view(self, name: str) -> dict[str, Any]:
        """One view: its definition, owner, lineage (its relation's upstream) and the
        statistics of its latest build."""
        from sqlops.features.build import definition

        view = self.registry.view(name)
        out = definition(self.registry, view)
        record = self._catalog.latest_views().get(name, {})
        lineage = self.project.lineage(view.source)
        out["lineage"] = {view.source: lineage.upstream}
        out["relation"] = f"features.{name}"
        out["fingerprint"] = record.get("fingerprint")
        out["built_at"] = record.get("built_at")
        out["run_id"] = record.get("run_id")
        out["stats"] = record.get("stats", {})
        return out

    # -- training sets -------------------------------------------------------------------

    def get_historical_features(
        self,
        entity_df: Any = None,
        features: Sequence[str] = (),
        *,
        full_feature_names: bool = False,
        ref: str | None = None,
        timestamp_column: str = "event_timestamp",
        filter_by_created_timestamp: bool = False,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> pl.DataFrame:
        """The entity rows, in order, with each feature as of the row's time (Feast's
        point-in-time semantics). ``entity_df``: a Polars/pandas/Arrow frame, a table name
        or a SQL query (None with ``start_date``/``end_date``: every entity's values in the
        range). ``ref``: read feature data at a branch, tag or commit."""
        request = {
            "features": list([features] if isinstance(features, str) else features),
            "full_feature_names": full_feature_names,
            "timestamp_column": timestamp_column,
            "filter_by_created_timestamp": filter_by_created_timestamp,
            "start_date": start_date.isoformat() if start_date else None,
            "end_date": end_date.isoformat() if end_date else None,
            "ref": ref,
        }
        frame = self._compute(self.registry, entity_df, request, ref)
        self._requests[id(frame)] = (frame, request, entity_df)
        return frame

    def _compute(
        self, registry: FeatureRegistry, entity: Any, request: Mapping[str, Any], ref: str | None
    ) -> pl.DataFrame:

        selections = registry.select(
            request["features"], full_feature_names=request["full_feature_names"]
        )
        role = self.project.config.role
        if role:
            return self._compute_as_role(role, entity, selections, request, ref)
        with self._engine(ref, [s.view for s in selections]) as engine:
            return _point_in_time(engine, entity, selections, request)

    def _compute_as_role(
        self,
        role: str,
        entity: Any,
        selections: Sequence[ViewSelection],
        request: Mapping[str, Any],
        ref: str | None,
    ) -> pl.DataFrame:
        """The point-in-time join on the role's sandbox connection: its views, row filters
        and masks apply; a view reading what the role cannot see is refused. An entity
        query or table name goes through the role's allow-list first."""
        from sqlops.governance.sandbox import role_query

        project = self.project
        if ref is not None:
            project._refuse_under_role(f"ref={ref}", "ref")
        with project._audited(role), project._role_sandbox(role) as sandbox:
            for sel in selections:
                _role_may_read(sandbox, role, sel.view, [f for f, _ in sel.outputs])
            if isinstance(entity, str):
                entity = role_query(sandbox, f"SELECT * FROM {from_text(entity)[0]}")
            return _point_in_time(sandbox.engine, entity, selections, request)

    @contextmanager
    def _engine(self, ref: str | None, views: Sequence[FeatureView]) -> Iterator[Engine]:
        """The warehouse (read-only), or the tables as committed at ``ref``."""
        engine = (
            self.project._open_warehouse(read_only=True)
            if ref is None
            else self.project.engine_at(ref)
        )
        try:
            relations = engine.relations()
            for view in views:
                if view.source not in relations:
                    hint = (
                        "run `sqlops build` first"
                        if ref is None
                        else "versions keep tables and file sources, not view models: "
                        "materialize it as a table and commit"
                    )
                    where = "the warehouse" if ref is None else f"version {ref}"
                    raise FeatureError(
                        f"feature view {view.name} reads {view.source}, which {where} "
                        f"does not have; {hint}"
                    )
            yield engine
        finally:
            engine.close()

    def save_training_set(
        self,
        name: str,
        df_or_query: Any,
        features: Sequence[str] | None = None,
        *,
        full_feature_names: bool = False,
        timestamp_column: str = "event_timestamp",
        filter_by_created_timestamp: bool = False,
    ) -> dict[str, Any]:
        """Keep a training set reproducibly: the frame ``get_historical_features`` returned
        (or an entity query/table with ``features=``), its request, the data version (the
        current branch is committed first) and the views' fingerprints and statistics."""
        from sqlops.features.stats import feature_stats

        if not _NAME.match(name):
            raise FeatureError(
                f"training set name {name!r} is not a plain name; use letters, digits, _ . -"
            )
        given: pl.DataFrame | None = None
        if isinstance(df_or_query, str):
            if not features:
                raise FeatureError(
                    "save_training_set with a query or table needs features=['view:feature']"
                )
            request: dict[str, Any] = {
                "features": list(features),
                "full_feature_names": full_feature_names,
                "timestamp_column": timestamp_column,
                "filter_by_created_timestamp": filter_by_created_timestamp,
                "start_date": None,
                "end_date": None,
                "ref": None,
            }
            entity: Any = df_or_query
        else:
            known = self._requests.get(id(df_or_query))
            if known is None or known[0] is not df_or_query:
                raise FeatureError(
                    "save_training_set needs the frame get_historical_features returned (or "
                    "an entity query with features=); this frame's request is unknown"
                )
            given, request, entity = known
        if entity is None and request["end_date"] is None:
            raise FeatureError(
                "a date-range training set is saved only with an explicit end_date "
                "(the default, now, never recurs); pass end_date= to get_historical_features"
            )
        selections = self.registry.select(
            request["features"], full_feature_names=request["full_feature_names"]
        )
        views = [s.view for s in selections]
        version, pending = self._data_version(request["ref"], views)
        entities = self._entity_frame(entity, request["ref"], views)
        recorded = [_view_json(self.registry, v) for v in views]
        registry = _registry_of(recorded)
        # with uncommitted data the set is computed from the warehouse, which the commit
        # below will record; nothing is committed before every check has passed
        frame = self._compute(registry, entities, request, None if pending else version)
        if given is not None and not _same(frame, given):
            where = "the warehouse" if pending else f"version {version[:12]}"
            raise FeatureError(
                f"training set {name}: the feature data changed since this frame was computed "
                f"({where} gives other rows); compute it again with get_historical_features "
                "and save that; nothing was saved or committed"
            )
        built = self._catalog.latest_views()
        edges = {
            out: built[s.name]["stats"][feature]["histogram"]["edges"]
            for s in selections
            for feature, out in s.outputs
            if s.name in built
            and built[s.name]["stats"].get(feature, {}).get("histogram", {}).get("kind")
            == "numeric"
        }
        stats = _frame_stats(
            feature_stats, frame, [o for s in selections for _, o in s.outputs], edges
        )
        fingerprints = {v.name: built.get(v.name, {}).get("fingerprint", "") for v in views}
        folder = self._training_dir / name / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True)
        try:
            if entities is not None:
                entities.write_parquet(folder / "entities.parquet")
            frame.write_parquet(folder / "frame.parquet")
            if pending:
                version = self._commit_for(name, pending, registry, entities, request, frame)
            self._catalog.record_training_set(
                name,
                version,
                fingerprints,
                {**request, "ref": version, "views": recorded},
                stats,
                folder.relative_to(self.project.config.state_path).as_posix(),
            )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return {
            "name": name,
            "data_version": version,
            "fingerprints": fingerprints,
            "rows": frame.height,
            "committed": bool(pending),
        }

    @property
    def _training_dir(self) -> Path:
        return self.project.config.state_path / TRAINING_DIR

    def _data_version(self, ref: str | None, views: Sequence[FeatureView]) -> tuple[str, list[str]]:
        """The commit a training set's data is read at, and the uncommitted tables it reads
        (which the save must commit first). Nothing is written here.

        ``ref`` is resolved. Otherwise it is the commit the warehouse shows (not the branch
        head, which another writer may have moved): when the warehouse changed only tables
        the views do not read, that commit already holds the set's data, so no commit is
        made for it.
        """
        project = self.project
        store = project.versions
        if ref is not None:
            return store.resolve(ref), []
        base = store.get_commit(project._base_id(store))
        spec = project.load()
        _, changes = project._changes({*spec.sources, *spec.models})
        gone = {c.name for c in changes if c.change == "removed"}
        tree = (base.tree.keys() | {c.name for c in changes}) - gone
        read = {v.source.lower() for v in views}
        for view in views:
            if view.source.lower() not in tree:
                raise FeatureError(
                    f"feature view {view.name} reads {view.source}, which no version can "
                    "hold (versions keep tables and file sources, not view models); "
                    "materialize it as a table to save training sets from it"
                )
        pending = sorted(c.name for c in changes if c.name in read)
        if pending and project.branch not in store.branches():
            raise FeatureError(
                f"the training set reads uncommitted changes ({', '.join(pending)}) but the "
                f"warehouse is at commit {project.branch[:12]}, not on a branch; run "
                "`sqlops checkout <branch>` and build, or save from a clean warehouse"
            )
        return base.id, pending

    def _commit_for(
        self,
        name: str,
        pending: Sequence[str],
        registry: FeatureRegistry,
        entities: Any,
        request: Mapping[str, Any],
        frame: pl.DataFrame,
    ) -> str:
        """Commit the warehouse (the set reads its uncommitted ``pending`` tables) and check
        that the new version gives ``frame``; returns the commit id."""
        store = self.project.versions
        made = self.project.commit(f"training set {name}", {"sqlops_training_set": name})
        version = made.id if made else self.project._base_id(store)
        if not _same(self._compute(registry, entities, request, version), frame):
            # another writer moved the branch between the checks and the commit
            raise FeatureError(
                f"training set {name}: the branch changed while saving ({', '.join(pending)} "
                f"read differently at the new commit {version[:12]}); the commit stays, "
                "the training set was not saved; compute it again and save that"
            )
        return version

    def _entity_frame(self, entity: Any, ref: str | None, views: Sequence[FeatureView]) -> Any:
        """The entity rows as a Polars frame (a query or table is read now, so the saved
        set keeps them)."""
        if entity is None:
            return None
        if isinstance(entity, str):
            with self._engine(ref, views) as engine:
                return engine.polars(f"SELECT * FROM {from_text(entity)[0]}")
        return polars_frame(entity)

    def load_training_set(self, name: str) -> pl.DataFrame:
        """The training set saved under ``name``, as saved."""
        import polars as pl

        record = self._record(name)
        return pl.read_parquet(self.project.config.state_path / record["path"] / "frame.parquet")

    def rebuild_training_set(self, name: str) -> pl.DataFrame:
        """Recompute a saved training set from its recorded data version and view
        definitions (today's config does not matter): the same rows, byte for byte."""
        import polars as pl

        record = self._record(name)
        request = record["request"]
        folder = self.project.config.state_path / record["path"]
        entities = (
            pl.read_parquet(folder / "entities.parquet")
            if (folder / "entities.parquet").exists()
            else None
        )
        return self._compute(
            _registry_of(request["views"]), entities, request, record["data_version"]
        )

    def training_sets(self) -> list[dict[str, Any]]:
        return self._catalog.training_sets()

    def _record(self, name: str) -> dict[str, Any]:
        from sqlops.errors import did_you_mean

        record = self._catalog.training_set(name)
        if record is None:
            names = [r["name"] for r in self._catalog.training_sets()]
            hint = did_you_mean(name, names) or "save one with save_training_set"
            raise FeatureError(f"no training set named {name}; {hint}")
        return record

    # -- online --------------------------------------------------------------------------

    @property
    def online_path(self) -> Path:
        return self.project.config.state_path / ONLINE_FILE

    def _store(self) -> OnlineStore:
        from sqlops.features.online import OnlineStore

        if self._online is None:
            self._online = OnlineStore(self.online_path)
        return self._online

    def materialize(self, end: datetime | None = None) -> list[Materialized]:
        """Publish every view's latest unexpired value per entity as of ``end`` (default
        now) to the online store, all views in one transaction, only changed entities; a
        view removed from the project is torn down in that transaction."""
        registry = self.registry
        if not registry.views:
            raise FeatureError("no feature views declared; add [feature_views.NAME] to the config")
        selections = registry.select(
            [f"{name}:*" for name in sorted(registry.views)], full_feature_names=True
        )
        with self._engine(None, [s.view for s in selections]) as engine:
            return self._store().materialize(engine, selections, end, teardown=True)

    def get_online_features(
        self,
        features: Sequence[str],
        entity_rows: Sequence[Mapping[str, Any]],
        *,
        full_feature_names: bool = False,
    ) -> dict[str, list[Any]]:
        """Feast's ``to_dict()`` shape: each key and feature, a list in the rows' order."""
        if not self.online_path.exists():
            raise OnlineStoreError(
                "the online store is empty; run `sqlops features materialize` first"
            )
        role = self.project.config.role
        if role:
            self._online_as_role(role, features)
        return self._store().get_online_features(
            features, entity_rows, full_feature_names=full_feature_names
        )

    def _online_as_role(self, role: str, features: Sequence[str]) -> None:
        """The online store holds the owner's values, unfiltered and unmasked, so a role
        reads only features it would see raw: from a view whose relation it reads with no
        row filter, columns neither denied, dropped nor tagged (when ``anonymized``)."""
        project = self.project
        selections = self.registry.select(list(features))
        config = project.config.roles.get(role)
        with project._audited(role), project._role_sandbox(role) as sandbox:
            for sel in selections:
                names = [f for f, _ in sel.outputs]
                _role_may_read(sandbox, role, sel.view, names)
                source = sel.view.source.lower()
                if config is not None and source in config.row_filters:
                    raise PolicyDenied(
                        f"online features of {sel.view.name} are not served under a role "
                        f"with a row filter on {source}",
                        role=role,
                        target=source,
                        hint="compute them with get_historical_features (features train)",
                    )
                tagged = {c.lower() for c in project.config.columns.get(source, {})}
                raw = [
                    n
                    for n in names
                    if config is not None and config.anonymized and n.lower() in tagged
                ]
                if raw:
                    raise PolicyDenied(
                        f"the online store holds {source}.{raw[0]} raw, a tagged column the "
                        "role reads anonymized",
                        role=role,
                        target=f"{source}.{raw[0]}",
                        hint="leave it out of the request, or read it with features train",
                    )

    def close(self) -> None:
        """Close the online store's connection (reopened on next use)."""
        if self._online is not None:
            self._online.close()
            self._online = None

    # -- automatic aggregate features (featuretools' Deep Feature Synthesis) --------------

    def synthesis_features(
        self,
        target: str,
        *,
        max_depth: int = 2,
        primitives: Sequence[str] | None = None,
        windows: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """The features ``synthesize`` would generate for ``target``: name, primitive,
        depth, tables aggregated, window and the aggregate's SQL."""
        with self._synthesis(target, max_depth, primitives, windows) as (_, plan):
            return [f.describe() for f in plan.features]

    def synthesize(
        self,
        target: str,
        cutoff_times: Any,
        *,
        max_depth: int = 2,
        primitives: Sequence[str] | None = None,
        windows: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        """featuretools' aggregate features of ``target`` as of each cutoff row
        (``cutoff_times``: the target's index, ``time`` and pass-through columns), computed
        in DuckDB; rows in the cutoff rows' order."""
        from sqlops.features.synthesis import compute

        with self._synthesis(target, max_depth, primitives, windows) as (engine, plan):
            frame: pl.DataFrame = compute(engine, plan, cutoff_times)
            return frame

    @contextmanager
    def _synthesis(
        self,
        target: str,
        max_depth: int,
        primitives: Sequence[str] | None,
        windows: Sequence[str] | None,
    ) -> Iterator[tuple[Engine, Any]]:
        from sqlops.features.synthesis import entity_set, synthesize_plan

        config = self.project.config
        with self._engine(None, []) as engine:
            columns = {name: engine.columns(name) for name in engine.relations()}
            where = f"{config.config_file}: " if config.config_file else ""
            tables, links = entity_set(config.sources, config.relationships, columns, where)
            plan = synthesize_plan(
                tables,
                links,
                target,
                max_depth=max_depth,
                primitives=primitives,
                windows=windows,
            )
            yield engine, plan


def _role_may_read(sandbox: Sandbox, role: str, view: FeatureView, features: Sequence[str]) -> None:
    """Refuse a feature view whose relation the role cannot read, or a feature whose column
    the role does not see (denied, or dropped by its anonymization)."""
    source = view.source.lower()
    visible = sandbox.relations.get(source)
    if visible is None:
        raise PolicyDenied(
            f"feature view {view.name} reads {source}, which the role may not read",
            role=role,
            target=source,
            hint=f"the role reads {', '.join(sorted(sandbox.relations)) or 'nothing'}",
        )
    seen = {c.lower() for c in visible}
    for name in features:
        if name.lower() not in seen:
            raise PolicyDenied(
                f"feature {view.name}:{name} reads {source}.{name}, which the role does not see",
                role=role,
                target=f"{source}.{name}",
            )


def _point_in_time(
    engine: Engine, entity: Any, selections: Sequence[ViewSelection], request: Mapping[str, Any]
) -> pl.DataFrame:
    """The training set a saved ``request`` asks for, on ``engine``."""
    from sqlops.features.pit import get_historical_features

    return get_historical_features(
        engine,
        entity,
        selections,
        timestamp_column=request["timestamp_column"],
        filter_by_created_timestamp=request["filter_by_created_timestamp"],
        start_date=_when(request["start_date"]),
        end_date=_when(request["end_date"]),
    ).frame


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _view_json(registry: FeatureRegistry, view: FeatureView) -> dict[str, Any]:
    from sqlops.features.build import definition

    spec = definition(registry, view)
    spec["entity_keys"] = {e: list(registry.entities[e].join_keys) for e in view.entities}
    return spec


def _registry_of(views: Sequence[Mapping[str, Any]]) -> FeatureRegistry:
    """A registry made of recorded view definitions (what a saved training set used)."""
    entities = {
        name: Entity(name, tuple(keys)) for v in views for name, keys in v["entity_keys"].items()
    }
    made = [
        FeatureView(
            name=v["name"],
            source=v["source"],
            entities=tuple(v["entities"]),
            timestamp=v["timestamp"],
            features=tuple(Feature(f["name"], f["type"]) for f in v["features"]),
            created_timestamp=v["created_timestamp"],
            ttl=timedelta(seconds=v["ttl_seconds"]) if v["ttl_seconds"] else None,
        )
        for v in views
    ]
    return FeatureRegistry.of(entities.values(), made)


def _same(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    return a.schema == b.schema and a.equals(b, null_equal=True)


def _frame_stats(
    compute: Callable[..., dict[str, Any]],
    frame: pl.DataFrame,
    names: Sequence[str],
    edges: Mapping[str, Any],
) -> dict[str, Any]:
    from sqlops.execute.engine import Engine
    from sqlops.features.pit import columns

    engine = Engine.open(macros=False)
    try:
        engine.register("__sqlops_training_set", frame.select(names))
        types = columns(engine, "__sqlops_training_set")
        return compute(engine, "__sqlops_training_set", types, edges)
    finally:
        engine.close()
