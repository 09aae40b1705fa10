"""The library verbs: the only module that composes the layers.

Every CLI command calls one function here of the same meaning; nothing here prints.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlops.api.versions import VersionsMixin
from sqlops.config import load_config
from sqlops.errors import OutputError, SqlopsError, UnknownTableError, VersioningError, did_you_mean
from sqlops.execute.polarserrors import polars_errors
from sqlops.execute.results import BuildResult, NodeResult, OnEvent
from sqlops.oserrors import read_text
from sqlops.plan.dag import Dag
from sqlops.plan.planner import Plan, make_plan
from sqlops.project.model import ProjectSpec
from sqlops.storage import shortcut
from sqlops.storage.lock import build_lock
from sqlops.versioning.local import committed_objects

if TYPE_CHECKING:
    import polars as pl

    from sqlops.execute.engine import Engine

# Modules that import DuckDB are imported inside the functions that need them, so that a
# no-op build (and `sqlops --help`) never pays DuckDB's import time.


@dataclass(frozen=True)
class Lineage:
    """Upstream and downstream trees of a model, and optionally one column's whole path
    (``column_upstream``), its first sources and the columns a change to it would reach."""

    model: str
    upstream: dict[str, Any]
    downstream: dict[str, Any]
    column: str | None = None
    column_sources: list[tuple[str, str]] = field(default_factory=list)
    column_upstream: dict[str, Any] = field(default_factory=dict)
    column_downstream: dict[str, Any] = field(default_factory=dict)
    columns_reached: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "upstream": self.upstream,
            "downstream": self.downstream,
        }
        if self.column is not None:
            out["column"] = self.column
            out["column_sources"] = [{"table": t, "column": c} for t, c in self.column_sources]
            out["column_upstream"] = self.column_upstream
            out["column_downstream"] = self.column_downstream
            out["columns_reached"] = [{"table": t, "column": c} for t, c in self.columns_reached]
        return out


class Project(VersionsMixin):
    """A sqlops project on disk: ``Project(".").build()``.

    Args:
        path: the project folder (found upwards from the cwd when omitted).
        **overrides: config values that win over the files and environment, e.g.
            ``threads=8``.
    """

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
            return self._build_on_branch(
                branch, select, exclude, full_refresh, sources, on_event, wait, at
            )
        if at is not None:
            with self._inputs_at(at):
                return self.build(
                    select,
                    exclude,
                    full_refresh=full_refresh,
                    sources=sources,
                    on_event=on_event,
                    wait=wait,
                )
        from sqlops.catalog.store import Catalog, now

        started = now()
        run_id = started.strftime("%Y%m%dT%H%M%S") + "_" + uuid.uuid4().hex[:6]
        catalog = Catalog(self.config.catalog_path)
        with build_lock(self.config.state_path, wait):
            inputs = shortcut.inputs_digest(self.config, select, exclude)
            saved = None if full_refresh or sources else shortcut.saved_nodes(self.config, inputs)
            if saved is not None:
                result = _noop_result(run_id, saved, on_event)
                catalog.record_later(result, "build", started)
                return result
            shortcut.forget(self.config)
            result, spec = self._run(select, exclude, full_refresh, sources, run_id, on_event)
            catalog.record_build(result, "build", started)
            if result.ok and not sources:
                reads = {f for m in spec.models.values() for f in m.files_read}
                nodes = [_node_record(n) for n in result.nodes]
                shortcut.save(self.config, inputs, nodes, sorted(reads))
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

    @contextmanager
    def _inputs_at(self, ref: str) -> Iterator[None]:
        """For the duration, read every file source from its snapshot at ``ref``: the
        snapshot's parts are hard-linked under ``.sqlops/at/<commit>/`` (no copy) and the
        source becomes a Parquet glob over them."""
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
        before = self.config
        self.config = dataclasses.replace(before, sources=sources)
        self._building_at = commit.id
        try:
            yield
        finally:
            self.config = before
            self._building_at = None

    def _run(
        self,
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

        spec = self.load(sources)
        engine = self._open_warehouse(macros=False)
        try:
            engine.ensure_state()
            incremental = {n for n, m in spec.models.items() if m.materialized == "incremental"}
            state = self._incremental_state(engine.read_state(), incremental)
            relations = engine.relations()
            plan = make_plan(
                spec,
                state,
                self._intact(state, relations),
                select=select,
                exclude=exclude,
                full_refresh=full_refresh,
            )
            ctx = BuildContext(
                self.objects,
                run_id,
                relations,
                state,
                spec.sources,
                spec.models,
                self.config.csv_reader,
                self.config.executor,
                Frames(plan.read_later),
            )
            result = run_plan(engine, plan, ctx, threads=self.config.threads, on_event=on_event)
            drop_undefined(engine, {*spec.models, *spec.sources})
            built = {n.name for n in result.nodes if n.status == "success"}
            self._note_incremental(incremental, built)
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

    def table(self, name: str, ref: str | None = None) -> pl.DataFrame:
        """A built model or source as a Polars DataFrame; with ``ref`` (branch, tag, commit,
        ``main~1``), as it was committed there."""
        if ref is not None:
            return self._table_at(name, ref)
        engine = self._open_warehouse(read_only=True)
        try:
            relations = engine.relations()
            key = name.lower() if "." in name else f"main.{name.lower()}"
            if key not in relations:
                raise UnknownTableError(
                    name,
                    hint=did_you_mean(key, relations) or "run `sqlops build` first",
                )
            from sqlops.execute.materialize import qualified

            return engine.polars(f"SELECT * FROM {qualified(key)}")
        finally:
            engine.close()

    def sql(self, query: str, ref: str | None = None, **params: Any) -> pl.DataFrame:
        """Run a query against the warehouse, or against version ``ref`` (branch, tag,
        commit, ``main~1``); ``$name`` parameters come from ``params``."""
        from sqlops.execute.engine import Where

        engine = self._open_warehouse(read_only=True) if ref is None else self.engine_at(ref)
        try:
            return engine.polars(query, params or None, Where(path="<query>"))
        finally:
            engine.close()

    def lineage(self, model: str, column: str | None = None) -> Lineage:
        """Upstream and downstream of a model; with ``column``, that column's path through
        every intermediate model and the downstream columns a change to it would reach."""
        from sqlops.catalog.lineage import trace_column

        spec = self.load()
        dag = Dag.from_project(spec)
        name = _resolve_node(spec, model)
        up = _tree(name, dag.parents)
        down = _tree(name, dag.children)
        if column is None:
            return Lineage(name, up, down)
        near = dag.ancestors(name) | dag.descendants(name) | {name}
        near |= {p for d in dag.descendants(name) for p in dag.parents[d]}
        traced = trace_column(spec, dag, name, column, self._built_columns(near))
        return Lineage(
            name,
            up,
            down,
            traced.column[1],
            traced.sources,
            traced.upstream,
            traced.downstream,
            traced.reached,
        )

    def nodes(self) -> list[dict[str, Any]]:
        """Every source and model with its kind, dependencies, tags and file."""
        spec = self.load()
        rows: list[dict[str, Any]] = [
            {
                "name": s.name,
                "kind": "source",
                "materialized": s.format,
                "depends_on": [],
                "tags": list(s.tags),
                "path": _relative(s.location, spec.root),
            }
            for s in spec.sources.values()
        ]
        rows += [
            {
                "name": m.name,
                "kind": m.kind,
                "materialized": m.materialized,
                "depends_on": list(m.depends_on),
                "tags": list(m.tags),
                "path": m.path.as_posix(),
                "owner": m.owner,
                "description": m.description,
            }
            for m in spec.models.values()
        ]
        return sorted(rows, key=lambda r: r["name"])

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest builds recorded in the catalog, newest first."""
        from sqlops.catalog.store import Catalog

        return Catalog(self.config.catalog_path).runs(limit)

    def _built_columns(self, names: set[str]) -> dict[str, dict[str, str]]:
        """Columns of these relations as built (none before the first build)."""
        if not self.config.warehouse_path.exists():
            return {}
        engine = self._open_warehouse(read_only=True, macros=False)
        try:
            built = engine.relations()
            return {name: engine.columns(name) for name in sorted(names) if name in built}
        finally:
            engine.close()


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


def _relative(location: str, root: Path) -> str:
    path = Path(location)
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else location


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


def _resolve_node(spec: ProjectSpec, name: str) -> str:
    key = name.lower()
    if key in spec.models or key in spec.sources:
        return key
    matches = [n for n in spec.names if n.split(".", 1)[-1] == key]
    if len(matches) == 1:
        return matches[0]
    raise UnknownTableError(name, hint=did_you_mean(key, spec.names) or "see `sqlops ls`")


def _tree(name: str, edges: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    return {child: _tree(child, edges) for child in edges[name]}


def sql(query: str, **frames: Any) -> pl.DataFrame:
    """Query Polars/pandas/Arrow frames (and files) with DuckDB SQL, no project needed.

    >>> import polars as pl
    >>> df = pl.DataFrame({"x": [1, 2, 3]})
    >>> total = sql("select sum(x) as s from df", df=df)["s"][0]
    >>> total  # skipped: a Decimal until integer sums are ints  # doctest: +SKIP
    6
    """
    from sqlops.execute.engine import Engine, Where

    engine = Engine.open()
    try:
        for name, frame in frames.items():
            engine.register(name, frame)
        return engine.polars(query, where=Where(path="<query>"))
    finally:
        engine.close()


def run_file(
    path: Path | str, params: Mapping[str, Any] | None = None, *, project: Path | str | None = None
) -> pl.DataFrame | None:
    """Run a SQL script (several statements allowed) and return the last result.

    Inside a built project the script sees the warehouse (read-only); anywhere else it
    runs in memory against the files it names, so it needs no project at all.
    """
    from sqlops.execute.script import run_script

    file = Path(path)
    text = read_text(file)
    engine = _scratch_engine(project)
    try:
        return run_script(engine, text, params or {}, file)
    finally:
        engine.close()


def query(
    text: str,
    params: Mapping[str, Any] | None = None,
    *,
    project: Path | str | None = None,
    ref: str | None = None,
) -> pl.DataFrame | None:
    """Run SQL given as a string, like ``run_file`` (the warehouse if there is one); with
    ``ref``, against the project's tables as committed at that version."""
    from sqlops.execute.script import run_script

    engine = _scratch_engine(project) if ref is None else Project(project).engine_at(ref)
    try:
        return run_script(engine, text, params or {}, "<query>")
    finally:
        engine.close()


def write_output(frame: pl.DataFrame, out: Path | str) -> Path:
    """Write a result to Parquet, CSV, JSON or NDJSON, chosen by the file extension."""
    target = Path(out)
    writers: dict[str, Callable[[Path], Any]] = {
        ".parquet": frame.write_parquet,
        ".csv": frame.write_csv,
        ".json": frame.write_json,
        ".ndjson": frame.write_ndjson,
        ".jsonl": frame.write_ndjson,
    }
    writer = writers.get(target.suffix.lower())
    if writer is None:
        raise OutputError(
            f"cannot write {target.name}: unknown extension",
            hint="use .parquet, .csv, .json or .ndjson",
        )
    with polars_errors("write", target, writing=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        writer(target)
    return target


def _scratch_engine(project: Path | str | None) -> Engine:
    from sqlops.config import find_root
    from sqlops.execute.engine import Engine

    root = Path(project) if project is not None else find_root()
    try:
        config = load_config(root)
    except SqlopsError:
        return Engine.open()
    if config.warehouse_path.exists():
        return Engine.open(config.warehouse_path, read_only=True, search_path=config.root)
    return Engine.open()


def init(path: Path | str = ".") -> list[Path]:
    """Scaffold a project that builds immediately; returns the files written."""
    from sqlops.project.scaffold import scaffold

    return scaffold(Path(path))
