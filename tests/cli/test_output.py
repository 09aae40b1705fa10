"""What the CLI prints when its output is not a terminal (a pipe, a file, a CI log), and the
small things a new user tries first: ``--version``, ``python -m sqlops``, ``sqlops init``."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from conftest import ProjectFactory

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "sqlops"
ENV = {k: v for k, v in os.environ.items() if not k.startswith("SQLOPS_")}


def sqlops(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real console script with stdout and stderr piped, as in ``sqlops ls | cat``."""
    return subprocess.run(
        [str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, env=ENV, timeout=120
    )


LONG = "a_model_name_long_enough_that_an_eighty_column_table_would_have_to_cut_it"


def test_piped_tables_are_never_cut(make_project: ProjectFactory) -> None:
    root = make_project(
        {
            f"sql/deeply_nested_schema_name/{LONG}.sql": "select 1 as x",
            "sql/s/wide.sql": "select repeat('x', 150) as wide_text, 42 as answer",
        }
    )
    listed = sqlops("ls", cwd=root)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if LONG in line)
    assert f"deeply_nested_schema_name.{LONG}" in row
    assert f"sql/deeply_nested_schema_name/{LONG}.sql" in row
    assert sqlops("build", cwd=root).returncode == 0
    queried = sqlops("query", "select * from s.wide", cwd=root)
    assert queried.returncode == 0, queried.stderr
    row = next(line for line in queried.stdout.splitlines() if "42" in line)
    assert "x" * 150 in row


GATED_MODEL = """
import time
from pathlib import Path

import polars as pl
import sqlops


@sqlops.model()
def gated() -> pl.DataFrame:
    go = Path(__file__).parents[2] / "go"
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return pl.DataFrame({"x": [1, 2]})
"""


def test_a_build_without_a_terminal_prints_each_model_as_it_finishes(
    make_project: ProjectFactory,
) -> None:
    root = make_project(
        {
            "sqlops.toml": "threads = 2\n",
            "sql/s/fast.sql": "-- materialized: table\nselect 1 as x union all select 2",
            "sql/s/broken.sql": "-- materialized: table\nselect 1 / 'x' as oops",
            "sql/s/after_broken.sql": "select * from s.broken",
            "sql/s/gated.py": GATED_MODEL,
        }
    )
    build = subprocess.Popen(
        [str(SCRIPT), "build"],
        cwd=root,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert build.stdout is not None
    early = [build.stdout.readline() for _ in range(3)]  # s.gated has not finished yet
    assert build.poll() is None, "the lines came only when the build ended"
    (root / "go").touch()
    late, _ = build.communicate(timeout=120)
    assert build.returncode == 1
    lines = [line.rstrip("\n") for line in [*early, *late.splitlines(keepends=True)]]
    progress = [line for line in lines if line.startswith("[")]
    assert [line.split("]")[0] for line in progress] == ["[1/4", "[2/4", "[3/4", "[4/4"]
    bodies = [line.split("] ", 1)[1] for line in progress]
    by_name = {body[9:].split(" (")[0]: body for body in bodies}  # after the padded status
    assert list(by_name)[3] == "s.gated"  # the others were printed while it still ran
    assert by_name["s.fast"].startswith("ok       s.fast (table, 2 rows, ")
    assert by_name["s.broken"].startswith("error    s.broken (table, ")
    assert by_name["s.after_broken"] == "not run  s.after_broken (s.broken failed)"
    assert by_name["s.gated"].startswith("ok       s.gated (table, 2 rows, ")
    assert "1 failed, 1 not run" in late


def test_version_is_the_packages_version(tmp_path: Path) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    shown = sqlops("--version", cwd=tmp_path)
    assert (shown.returncode, shown.stdout, shown.stderr) == (0, f"sqlops {version}\n", "")


def test_python_dash_m_runs_the_same_command(tmp_path: Path) -> None:
    module = subprocess.run(
        [sys.executable, "-m", "sqlops", "init", "p"], cwd=tmp_path, capture_output=True, text=True
    )
    assert module.returncode == 0, module.stderr
    script = sqlops("init", "q", cwd=tmp_path)
    assert module.stdout.replace(" p/", " q/").replace(" p\\", " q\\") == script.stdout
    built = subprocess.run(
        [sys.executable, "-m", "sqlops", "build"],
        cwd=tmp_path / "p",
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0 and "2 built" in built.stdout, built.stderr


def test_init_claims_no_check_that_nothing_runs(tmp_path: Path) -> None:
    """No contract stub until contracts are enforced: a scaffold must not promise checks."""
    assert sqlops("init", "p", cwd=tmp_path).returncode == 0
    files = [p for p in (tmp_path / "p").rglob("*") if p.is_file()]
    assert files
    for path in files:
        text = path.read_text().lower()
        assert "contract" not in text and "enforce" not in text, path
