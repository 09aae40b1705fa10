"""The library verbs: the only module that composes the layers.

Every CLI command calls one function here of the same meaning; nothing here prints.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlops import __version__
from sqlops.config import Config, load_config
from sqlops.errors import SqlopsError, UnknownTableError, VersioningError, did_you_mean
from sqlops.execute.lock import build_lock
from sqlops.execute.objects import ObjectStore, atomic_write
from sqlops.execute.results import BuildResult, NodeResult, OnEvent
from sqlops.plan import shortcut
from sqlops.plan.dag import Dag
from sqlops.plan.planner import Plan, make_plan
from sqlops.project.loader import load_project
from sqlops.project.model import ProjectSpec
from sqlops.versioning.local import DEFAULT_BRANCH, LocalStore, committed_objects
from sqlops.versioning.store import Commit, TableVersion, TreeDiff, tree_diff

if TYPE_CHECKING:
    import polars as pl

    from sqlops.execute.engine import Engine

# Modules that import DuckDB are imported inside the functions that need them, so that a
# no-op build (and `sqlops --help`) never pays DuckDB's import time.


@dataclass(frozen=True)
class Lineage:
    """Upstream and downstream trees of a model, and optionally one column's sources."""

    model: str
    upstream: dict[str, Any]
    downstream: dict[str, Any]
    column: str | None = None
    column_sources: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "upstream": self.upstream,
            "downstream": self.downstream,
        }
        if self.column is not None:
            out["column"] = self.column
            out["column_sources"] = [{"table": t, "column": c} for t, c in self.column_sources]
        return out


class Project:
    """A sqlops project on disk: ``Project(".").build()``.

    Args:
        path: the project folder (found upwards from the cwd when omitted).
        **overrides: config values that win over the files and environment, e.g.
            ``threads=8``.
    """

    def __init__(self, path: Path | str | None = None, **overrides: Any) -> None:
        self.config: Config = load_config(path, **overrides)

    @property
    def root(self) -> Path:
        return self.config.root

    def load(self, sources: Mapping[str, Any] | None = None) -> ProjectSpec:
        """Read sources and models from disk (parse results are cached)."""
        return load_project(self.config, sources)

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
    ) -> BuildResult:
        """Build the selected models (all by default), skipping unchanged ones.

        With ``branch``, the warehouse is first checked out at that branch, and a successful
        build is committed to it with the run id and every model's fingerprint.

        ``sources`` maps source names to Polars/pandas/Arrow frames to read this time.
        Failed models are reported in the result (``result.ok``), not raised; call
        ``result.raise_on_error()`` to turn them into a ``BuildFailed``.
        """
        if branch is not None:
            return self._build_on_branch(
                branch, select, exclude, full_refresh, sources, on_event, wait
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
            result = self._run(select, exclude, full_refresh, sources, run_id, on_event)
            catalog.record_build(result, "build", started)
            if result.ok and not sources:
                shortcut.save(self.config, inputs, [_node_record(n) for n in result.nodes])
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
        )
        if result.ok:
            fingerprints = {n.name: n.fingerprint for n in result.nodes}
            meta = {
                "run_id": result.run_id,
                "fingerprints": json.dumps(fingerprints, sort_keys=True),
            }
            self.commit(f"build {result.run_id}", meta)
        return result

    def _run(
        self,
        select: Sequence[str],
        exclude: Sequence[str],
        full_refresh: bool,
        sources: Mapping[str, Any] | None,
        run_id: str,
        on_event: OnEvent | None,
    ) -> BuildResult:
        """Load, plan against the warehouse state, run; then drop replaced objects."""
        from sqlops.execute.nodes import BuildContext
        from sqlops.execute.runner import run_plan

        spec = self.load(sources)
        engine = self._open_warehouse(macros=False)
        try:
            engine.ensure_state()
            state = engine.read_state()
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
            )
            result = run_plan(engine, plan, ctx, threads=self.config.threads, on_event=on_event)
        finally:
            engine.close()
        self._drop_replaced(state, result)
        return result

    @property
    def objects(self) -> ObjectStore:
        """Where table outputs are stored (shared with the local version store)."""
        return ObjectStore(self.config.state_path / "versions" / "objects", self.root)

    def _intact(
        self, state: Mapping[str, Mapping[str, Any]], relations: Mapping[str, str]
    ) -> set[str]:
        """Relations that exist and whose stored objects are all still on disk."""
        objects = self.objects
        return {
            name
            for name in relations
            if all(objects.exists(o) for o in state.get(name, {}).get("objects", ()))
        }

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

    def _table_at(self, name: str, ref: str) -> pl.DataFrame:
        from sqlops.execute.engine import Engine
        from sqlops.versioning.workspace import read_version

        store = self.versions
        cid = store.resolve(ref)
        tree = store.get_commit(cid).tree
        key = name.lower() if "." in name else f"main.{name.lower()}"
        if key not in tree:
            raise UnknownTableError(
                name, hint=did_you_mean(key, tree) or f"{ref} ({cid[:12]}) has no such table"
            )
        engine = Engine.open(macros=False)
        try:
            frame: pl.DataFrame = read_version(engine, self.objects, tree[key])
            return frame
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

    def engine_at(self, ref: str) -> Engine:
        """A scratch DuckDB connection whose views show every table as committed at ``ref``."""
        from sqlops.execute.engine import Engine
        from sqlops.versioning.workspace import attach_views

        store = self.versions
        commit = store.get_commit(store.resolve(ref))
        engine = Engine.open()
        attach_views(engine, self.objects, commit)
        return engine

    def lineage(self, model: str, column: str | None = None) -> Lineage:
        """Upstream and downstream of a model; with ``column``, the source columns behind it."""
        spec = self.load()
        dag = Dag.from_project(spec)
        name = _resolve_node(spec, model)
        up = _tree(name, dag.parents)
        down = _tree(name, dag.children)
        if column is None:
            return Lineage(name, up, down)
        return Lineage(name, up, down, column, self._column_sources(spec, dag, name, column))

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

    # -- data versions ------------------------------------------------------------------

    @property
    def versions(self) -> LocalStore:
        """The project's version store (created with an empty ``main`` on first use)."""
        store = LocalStore(self.config.state_path / "versions", self.objects)
        store.init()
        return store

    @property
    def branch(self) -> str:
        """The checked-out branch (or commit id, when a tag or commit was checked out)."""
        head = self.config.state_path / "HEAD"
        return head.read_text().strip() if head.is_file() else DEFAULT_BRANCH

    def branches(self) -> dict[str, str]:
        return self.versions.branches()

    def create_branch(self, name: str, from_ref: str | None = None) -> str:
        """A new branch at ``from_ref`` (the current branch by default); O(1) in data size."""
        return self.versions.create_branch(name, from_ref or self.branch)

    def delete_branch(self, name: str) -> None:
        if name == self.branch:
            raise VersioningError(
                f"cannot delete {name!r}: it is checked out", hint="check out another branch first"
            )
        self.versions.delete_branch(name)

    def commit(self, message: str, metadata: Mapping[str, str] | None = None) -> Commit | None:
        """Commit every built table (and a snapshot of each file source) to the current
        branch; None when nothing changed since its head."""
        from sqlops.versioning.workspace import working_tree

        store = self.versions
        branch = self._writable_branch(store)
        with build_lock(self.config.state_path):
            head = store.get_commit(store.resolve(branch))
            engine = self._open_warehouse(macros=False)
            try:
                engine.ensure_state()
                tree = working_tree(engine, self.objects, head.tree, set(self.load().sources))
            finally:
                engine.close()
            changes: dict[str, TableVersion | None] = {
                n: v for n, v in tree.items() if n not in head.tree or head.tree[n] != v
            }
            changes.update({n: None for n in head.tree.keys() - tree.keys()})
            if not changes:
                return None
            meta = {"sqlops_version": __version__, **_git_commit(self.root), **(metadata or {})}
            return store.commit(branch, changes, message, meta)

    def log(
        self, table: str | None = None, ref: str | None = None, limit: int | None = None
    ) -> list[Commit]:
        """History of a ref (the current branch by default), or of one table in it."""
        return self.versions.log(ref or self.branch, table.lower() if table else None, limit)

    def tag(self, name: str, ref: str | None = None) -> str:
        return self.versions.tag(name, ref or self.branch)

    def diff(self, a: str, b: str | None = None) -> TreeDiff:
        """Tables added, removed and changed from ``a`` to ``b`` (the current branch)."""
        store = self.versions
        ida, idb = store.resolve(a), store.resolve(b or self.branch)
        return tree_diff(store.get_commit(ida).tree, store.get_commit(idb).tree, (ida, idb))

    def diff_rows(self, table: str, a: str, b: str | None, key: Sequence[str]) -> pl.DataFrame:
        """Rows of one table added, removed or changed between two refs, by a unique key."""
        from sqlops.execute.engine import Engine
        from sqlops.versioning.workspace import row_diff

        if not key:
            raise VersioningError("a row diff needs a key", hint="pass --key COLUMN")
        store = self.versions
        name = table.lower() if "." in table else f"main.{table.lower()}"
        trees = [store.get_commit(store.resolve(r)).tree for r in (a, b or self.branch)]
        if all(name not in tree for tree in trees):
            known = set(trees[0]) | set(trees[1])
            raise UnknownTableError(table, hint=did_you_mean(name, known) or "see `sqlops log`")
        engine = Engine.open(macros=False)
        try:
            frame: pl.DataFrame = row_diff(
                engine, self.objects, trees[0].get(name), trees[1].get(name), list(key)
            )
            return frame
        finally:
            engine.close()

    def merge(self, source: str, into: str | None = None) -> Commit:
        """Three-way merge at table level; a table changed on both sides is a conflict."""
        return self.versions.merge(source, into or self._writable_branch(self.versions))

    def revert(self, ref: str) -> Commit:
        """A new commit on the current branch undoing what ``ref`` changed."""
        store = self.versions
        return store.revert(ref, self._writable_branch(store))

    def checkout(self, ref: str) -> list[str]:
        """Point the warehouse at a version: views over its objects, no data copied."""
        from sqlops.versioning.workspace import check_out

        store = self.versions
        commit = store.get_commit(store.resolve(ref))
        with build_lock(self.config.state_path):
            engine = self._open_warehouse(macros=False)
            try:
                names = check_out(engine, self.objects, commit, f"checkout_{commit.id[:12]}")
            finally:
                engine.close()
            shortcut.forget(self.config)
            target = ref if ref in store.branches() else commit.id
            atomic_write(self.config.state_path / "HEAD", target.encode())
        return names

    def gc(self) -> tuple[int, int]:
        """Delete objects that no commit and no warehouse table references."""
        with build_lock(self.config.state_path):
            state, _ = self._warehouse_state()
            live = frozenset(o for row in state.values() for o in row.get("objects", ()))
            return self.versions.gc(keep=live)

    def fsck(self) -> list[str]:
        """Check every ref, commit and object hash; returns the problems found (none: [])."""
        return self.versions.fsck()

    def _writable_branch(self, store: LocalStore) -> str:
        branch = self.branch
        if branch not in store.branches():
            raise VersioningError(
                f"the warehouse is at commit {branch[:12]}, not on a branch",
                hint="run `sqlops checkout <branch>` or `sqlops branch create NAME --from "
                f"{branch[:12]}` first",
            )
        return branch

    def _column_sources(
        self, spec: ProjectSpec, dag: Dag, name: str, column: str
    ) -> list[tuple[str, str]]:
        from sqlops.project.parse import column_lineage

        model = spec.models.get(name)
        if model is None or model.kind != "sql":
            raise SqlopsError(f"{name} is not a SQL model", hint="column lineage needs SQL")
        upstream_sql = {
            a: spec.models[a].sql
            for a in dag.ancestors(name)
            if a in spec.models and spec.models[a].kind == "sql"
        }
        schema: dict[str, dict[str, str]] = {}
        if self.config.warehouse_path.exists():
            engine = self._open_warehouse(read_only=True)
            try:
                for leaf in dag.ancestors(name) - upstream_sql.keys():
                    schema[leaf] = engine.columns(leaf)
            finally:
                engine.close()
        return column_lineage(column, model.sql, sources=upstream_sql, schema=schema)

    def _open_warehouse(self, read_only: bool = False, macros: bool = True) -> Engine:
        from sqlops.execute.engine import Engine

        path = self.config.warehouse_path
        if read_only and not path.exists():
            raise SqlopsError(
                f"no warehouse at {path.relative_to(self.root)}", hint="run `sqlops build` first"
            )
        return Engine.open(
            path,
            read_only=read_only,
            threads=self.config.duckdb_threads,
            memory_limit=self.config.memory_limit,
            macros=macros,
            search_path=self.root,
        )

    def _warehouse_state(self) -> tuple[dict[str, dict[str, Any]], set[str]]:
        if not self.config.warehouse_path.exists():
            return {}, set()
        engine = self._open_warehouse(read_only=True, macros=False)
        try:
            state = engine.read_state()
            return state, self._intact(state, engine.relations())
        finally:
            engine.close()


def _relative(location: str, root: Path) -> str:
    path = Path(location)
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else location


def _git_commit(root: Path) -> dict[str, str]:
    """The project's git commit, recorded in data commits for lineage (when there is one)."""
    import subprocess

    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    return {"git_commit": done.stdout.strip()} if done.returncode == 0 else {}


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
    >>> sql("select sum(x) as s from df", df=pl.DataFrame({"x": [1, 2, 3]}))["s"][0]
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
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise SqlopsError(f"cannot read {file}: {exc.strerror}", hint="check the path") from exc
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
        raise SqlopsError(
            f"cannot write {target.name}: unknown extension",
            hint="use .parquet, .csv, .json or .ndjson",
        )
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
