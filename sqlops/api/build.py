"""Plan and build: run the models that changed, on the warehouse or on a branch, from
today's inputs or a version's."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlops.api.audit import record
from sqlops.api.commit import CommitMixin
from sqlops.api.contracts import Contracts, audit_checks, bindings
from sqlops.api.features import build_features, sample_requests
from sqlops.api.openlineage import check_available, emit_build
from sqlops.config import Config
from sqlops.errors import VersioningError
from sqlops.execute.results import BuildResult, NodeResult, OnEvent
from sqlops.plan.planner import Plan, make_plan
from sqlops.project.model import ProjectSpec
from sqlops.storage import shortcut
from sqlops.storage.lock import build_lock
from sqlops.storage.objects import atomic_write
from sqlops.versioning.local import committed_objects

# Modules that import DuckDB are imported inside the functions that need them, so that a
# no-op build (and `sqlops --help`) never pays DuckDB's import time.

# the incremental models built from a ref's inputs by ``build --at`` (see ``_incremental_state``)
_BUILT_AT = "incremental_at.json"


class BuildMixin(CommitMixin):
    """``plan`` and ``build``."""

    def plan(
        self,
        select: Sequence[str] = (),
        exclude: Sequence[str] = (),
        *,
        full_refresh: bool = False,
        sources: Mapping[str, Any] | None = None,
    ) -> Plan:
        """What ``build`` would run and why, without running anything."""
        spec = self.load(sources)
        state, existing = self._warehouse_state()
        return make_plan(
            spec, state, existing, select=select, exclude=exclude, full_refresh=full_refresh
        )

    def build(
        self,
        select: Sequence[str] = (),
        exclude: Sequence[str] = (),
        *,
        full_refresh: bool = False,
        sources: Mapping[str, Any] | None = None,
        on_event: OnEvent | None = None,
        wait: float = 0.0,
        branch: str | None = None,
        at: str | None = None,
    ) -> BuildResult:
        """Build the selected models (all by default), skipping unchanged ones.

        With ``branch``, the warehouse is first checked out at that branch, and a successful
        build is committed to it with the run id and every model's fingerprint.

        With ``at`` (a commit, tag or ``main~N``), file sources are read from the snapshots
        that version recorded instead of the files on disk, so the build reproduces that
        version's inputs exactly (the models are today's SQL). It builds into the warehouse
        like any build and moves no ref; the next plain build sees the sources changed back
        and rebuilds what depends on them.

        ``sources`` maps source names to Polars/pandas/Arrow frames to read this time.
        Failed models are reported in the result (``result.ok``), not raised; call
        ``result.raise_on_error()`` to turn them into a ``BuildFailed``.
        """
        if branch is not None:
            result = self._build_on_branch(
                branch, select, exclude, full_refresh, sources, on_event, wait, at
            )
        else:
            config, at_id = self._inputs_at(at) if at is not None else (self.config, None)
            result = self._build(
                config, select, exclude, at_id, full_refresh, sources, on_event, wait
            )
        counts = {s: sum(n.status == s for n in result.nodes) for s in ("success", "error")}
        target = ",".join([*select, *(f"-{x}" for x in exclude)]) or "all"
        outcome = "success" if result.ok else "failed"
        record(self, "build", target, outcome, {"run": result.run_id, **counts})
        return result

    def _build(
        self,
        config: Config,
        select: Sequence[str],
        exclude: Sequence[str] = (),
        at_id: str | None = None,
        full_refresh: bool = False,
        sources: Mapping[str, Any] | None = None,
        on_event: OnEvent | None = None,
        wait: float = 0.0,
    ) -> BuildResult:
        """``build`` with ``config`` (the project's, or one whose sources read the inputs
        of commit ``at_id``): passed down, never set on the project, so that another
        thread using this project meanwhile still sees its own config."""
        from sqlops.catalog.governance import GovernanceCatalog
        from sqlops.catalog.store import Catalog, now

        started = now()
        run_id = started.strftime("%Y%m%dT%H%M%S") + "_" + uuid.uuid4().hex[:6]
        catalog = Catalog(config.catalog_path)
        if config.governance.openlineage:  # refuse now, not after a build it cannot record
            check_available()
        with build_lock(config.state_path, wait):
            inputs = shortcut.inputs_digest(config, select, exclude)
            saved = None if full_refresh or sources else shortcut.saved_nodes(config, inputs)
            if saved is not None:
                result = _noop_result(run_id, saved, on_event)
                catalog.record_later(result, "build", started)
                return result
            shortcut.forget(config)
            result, spec = self._run(
                config, at_id, select, exclude, full_refresh, sources, run_id, on_event
            )
            catalog.record_build(result, "build", started)
            if result.checks:
                rows = [r.to_dict() for r in result.checks]
                GovernanceCatalog(config.catalog_path).record_checks(run_id, "build", rows)
                audit_checks(self, result.checks, "check")
            build_features(self, spec, result)
            if result.ok and not sources:
                reads = {f for m in spec.models.values() for f in m.files_read}
                nodes = [_node_record(n) for n in result.nodes]
                shortcut.save(config, inputs, nodes, sorted(reads))
            if config.governance.openlineage:  # last: a write error leaves the build whole
                emit_build(self, spec, result, result.checks, started=started)
        return result

    def _build_on_branch(
        self,
        branch: str,
        select: Sequence[str],
        exclude: Sequence[str],
        full_refresh: bool,
        sources: Mapping[str, Any] | None,
        on_event: OnEvent | None,
        wait: float,
        at: str | None,
    ) -> BuildResult:
        if branch not in self.versions.branches():
            raise VersioningError(
                f"no branch {branch!r}", hint=f"create it first: sqlops branch create {branch}"
            )
        if self.branch != branch:
            self.checkout(branch)
        result = self.build(
            select,
            exclude,
            full_refresh=full_refresh,
            sources=sources,
            on_event=on_event,
            wait=wait,
            at=at,
        )
        if result.ok:
            fingerprints = {n.name: n.fingerprint for n in result.nodes}
            meta = {
                "run_id": result.run_id,
                "fingerprints": json.dumps(fingerprints, sort_keys=True),
            }
            if at is not None:
                meta["inputs_at"] = self.versions.resolve(at)
            self.commit(f"build {result.run_id}", meta)
        return result

    def _inputs_at(self, ref: str) -> tuple[Config, str]:
        """The project's config with every file source read from its snapshot at ``ref``
        (the snapshot's parts are hard-linked under ``.sqlops/at/<commit>/``, no copy, and
        the source becomes a Parquet glob over them), and the commit's id."""
        store = self.versions
        commit = store.get_commit(store.resolve(ref))
        spec = self.load()
        needed = {d for m in spec.models.values() for d in m.depends_on}
        missing = sorted(n for n in self.config.sources if n.lower() not in commit.tree)
        if missing and needed & {n.lower() for n in missing}:
            raise VersioningError(
                f"{ref} ({commit.id[:12]}) has no snapshot of source(s) {', '.join(missing)}",
                hint="pick a version committed after those sources were built (sqlops log)",
            )
        kept = {n: v for n, v in commit.tree.items() if n in {s.lower() for s in spec.sources}}
        self._fetch(kept.values())
        folder = self.config.state_path / "at" / commit.id[:16]
        _prune_other(folder)
        sources = dict(self.config.sources)
        for name, cfg in self.config.sources.items():
            version = kept.get(name.lower())
            if version is None:
                continue
            target = _link_parts(
                folder / name.lower(), [self.objects.path(p) for p in version.parts]
            )
            sources[name] = dataclasses.replace(
                cfg,
                path=(target / "*.parquet").relative_to(self.root).as_posix(),
                format="parquet",
                options={"union_by_name": True} if len(version.parts) > 1 else {},
                columns=dict(version.columns),  # restores types parts store otherwise
                table=None,
            )
        return dataclasses.replace(self.config, sources=sources), commit.id

    def _run(
        self,
        config: Config,
        at_id: str | None,
        select: Sequence[str],
        exclude: Sequence[str],
        full_refresh: bool,
        sources: Mapping[str, Any] | None,
        run_id: str,
        on_event: OnEvent | None,
    ) -> tuple[BuildResult, ProjectSpec]:
        """Load, plan against the warehouse state, run; then drop replaced objects."""
        from sqlops.execute.nodes import BuildContext, Frames
        from sqlops.execute.runner import run_plan
        from sqlops.versioning.workspace import drop_undefined

        spec = self.load(sources, config)
        if config.governance.require_owner:
            from sqlops.api.owners import check_owners, declared_owners
            from sqlops.features.declared import project_registry

            check_owners(declared_owners(spec, project_registry(config, spec.names)))
        engine = self._open_warehouse(macros=False)
        try:
            engine.ensure_state()
            incremental = {n for n, m in spec.models.items() if m.materialized == "incremental"}
            state = self._incremental_state(engine.read_state(), incremental, at_id)
            relations = engine.relations()
            plan = make_plan(
                spec,
                state,
                self._intact(state, relations),
                select=select,
                exclude=exclude,
                full_refresh=full_refresh,
            )
            bound = bindings(spec)
            contracts = Contracts(config, bound) if bound else None
            ctx = BuildContext(
                self.objects,
                run_id,
                relations,
                state,
                spec.sources,
                spec.models,
                config.csv_reader,
                config.executor,
                Frames(plan.read_later),
                samples=sample_requests(self, spec),
                gate=contracts.gate if contracts is not None else None,
            )
            result = run_plan(engine, plan, ctx, threads=config.threads, on_event=on_event)
            if contracts is not None:
                result = dataclasses.replace(result, checks=tuple(contracts.results))
            drop_undefined(engine, {*spec.models, *spec.sources})
            built = {n.name for n in result.nodes if n.status == "success"}
            self._note_incremental(incremental, built, at_id)
        finally:
            engine.close()
        self._drop_replaced(state, result)
        return result, spec

    def _drop_replaced(self, state: Mapping[str, Mapping[str, Any]], result: BuildResult) -> None:
        """Delete the objects of outputs this build replaced, unless a commit keeps them."""
        old = {
            o
            for n in result.nodes
            if n.status == "success"
            for o in state.get(n.name, {}).get("objects", ())
        }
        new = {o for n in result.nodes for o in n.objects}
        doomed = old - new
        if doomed:
            doomed -= committed_objects(self.config.state_path / "versions")
            self.objects.remove(doomed)

    # -- build --at and incremental models ----------------------------------------------
    #
    # An incremental model's table is the history of the rows it was fed, not a function of
    # today's inputs. To reproduce it at a ref, ``build(at=)`` rebuilds it in full from the
    # inputs at that ref; and the next plain build rebuilds it in full again from today's
    # inputs, since appending today's rows to a table grown from another version's history
    # would match neither. ``incremental_at.json`` notes the ref each was last rebuilt at.

    def _incremental_state(
        self, state: dict[str, dict[str, Any]], incremental: set[str], at: str | None
    ) -> dict[str, dict[str, Any]]:
        """The build state the planner sees when building at commit ``at`` (None: from
        today's inputs): without the incremental models that must be rebuilt in full (as
        if new), as explained above."""
        built_at = self._built_at()
        redo = {n for n in incremental if built_at.get(n) != at} if at else set(built_at)
        return {n: row for n, row in state.items() if n not in redo}

    def _note_incremental(self, incremental: set[str], built: set[str], at: str | None) -> None:
        """Record which incremental models now hold rows built at which ref."""
        path = self.config.state_path / _BUILT_AT
        before = self._built_at()
        if not before and at is None:
            return
        noted = {n: r for n, r in before.items() if n in incremental and n not in built}
        if at is not None:
            noted.update({n: at for n in incremental & built})
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


def _link_parts(folder: Path, parts: Sequence[Path]) -> Path:
    """Hard-link (or copy, across devices) a table's parts into ``folder``, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, part in enumerate(parts):
        link = folder / f"part-{index:05d}.parquet"
        if link.exists():
            continue
        try:
            os.link(part, link)
        except OSError:
            shutil.copyfile(part, link)
    return folder


def _prune_other(keep: Path) -> None:
    """Drop the part links of other ``build --at`` versions: every plain build re-reads the
    source files, so only the latest historical build's links can still be in use."""
    for folder in keep.parent.glob("*") if keep.parent.is_dir() else ():
        if folder != keep:
            shutil.rmtree(folder, ignore_errors=True)


def _node_record(node: NodeResult) -> dict[str, Any]:
    return {
        "name": node.name,
        "kind": node.kind,
        "materialized": node.materialized,
        "fingerprint": node.fingerprint,
        "path": node.path,
    }


def _noop_result(run_id: str, saved: list[dict[str, Any]], on_event: OnEvent | None) -> BuildResult:
    from sqlops.execute.results import Event

    nodes = tuple(NodeResult(status="skipped", reason="unchanged", **n) for n in saved)
    if on_event is not None:
        on_event(Event("plan", total=0))
    return BuildResult(run_id, 0.0, nodes)
