"""Orchestration benchmark: a 1,000-model project over tiny data, sqlops vs plain DuckDB.

What it measures, side by side in one run (min and median of ``--reps``; reps interleaved so
load from other jobs hits every variant alike), all wall times of the real console script
(``.venv/bin/sqlops``, interpreter start-up included):

* the floor: the same CREATE TABLE/VIEW statements in topological order through one plain
  DuckDB connection to a fresh file database, in this process and as a fresh ``python -c``
  (start-up + ``import duckdb`` included, the like-for-like floor of the CLI rows);
* ``sqlops build`` on a fresh copy (cold parse cache), ``build --full-refresh`` after it
  (warm parse cache), a no-op ``build``, ``plan``, ``--help``, and a build after editing one
  leaf-ish model (must run exactly that model and its descendants).

Only correctness is asserted (every model built, no-op runs nothing, the edit runs exactly
its subtree, sqlops's tables hold the floor's row counts); timings are printed, never checked.

    uv run python tests/bench/test_orchestration.py                 # the report
    uv run python tests/bench/test_orchestration.py --profile       # + where the time goes
    uv run python tests/bench/test_orchestration.py --models 200 --reps 1   # smoke
    uv run pytest -m bench -s tests/bench/test_orchestration.py     # same report, as tests

``--profile`` adds: ``-X importtime`` of ``--help``/no-op build/plan, wall time per phase
of an in-process build (worker time split by statement kind), cProfile hotspots of the
build (worker threads included) and of the no-op, and "what if" builds with runtime patches
that model candidate fixes (nothing under sqlops/ is edited). Work files go to --workdir
(default /tmp/sqlops-bench-orch), never into the repo.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from genproject import Generated, generate
from reporting import child_env, terminal_log

pytestmark = pytest.mark.bench

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SQLOPS = BIN / "sqlops" if (BIN / "sqlops").exists() else REPO / ".venv" / "bin" / "sqlops"
PYTHON = sys.executable
SUMMARY = re.compile(r"(\d+) built, (\d+) unchanged, (\d+) failed, (\d+) not run in ([\d.]+)s")
PLAN = re.compile(r"(\d+) to run, (\d+) unchanged")
EDIT_SUFFIX = "limit 1000000\n"  # appended to the edited model: changes its canonical SQL

FLOOR_SCRIPT = """
import json, sys, time
t0 = time.perf_counter()
import duckdb
con = duckdb.connect(sys.argv[2])
for s in json.load(open(sys.argv[1])):
    con.execute(s)
con.close()
"""


# ------------------------------------------------------------------------------------------
# running things
# ------------------------------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = child_env()
    env["COLUMNS"] = "120"
    return env


def run(args: list[str], cwd: Path, *, check: bool = True) -> tuple[float, str, str]:
    """Run a command; (wall seconds, stdout, stderr)."""
    t0 = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=_env())
    seconds = time.perf_counter() - t0
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return seconds, proc.stdout, proc.stderr


def sqlops(args: list[str], cwd: Path) -> tuple[float, str, str]:
    return run([str(SQLOPS), *args], cwd)


def fresh_copy(template: Path, dst: Path) -> Path:
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(template, dst, ignore=shutil.ignore_patterns(".sqlops"))
    return dst


def _remove_db(path: Path) -> None:
    for p in (path, Path(str(path) + ".wal")):
        p.unlink(missing_ok=True)


def floor_inprocess(statements: list[str], db: Path) -> float:
    _remove_db(db)
    t0 = time.perf_counter()
    con = duckdb.connect(str(db))
    for s in statements:
        con.execute(s)
    con.close()
    return time.perf_counter() - t0


def floor_subprocess(statements_file: Path, db: Path) -> float:
    _remove_db(db)
    seconds, _, _ = run([PYTHON, "-c", FLOOR_SCRIPT, str(statements_file), str(db)], db.parent)
    return seconds


def parse_build(stdout: str) -> dict[str, Any]:
    match = SUMMARY.search(stdout)
    if not match:
        raise AssertionError(f"no build summary in output:\n{stdout[-2000:]}")
    built, unchanged, failed, not_run = (int(g) for g in match.groups()[:4])
    return {
        "built": built,
        "unchanged": unchanged,
        "failed": failed,
        "not_run": not_run,
        "run_plan_s": float(match.group(5)),
    }


def built_names(stdout: str, known: set[str]) -> set[str]:
    """Model names listed in the build table (first word of a row)."""
    names = set()
    for line in stdout.splitlines():
        words = line.split()
        if words and words[0] in known:
            names.add(words[0])
    return names


def warehouse_counts(db: Path, names: list[str]) -> dict[str, int]:
    # sqlops views read Parquet objects by paths relative to the project root
    root = str(db.parent.parent) if db.parent.name == ".sqlops" else str(db.parent)
    con = duckdb.connect(str(db), read_only=True, config={"file_search_path": root})
    try:
        return {n: con.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in names}
    finally:
        con.close()


def relations(db: Path) -> set[str]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT schema_name || '.' || table_name FROM duckdb_tables() "
            "UNION ALL SELECT schema_name || '.' || view_name FROM duckdb_views() "
            "WHERE NOT internal"
        ).fetchall()
    finally:
        con.close()
    return {r[0] for r in rows if not r[0].startswith(("_sqlops.", "raw."))}


def load_average() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


# ------------------------------------------------------------------------------------------
# the benchmark
# ------------------------------------------------------------------------------------------


@dataclass
class BenchResult:
    gen: Generated
    reps: int
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    checks: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    notes: list[str] = field(default_factory=list)
    edited: str = ""
    expected_edit: set[str] = field(default_factory=set)
    load: list[str] = field(default_factory=list)

    def add(self, key: str, seconds: float, check: Any = None) -> None:
        self.times[key].append(seconds)
        if check is not None:
            self.checks[key].append(check)


ROWS = [  # key, label, compared with, target (seconds or ratio to the floor)
    ("python", "python -c pass (interpreter start-up)", None, None),
    ("floor_inproc", "floor: plain DuckDB, in-process", None, None),
    ("floor_proc", "floor: plain DuckDB, python -c (+start-up)", None, None),
    ("build_cold", "sqlops build, fresh copy (cold parse cache)", "floor_proc", ("x", 2.0)),
    ("build_warm", "sqlops build --full-refresh (warm cache)", "floor_proc", ("x", 2.0)),
    ("noop", "sqlops build, no-op", None, ("s", 1.0)),
    ("plan", "sqlops plan (nothing to run)", None, ("s", 1.0)),
    ("help", "sqlops --help", None, ("s", 0.3)),
    ("edit", "sqlops build after editing 1 model", None, None),
]


def run_bench(
    workdir: Path, models: int = 1000, reps: int = 3, log: Callable[[str], None] = print
) -> BenchResult:
    workdir.mkdir(parents=True, exist_ok=True)
    template = workdir / "template"
    shutil.rmtree(template, ignore_errors=True)
    gen = generate(template, models)
    statements = gen.floor_statements()
    statements_file = workdir / "floor_statements.json"
    statements_file.write_text(json.dumps(statements))
    res = BenchResult(gen, reps)
    res.edited = gen.leafish()
    res.expected_edit = {res.edited, *gen.descendants(res.edited)}
    res.load.append(load_average())
    run([str(SQLOPS), "--help"], workdir)  # compile .pyc files outside the timings

    for rep in range(reps):
        log(f"  rep {rep + 1}/{reps} (load {load_average()})")

        def floors(rep: int = rep) -> None:
            floor_db = workdir / f"floor_{rep}.duckdb"
            res.add("floor_inproc", floor_inprocess(statements, floor_db))
            res.add("floor_proc", floor_subprocess(statements_file, floor_db))

        if rep % 2 == 0:
            floors()
        res.add("python", run([PYTHON, "-c", "pass"], workdir)[0])
        res.add("help", *_help(workdir))

        project = fresh_copy(template, workdir / "project")
        seconds, out, _ = sqlops(["build"], project)
        res.add("build_cold", seconds, parse_build(out))
        if rep == 0:
            res.checks["relations"].append(relations(project / ".sqlops" / "warehouse.duckdb"))
            tables = sorted(n for n, m in gen.models.items() if m.materialized == "table")
            res.checks["counts"].append(
                (
                    warehouse_counts(workdir / "floor_0.duckdb", tables),
                    warehouse_counts(project / ".sqlops" / "warehouse.duckdb", tables),
                )
            )
        seconds, out, _ = sqlops(["build"], project)
        res.add("noop", seconds, parse_build(out))
        seconds, out, _ = sqlops(["plan"], project)
        match = PLAN.search(out)
        res.add("plan", seconds, match and (int(match.group(1)), int(match.group(2))))
        seconds, out, _ = sqlops(["build", "--full-refresh"], project)
        res.add("build_warm", seconds, parse_build(out))
        model_file = project / gen.models[res.edited].path
        model_file.write_text(model_file.read_text() + EDIT_SUFFIX)
        seconds, out, _ = sqlops(["build"], project)
        res.add("edit", seconds, (parse_build(out), built_names(out, set(gen.models))))
        if rep % 2 == 1:
            floors()
    res.load.append(load_average())
    return res


def _help(cwd: Path) -> tuple[float, bool]:
    seconds, out, _ = sqlops(["--help"], cwd)
    return seconds, "build" in out


def report(res: BenchResult) -> str:
    gen = res.gen
    mats = [m.materialized for m in gen.models.values()]
    schemas = {n.split(".")[0] for n in gen.models}
    lines = [
        "",
        f"sqlops orchestration bench: {len(gen.models)} models ({mats.count('table')} tables, "
        f"{mats.count('view')} views) in {len(schemas)} schemas over {len(gen.sources)} CSV "
        f"sources, DAG depth {gen.depth()}; {res.reps} reps, interleaved",
        f"machine: {os.cpu_count()} cores, load average {res.load[0]} at start, "
        f"{res.load[-1]} at end; duckdb {duckdb.__version__}",
        "",
        f"{'measurement':46s} {'min s':>8s} {'median s':>9s} {'ratio':>12s} {'target':>9s}",
    ]
    mins = {k: min(v) for k, v in res.times.items() if v}
    for key, label, versus, target in ROWS:
        values = res.times.get(key)
        if not values:
            continue
        ratio, goal = "", ""
        if versus and versus in mins:
            ratio = f"{mins[key] / mins[versus]:.2f}x floor"
        if target is not None:
            kind, bound = target
            measured = mins[key] / mins[versus] if kind == "x" and versus else mins[key]
            met = "ok" if measured <= bound else "MISS"
            goal = f"{'<=' if kind == 'x' else '<'}{bound:g}{kind} {met}"
            if kind == "s":
                ratio = f"{mins[key] / bound:.2f}x target"
        lines.append(
            f"{label:46s} {min(values):8.2f} {statistics.median(values):9.2f} {ratio:>12s} "
            f"{goal:>9s}"
        )
    if "build_cold" in mins and "floor_inproc" in mins:
        n = len(gen.models)
        lines.append(
            f"per model: floor {1000 * mins['floor_inproc'] / n:.1f} ms, sqlops cold build "
            f"{1000 * (mins['build_cold'] - mins.get('help', 0)) / n:.1f} ms (less --help "
            f"start-up); cold build vs in-process floor "
            f"{mins['build_cold'] / mins['floor_inproc']:.2f}x"
        )
    edit = res.checks.get("edit")
    if edit:
        lines.append(
            f"edit: {res.edited} ({len(res.expected_edit)} models incl. descendants); "
            f"built {sorted({e[0]['built'] for e in edit})} per rep"
        )
    for key in ("build_cold", "build_warm", "noop"):
        if res.checks.get(key):
            inner = min(c["run_plan_s"] for c in res.checks[key])
            lines.append(f"{key}: run_plan (execution only, as sqlops reports it) {inner:.2f}s")
    lines += res.notes
    return "\n".join(lines)


def check(res: BenchResult) -> None:
    """The correctness assertions (also run by the script)."""
    n = len(res.gen.models)
    for key in ("build_cold", "build_warm"):
        for c in res.checks[key]:
            assert (c["built"], c["failed"], c["not_run"]) == (n, 0, 0), (key, c)
    for c in res.checks["noop"]:
        assert (c["built"], c["unchanged"], c["failed"]) == (0, n, 0), c
    for c in res.checks["plan"]:
        assert c == (0, n), c
    assert all(res.checks["help"])
    for summary, names in res.checks["edit"]:
        assert summary["built"] == len(res.expected_edit), summary
        assert summary["unchanged"] == n - len(res.expected_edit), summary
        assert names == res.expected_edit, names ^ res.expected_edit
    assert res.checks["relations"][0] == set(res.gen.models)
    floor_counts, sqlops_counts = res.checks["counts"][0]
    assert floor_counts == sqlops_counts


# ------------------------------------------------------------------------------------------
# profiling: where the time goes
# ------------------------------------------------------------------------------------------


def importtime(args: list[str], cwd: Path) -> tuple[float, float, list[tuple[str, float]]]:
    """``python -X importtime``: (wall s, total import s, top-level imports by cumulative s).

    A top-level import's cumulative time includes everything it pulled in first, so the
    top-level rows partition the total (``sqlops.api`` holds duckdb, for instance).
    """
    seconds, _, err = run([PYTHON, "-X", "importtime", str(SQLOPS), *args], cwd)
    total = 0.0
    top: list[tuple[str, float]] = []
    for line in err.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( +)(\S+)", line)
        if not m:
            continue
        total += int(m.group(1)) / 1e6
        if len(m.group(3)) == 1:
            top.append((m.group(4), int(m.group(2)) / 1e6))
    return seconds, total, sorted(top, key=lambda kv: -kv[1])


class Timers:
    """Wall time per label of patched functions, summed over threads."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)
        self.count: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._undo: list[tuple[Any, str, Any]] = []

    def add(self, label: str, seconds: float) -> None:
        with self._lock:
            self.total[label] += seconds
            self.count[label] += 1

    def patch(self, owner: Any, attr: str, new: Any) -> None:
        self._undo.append(
            (owner, attr, owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr))
        )
        setattr(owner, attr, new)

    def wrap(self, owner: Any, attr: str, label: str | Callable[..., str]) -> None:
        orig = getattr(owner, attr)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return orig(*args, **kwargs)
            finally:
                self.add(label(*args) if callable(label) else label, time.perf_counter() - t0)

        self.patch(owner, attr, wrapper)

    def restore(self) -> None:
        for owner, attr, orig in reversed(self._undo):
            setattr(owner, attr, orig)
        self._undo.clear()


def _statement_kind(_engine: Any, sql: str, *_: Any) -> str:
    head = sql.lstrip()[:40].upper()
    if head.startswith("CREATE OR REPLACE TABLE"):
        return "exec: CREATE TABLE AS (the model)"
    if head.startswith("CREATE OR REPLACE VIEW"):
        return "exec: CREATE VIEW (the model)"
    if "_SQLOPS.STATE" in sql.upper()[:80]:
        return "exec: state upsert (fingerprint)"
    return "exec: other"


def instrument(timers: Timers) -> None:
    """Patch sqlops at runtime to time its phases (behaviour unchanged)."""
    from sqlops import api, macros
    from sqlops.catalog.store import Catalog
    from sqlops.cli import render
    from sqlops.execute import runner
    from sqlops.execute.engine import Engine

    timers.wrap(api, "load_config", "load config")
    timers.wrap(api, "load_project", "load project (read + parse/cache)")
    timers.wrap(api, "make_plan", "make plan (fingerprints)")
    timers.wrap(api, "run_plan", "run_plan (wall)")
    timers.wrap(Engine, "open", "Engine.open (connect)")
    timers.wrap(Engine, "read_state", "read state + relations")
    timers.wrap(Engine, "relations", "read state + relations")
    timers.wrap(Engine, "ensure_state", "ensure state table")
    timers.wrap(macros, "register_macros", "register macros (per connection)")
    timers.wrap(Engine, "execute", _statement_kind)
    timers.wrap(Engine, "close", "Engine.close")
    timers.wrap(runner, "_run_node", "worker: _run_node (all of a node)")
    timers.wrap(Catalog, "record_build", "catalog: record_build")
    timers.wrap(render, "build_summary", "render: build summary")
    timers.wrap(render, "plan", "render: plan table")

    @contextlib.contextmanager
    def transaction(self: Engine) -> Iterator[None]:  # Engine.transaction, timed
        t0 = time.perf_counter()
        self.con.execute("BEGIN TRANSACTION")
        timers.add("txn: BEGIN", time.perf_counter() - t0)
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        t0 = time.perf_counter()
        self.con.execute("COMMIT")
        timers.add("txn: COMMIT", time.perf_counter() - t0)

    timers.patch(Engine, "transaction", transaction)


def in_process_cli(args: list[str], cwd: Path) -> float:
    """Run ``sqlops ARGS`` in this process (imports already paid), output discarded."""
    from sqlops.cli.app import main

    old_argv, old_cwd = sys.argv, Path.cwd()
    sys.argv = ["sqlops", *args]
    os.chdir(cwd)
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            main()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    finally:
        sys.argv = old_argv
        os.chdir(old_cwd)
    return time.perf_counter() - t0


def phase_table(title: str, timers: Timers, wall: float) -> list[str]:
    lines = [
        f"{title}: wall {wall:.2f}s (worker rows summed over threads; rows nest: _run_node "
        "holds macros/exec/txn/close, Engine.open holds one macro registration)"
    ]
    for label, seconds in sorted(timers.total.items(), key=lambda kv: -kv[1]):
        lines.append(
            f"  {label:40s} {seconds:8.2f}s {100 * seconds / wall:6.1f}%  n={timers.count[label]}"
        )
    return lines


def profile_phases(template: Path, workdir: Path, threads: int) -> list[str]:
    from sqlops.api import Project

    out: list[str] = []
    project = fresh_copy(template, workdir / f"phases_t{threads}")
    timers = Timers()
    instrument(timers)
    try:
        t0 = time.perf_counter()
        result = Project(project, threads=threads).build()
        wall = time.perf_counter() - t0
        assert sum(n.status == "success" for n in result.models) == len(result.models)
        out += phase_table(f"in-process cold build, threads={threads}", timers, wall)
        timers.total.clear()
        timers.count.clear()
        wall = in_process_cli(["build"], project)
        out += phase_table("in-process no-op `sqlops build` (after imports)", timers, wall)
        timers.total.clear()
        timers.count.clear()
        wall = in_process_cli(["plan"], project)
        out += phase_table("in-process `sqlops plan` (after imports)", timers, wall)
    finally:
        timers.restore()
    return out


def top_stats(stats: pstats.Stats, n: int, sort: str) -> list[str]:
    buf = io.StringIO()
    stats.stream = buf  # type: ignore[attr-defined]
    stats.sort_stats(sort).print_stats(n)
    rows = [ln for ln in buf.getvalue().splitlines() if re.match(r"\s+\d", ln)]
    return ["  " + re.sub(r"/\S*/(site-packages|main)/", "", ln.strip()) for ln in rows]


def profile_cprofile(template: Path, workdir: Path) -> list[str]:
    """cProfile of a cold in-process build (main + every worker thread) and of a no-op."""
    from sqlops.api import Project
    from sqlops.execute import runner

    project = fresh_copy(template, workdir / "cprofile")
    profiles: list[cProfile.Profile] = []
    local = threading.local()
    orig = runner._run_node

    def profiled(*args: Any, **kwargs: Any) -> Any:
        prof = getattr(local, "prof", None)
        if prof is None:
            prof = local.prof = cProfile.Profile()
            profiles.append(prof)
        prof.enable()
        try:
            return orig(*args, **kwargs)
        finally:
            prof.disable()

    runner._run_node = profiled  # type: ignore[assignment]
    main = cProfile.Profile()
    try:
        main.enable()
        Project(project).build()
        main.disable()
    finally:
        runner._run_node = orig  # type: ignore[assignment]
    stats = pstats.Stats(main)
    for prof in profiles:
        stats.add(prof)
    out = ["cProfile, cold build (main thread + workers; tottime = own time):"]
    out += top_stats(stats, 14, "tottime")
    noop = cProfile.Profile()
    noop.enable()
    in_process_cli(["build"], project)
    noop.disable()
    out.append("cProfile, in-process no-op build (imports already loaded), by cumulative:")
    out += top_stats(pstats.Stats(noop), 22, "cumulative")
    return out


# ---- what-if variants: runtime patches that model candidate fixes -------------------------


@contextlib.contextmanager
def reuse_worker_engines() -> Iterator[None]:
    """One forked cursor (and one macro registration) per worker thread, not per model."""
    from sqlops.execute.engine import Engine

    orig_fork = Engine.fork
    local = threading.local()
    made: list[Any] = []

    def fork(self: Engine) -> Engine:
        cache = local.__dict__.setdefault("engines", {})
        engine = cache.get(id(self))
        if engine is None:
            engine = orig_fork(self)
            engine.close = lambda: None  # type: ignore[method-assign]
            cache[id(self)] = engine
            made.append(engine)
        return engine

    Engine.fork = fork  # type: ignore[method-assign]
    try:
        yield
    finally:
        Engine.fork = orig_fork  # type: ignore[method-assign]
        for engine in made:
            engine.con.close()


@contextlib.contextmanager
def no_worker_macros() -> Iterator[None]:
    """Workers fork without registering the macro library (models here use none)."""
    from sqlops.execute.engine import Engine

    orig_fork = Engine.fork

    def fork(self: Engine) -> Engine:
        return Engine(self.con.cursor(), self.path, macros=False)

    Engine.fork = fork  # type: ignore[method-assign]
    try:
        yield
    finally:
        Engine.fork = orig_fork  # type: ignore[method-assign]


@contextlib.contextmanager
def state_append_only() -> Iterator[None]:
    """Plain INSERT into a state table without a PRIMARY KEY (and VARCHAR parts), instead of
    INSERT OR REPLACE on a keyed table: models the cost of the keyed upsert per model."""
    from sqlops.execute import engine as engine_mod
    from sqlops.execute import materialize

    ddl, upsert = engine_mod.STATE_DDL, materialize.state_upsert
    engine_mod.STATE_DDL = ddl.replace("VARCHAR PRIMARY KEY", "VARCHAR").replace("JSON", "VARCHAR")
    materialize.state_upsert = lambda: upsert().replace("INSERT OR REPLACE", "INSERT")  # type: ignore[assignment]
    try:
        yield
    finally:
        engine_mod.STATE_DDL = ddl
        materialize.state_upsert = upsert


WHAT_IF: list[tuple[str, int | None, list[Callable[[], Any]]]] = [
    ("as is (threads=4 default)", None, []),
    ("as is, threads=1", 1, []),
    ("as is, threads=2", 2, []),
    ("no macros on worker cursors", None, [no_worker_macros]),
    ("reuse 1 cursor per worker thread", None, [reuse_worker_engines]),
    ("reuse cursor + append-only state row", None, [reuse_worker_engines, state_append_only]),
    ("reuse cursor + append-only state, threads=1", 1, [reuse_worker_engines, state_append_only]),
]


def what_if(template: Path, workdir: Path, statements: list[str], reps: int) -> list[str]:
    """Warm-parse-cache in-process builds on fresh warehouses, interleaved with the floor."""
    from sqlops.api import Project

    project = fresh_copy(template, workdir / "whatif")
    Project(project).load()  # warm the parse cache; every variant below starts from it
    times: dict[str, list[float]] = defaultdict(list)
    for _rep in range(reps):
        times["floor (in-process)"].append(floor_inprocess(statements, workdir / "wf.duckdb"))
        for label, threads, patches in WHAT_IF:
            for name in ("warehouse.duckdb", "warehouse.duckdb.wal", "catalog.duckdb"):
                (project / ".sqlops" / name).unlink(missing_ok=True)
            with contextlib.ExitStack() as stack:
                for patch in patches:
                    stack.enter_context(patch())
                t0 = time.perf_counter()
                result = Project(project, threads=threads).build()
                times[label].append(time.perf_counter() - t0)
            assert result.ok and len(result.models) == len(result.plan.models)  # type: ignore[union-attr]
    floor = min(times["floor (in-process)"])
    out = [f"what-if, in-process builds, warm parse cache, fresh warehouse (min of {reps}):"]
    for label, values in times.items():
        out.append(f"  {label:46s} {min(values):7.2f}s {min(values) / floor:6.2f}x floor")
    return out


PROFILE_PARTS = ("imports", "phases", "cprofile", "whatif")


def profile(
    workdir: Path,
    models: int,
    reps: int,
    log: Callable[[str], None] = print,
    parts: tuple[str, ...] = PROFILE_PARTS,
) -> str:
    template = workdir / "template"
    gen = generate(template, models)
    out = ["", "== profile =="]
    if "imports" in parts:
        out += profile_imports(template, workdir, log)
    if "phases" in parts:
        log("  phases")
        for threads in (4, 1):
            out += profile_phases(template, workdir, threads)
    if "cprofile" in parts:
        log("  cProfile")
        out += profile_cprofile(template, workdir)
    if "whatif" in parts:
        log("  what-if builds")
        out += what_if(template, workdir, gen.floor_statements(), reps)
    return "\n".join(out)


def profile_imports(template: Path, workdir: Path, log: Callable[[str], None]) -> list[str]:
    log("  importtime")
    out: list[str] = []
    project = fresh_copy(template, workdir / "imports")
    sqlops(["build"], project)
    for args in (["--help"], ["build"], ["plan"]):
        importtime(args, project)  # warm
        wall, total, top = importtime(args, project)
        parts = ", ".join(f"{k} {v:.2f}" for k, v in top[:6])
        out.append(
            f"-X importtime sqlops {' '.join(args)}: wall {wall:.2f}s, imports {total:.2f}s "
            f"({100 * total / wall:.0f}%); top-level: {parts}"
        )
    return out


# ------------------------------------------------------------------------------------------
# pytest
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> BenchResult:
    log = terminal_log(request)

    models = int(os.environ.get("BENCH_MODELS", "1000"))
    reps = int(os.environ.get("BENCH_REPS", "3"))
    log(f"\norchestration bench: {models} models, {reps} reps")
    res = run_bench(tmp_path_factory.mktemp("orch"), models, reps, log)
    log(report(res))
    return res


def test_generator_is_deterministic_and_shaped(tmp_path: Path) -> None:
    a, b = generate(tmp_path / "a"), generate(tmp_path / "b")
    files = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    assert files == sorted(
        p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file()
    )
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
    assert len(a.models) == 1000 and len(a.order) == 1000
    assert 8 <= len({n.split(".")[0] for n in a.models}) <= 12
    mats = [m.materialized for m in a.models.values()]
    assert mats.count("table") > 0.8 * len(mats) and mats.count("view") > 0
    for m in a.models.values():
        if m.layer == "staging":
            assert len(m.parents) == 1 and m.parents[0] in a.sources
        else:
            assert 1 <= len(m.parents) <= 3 and all(p in a.models for p in m.parents)
    assert a.depth() >= 10
    assert b.leafish() == a.leafish()


def test_full_build_builds_every_model(bench: BenchResult) -> None:
    n = len(bench.gen.models)
    assert [c["built"] for c in bench.checks["build_cold"]] == [n] * bench.reps
    assert [c["built"] for c in bench.checks["build_warm"]] == [n] * bench.reps
    assert bench.checks["relations"][0] == set(bench.gen.models)


def test_build_matches_the_plain_duckdb_floor(bench: BenchResult) -> None:
    floor_counts, sqlops_counts = bench.checks["counts"][0]
    assert floor_counts == sqlops_counts


def test_noop_build_runs_nothing(bench: BenchResult) -> None:
    assert [c["built"] for c in bench.checks["noop"]] == [0] * bench.reps
    assert {c["unchanged"] for c in bench.checks["noop"]} == {len(bench.gen.models)}


def test_plan_has_nothing_to_run(bench: BenchResult) -> None:
    assert bench.checks["plan"] == [(0, len(bench.gen.models))] * bench.reps


def test_help_works(bench: BenchResult) -> None:
    assert all(bench.checks["help"])


def test_edit_runs_the_model_and_its_descendants_only(bench: BenchResult) -> None:
    check(bench)


@pytest.mark.skipif(not os.environ.get("BENCH_PROFILE"), reason="set BENCH_PROFILE=1")
def test_profile(bench: BenchResult, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    text = profile(tmp_path, len(bench.gen.models), 1, print)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    (reporter.write_line if reporter else print)(text)


# ------------------------------------------------------------------------------------------
# script
# ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/sqlops-bench-orch"))
    parser.add_argument("--profile", action="store_true", help="also profile (slow)")
    parser.add_argument("--profile-only", action="store_true", help="only profile")
    parser.add_argument("--profile-reps", type=int, default=1, help="reps of the what-if builds")
    parser.add_argument(
        "--profile-parts",
        default=",".join(PROFILE_PARTS),
        help=f"comma-separated subset of {','.join(PROFILE_PARTS)}",
    )
    args = parser.parse_args()
    if not args.profile_only:
        print(f"orchestration bench: {args.models} models, {args.reps} reps in {args.workdir}")
        res = run_bench(args.workdir, args.models, args.reps)
        print(report(res))
        check(res)
        print(
            "checks: ok (all models built, no-op ran 0, edit ran exactly its subtree, "
            "row counts equal the floor's)"
        )
    if args.profile or args.profile_only:
        parts = tuple(p.strip() for p in args.profile_parts.split(","))
        print(profile(args.workdir, args.models, args.profile_reps, parts=parts))


if __name__ == "__main__":
    main()
