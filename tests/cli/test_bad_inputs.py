"""Bad input through the real ``sqlops`` command: exit 1 or 2, one line on stderr, no
traceback, and the warehouse, every ref and every file the user wrote as they were.

The corpus: the bad-input cases of the core and versions issues, and those of issue 12
(error boundary, config values, file encodings, model names, incremental keys, ragged CSV).
Each case starts from a copy of one scaffolded project that is built and committed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

import sqlops

Setup = Callable[[Path], None]


def sqlops_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "sqlops"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLOPS_")}
    return subprocess.run(
        [str(exe), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scaffolded project, built and committed on main, with a branch ``dev`` at main."""
    root = tmp_path_factory.mktemp("bad") / "shop"
    sqlops.init(root)
    project = sqlops.Project(root)
    assert project.build().ok
    assert project.commit("base") is not None
    project.create_branch("dev")
    return root


def settle(root: Path) -> None:
    """A copied project is a moved one: re-point its warehouse views here first (what the
    next command would do), so a case's command starts from a settled project."""
    from sqlops.execute.engine import Engine

    Engine.open(root / ".sqlops" / "warehouse.duckdb", search_path=root).close()


# -- what must not change ------------------------------------------------------------------


def snapshot(root: Path) -> dict[str, Any]:
    """Everything a failed command must leave alone, read without sqlops: the bytes of every
    ref, staging and commit file and of every file the user wrote, and the rows of every
    relation in the warehouse (read by plain DuckDB)."""
    state: dict[str, Any] = {}
    versions = root / ".sqlops" / "versions"
    for folder in ("refs", "staging", "commits"):
        for path in sorted((versions / folder).rglob("*")):
            if path.is_file():
                state[str(path.relative_to(root))] = path.read_bytes()
    for folder in ("sql", "data"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                state[str(path.relative_to(root))] = path.read_bytes()
    for name in ("sqlops.toml",):
        state[name] = (root / name).read_bytes()
    state["warehouse"] = _warehouse_rows(root)
    return state


def _warehouse_rows(root: Path) -> dict[str, Any]:
    path = root / ".sqlops" / "warehouse.duckdb"
    if not path.exists():
        return {}
    cwd = Path.cwd()
    os.chdir(root)  # views read stored objects by paths relative to the project
    try:
        con = duckdb.connect(str(path), read_only=True)
        try:
            names = con.execute(
                "SELECT schema_name || '.' || view_name FROM duckdb_views() "
                "WHERE NOT internal AND NOT temporary AND database_name = current_database() "
                "AND schema_name NOT IN ('_sqlops') ORDER BY 1"
            ).fetchall()
            rows: dict[str, Any] = {}
            for (name,) in names:
                schema, table = name.split(".", 1)
                try:
                    rows[name] = con.execute(
                        f'SELECT * FROM "{schema}"."{table}" ORDER BY ALL'
                    ).fetchall()
                except duckdb.Error as exc:  # e.g. a view calling a per-connection macro
                    rows[name] = type(exc).__name__
            return rows
        finally:
            con.close()
    finally:
        os.chdir(cwd)


# -- the corpus ----------------------------------------------------------------------------


@dataclass
class Case:
    id: str
    args: tuple[str, ...]
    setup: Setup | None = None
    marks: tuple[Any, ...] = field(default_factory=tuple)
    expect: str = ""  # a piece of the one stderr line

    def param(self) -> Any:
        return pytest.param(self, id=self.id, marks=self.marks)


def write(path: str, text: str | bytes) -> Setup:
    def setup(root: Path) -> None:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            target.write_bytes(text)
        else:
            target.write_text(text)

    return setup


def append(path: str, text: str) -> Setup:
    def setup(root: Path) -> None:
        with (root / path).open("a") as handle:
            handle.write(text)

    return setup


def steps(*setups: Setup) -> Setup:
    def setup(root: Path) -> None:
        for one in setups:
            one(root)

    return setup


def config_line(section: str, line: str) -> Setup:
    """Add a line under a [section] (or at the top for section "")."""

    def setup(root: Path) -> None:
        path = root / "sqlops.toml"
        text = path.read_text()
        path.write_text(f"{line}\n{text}" if not section else f"{text}\n[{section}]\n{line}\n")

    return setup


def merge_conflict(root: Path) -> None:
    """dev and main both change the orders data differently and commit their builds."""
    csv = root / "data" / "orders.csv"
    original = csv.read_text()
    csv.write_text(original + "900,1,2026-01-01,1.00\n")
    project = sqlops.Project(root)
    assert project.build(branch="dev").ok
    project.checkout("main")  # build --branch leaves dev checked out
    csv.write_text(original + "901,2,2026-01-02,2.00\n")
    project = sqlops.Project(root)
    assert project.build().ok
    assert project.commit("main changes orders") is not None


def corrupt_object(root: Path) -> None:
    objects = sorted((root / ".sqlops" / "versions" / "objects").rglob("*.parquet"))
    for path in objects:
        path.chmod(0o644)
        path.write_bytes(b"not parquet at all")


def uncommitted_build(root: Path) -> None:
    append("data/orders.csv", "902,3,2026-01-03,3.00\n")(root)
    assert sqlops.Project(root).build().ok


MODEL = "sql/staging/extra.sql"

CASES = [
    # core issue: SQL, tables, cycles, duplicates, sources, engine type errors, config
    Case("sql-syntax", ("build",), write(MODEL, "select from from where\n"), expect="extra.sql:"),
    Case("sql-syntax-plan", ("plan",), write(MODEL, "select (1\n"), expect="extra.sql:"),
    Case(
        "unknown-table",
        ("build",),
        write(MODEL, "select * from raw.ordrs\n"),
        expect="did you mean raw.orders",
    ),
    Case(
        "cycle",
        ("plan",),
        steps(
            write("sql/a/x.sql", "select * from a.y\n"), write("sql/a/y.sql", "select * from a.x\n")
        ),
        expect="cycle",
    ),
    Case(
        "duplicate-model",
        ("ls",),
        write("sql/other/orders.sql", "-- name: staging.orders\nselect 1 as x\n"),
        expect="defined twice",
    ),
    Case(
        "missing-source-file",
        ("build",),
        lambda root: (root / "data" / "orders.csv").rename(root / "data" / "orders.bak"),
        expect="orders.csv",
    ),
    Case(
        "duckdb-type-error",
        ("build",),
        write(MODEL, "-- materialized: table\nselect 'a' + 1 as x from raw.orders\n"),
        expect="extra.sql:2",
    ),
    Case("unknown-config-key", ("config",), config_line("", "modles = 'sql'"), expect="modles"),
    Case("bad-toml", ("ls",), config_line("", "models = "), expect="sqlops.toml:1"),
    Case("bad-select", ("build", "--select", "stg.nope"), expect="matches no"),
    Case("usage-unknown-command", ("biuld",), expect="No such command"),
    Case("usage-bad-option", ("build", "--bogus"), expect="--bogus"),
    Case("usage-bad-int", ("query", "select 1", "--limit", "x"), expect="--limit"),
    # versions issue: refs, conflicts, corruption, names
    Case("unknown-ref-checkout", ("checkout", "mian"), expect="did you mean main"),
    Case("unknown-ref-query", ("query", "select 1", "--ref", "nope"), expect="nope"),
    Case("unknown-ref-log", ("log", "--ref", "dve"), expect="did you mean dev"),
    Case("unknown-ref-diff", ("diff", "nope", "main"), expect="nope"),
    Case("revert-unknown", ("revert", "0123456789ab"), expect="0123456789ab"),
    Case("branch-exists", ("branch", "create", "dev"), expect="dev"),
    Case("tag-unknown-ref", ("tag", "v1", "nope"), expect="nope"),
    Case("merge-conflict", ("merge", "dev"), merge_conflict, expect="conflicts"),
    Case(
        "corrupt-object",
        ("query", "select * from marts.customer_revenue", "--ref", "main"),
        corrupt_object,
        expect="sqlops versions fsck",
    ),
    Case(
        "missing-object",
        ("query", "select * from marts.customer_revenue"),
        lambda root: [p.unlink() for p in (root / ".sqlops/versions/objects").rglob("*.parquet")],
        expect="sqlops versions fsck",
    ),
    Case("data-add-missing", ("data", "add", "data/nope.csv"), expect="nope.csv"),
    # issue 12 section 3: the error boundary
    Case("out-nested-csv", ("query", "select [1,2] as l", "--out", "x.csv"), expect="x.csv"),
    Case("out-bad-path", ("query", "select 1 as l", "--out", "/proc/x.parquet"), expect="/proc"),
    Case("out-unknown-ext", ("query", "select 1 as l", "--out", "x.txt"), expect="x.txt"),
    Case("query-bad-sql", ("query", "select * from nowhere"), expect="nowhere"),
    Case("run-missing-file", ("run", "nope.sql"), expect="nope.sql"),
    Case(
        "run-not-utf8",
        ("run", "a.sql"),
        write("a.sql", b"select 1;\nselect 'caf\xe9'"),
        expect="a.sql:2",
    ),
    Case(
        "query-csv-not-utf8",
        ("query", "select * from read_csv('a.csv')"),
        write("a.csv", b"a,b\n1,caf\xe9\n"),
        expect="a.csv:",
    ),
    # issue 12 section 6
    Case("model-not-utf8-ls", ("ls",), write(MODEL, b"select 'caf\xe9' as x\n"), expect="UTF-8"),
    Case(
        "model-not-utf8-plan",
        ("plan",),
        write(MODEL, b"-- x\nselect '\xff'\n"),
        expect="extra.sql:2",
    ),
    Case(
        "toml-not-utf8",
        ("ls",),
        write("sqlops.toml", b"models = 'sql' # caf\xe9\n"),
        expect="UTF-8",
    ),
    Case(
        "incremental-unique-key",
        ("build",),
        write(
            MODEL,
            "-- materialized: incremental\n-- unique_key: id\nselect order_id from raw.orders\n",
        ),
        expect="extra.sql:2",
    ),
    Case(
        "incremental-cursor",
        ("build",),
        write(
            MODEL,
            "-- materialized: incremental\n-- unique_key: order_id\n-- cursor: updated\n"
            "select order_id from raw.orders\n",
        ),
        expect="extra.sql:3",
    ),
    Case(
        "ragged-csv",
        ("build",),
        append("data/orders.csv", "903,4,2026-01-04,4.00,extra\n"),
        expect="orders.csv:",
    ),
    Case(
        "memory-limit",
        ("build",),
        config_line("engine", 'memory_limit = "lots"'),
        expect="memory_limit",
    ),
    Case(
        "engine-threads-0",
        ("build",),
        config_line("engine", "threads = 0"),
        expect="engine.threads",
    ),
    Case("threads-0", ("build",), config_line("", "threads = 0"), expect="threads"),
    Case(
        "column-type",
        ("ls",),
        lambda root: (root / "sqlops.toml").write_text(
            (root / "sqlops.toml").read_text().replace('"DATE"', '"DAET"')
        ),
        expect="did you mean DATE",
    ),
    Case(
        "model-name-space",
        ("ls",),
        write("sql/staging/my model.sql", "select 1 as x\n"),
        expect="my model",
    ),
    Case(
        "model-name-sql",
        ("build",),
        write("sql/staging/drop table x;.sql", "select 1 as x\n"),
        expect="drop table x;",
    ),
    Case(
        "sql-duckdb-rejects",
        ("build",),
        write(MODEL, "-- materialized: table\nselect order_id,, amount from raw.orders\n"),
        expect=f"{MODEL}:2",
    ),
    Case(
        "checkout-discards-build",
        ("checkout", "dev"),
        uncommitted_build,
        expect="would discard",
    ),
]


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_bad_input_is_one_line_and_changes_nothing(base: Path, tmp_path: Path, case: Case) -> None:
    root = tmp_path / "shop"
    shutil.copytree(base, root)
    settle(root)
    if case.setup is not None:
        case.setup(root)
    before = snapshot(root)
    result = sqlops_cli(*case.args, cwd=root)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr[-3000:]
    assert result.returncode in (1, 2), (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert case.expect in lines[0], lines[0]
    assert snapshot(root) == before


def test_debug_shows_the_translated_cause(base: Path, tmp_path: Path) -> None:
    """``--debug`` re-raises with the third-party exception chained as the cause."""
    result = sqlops_cli("--debug", "query", "select 1 as a", "--out", "/proc/x.parquet", cwd=base)
    assert result.returncode != 0
    assert "FileNotFoundError" in result.stderr
    assert "direct cause of the following exception" in result.stderr
    assert "sqlops.errors.FileAccessError" in result.stderr
