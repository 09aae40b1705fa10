"""The test command itself: benchmarks stay out whatever -m is given, unless asked for; without
a lakeFS server (and no Go to build one) the lakeFS tests are skipped with the fix as the
reason, and in CI that is an error. Run against a small copy of the suite's setup."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH_TEST = """
import pytest

pytestmark = pytest.mark.bench


def test_benchmark() -> None:
    pass
"""
PLAIN_TEST = """
import pytest


def test_plain() -> None:
    pass


@pytest.mark.slow
def test_slow() -> None:
    pass


def test_needs_lakefs(lakefs_server) -> None:
    pass
"""


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    """The repo's pytest config, conftest and lakeFS helper over two tiny test files."""
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]
    ini = options["ini_options"]
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\n"
        "testpaths = tests\n"
        f"addopts = {ini['addopts']}\n"
        "filterwarnings =\n"
        + "".join(f"    {w}\n" for w in ini["filterwarnings"])
        + "markers =\n"
        + "".join(f"    {m}\n" for m in ini["markers"])
    )
    (tmp_path / "tests/bench").mkdir(parents=True)
    (tmp_path / ".ci/lakefs").mkdir(parents=True)
    for name in ("tests/conftest.py", "tests/lakefs_server.py", ".ci/lakefs/go.mod"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "tests/bench/test_speed.py").write_text(BENCH_TEST)
    (tmp_path / "tests/test_things.py").write_text(PLAIN_TEST)
    return tmp_path


def _pytest(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("CI", "SQLOPS_LAKEFS_BINARY")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=120,
    )


def _collected(root: Path, *args: str) -> set[str]:
    done = _pytest(root, "--collect-only", *args)
    assert done.returncode in (0, 5), done.stdout + done.stderr  # 5: nothing collected
    return {line.split("::")[1] for line in done.stdout.splitlines() if "::" in line}


def test_benchmarks_are_left_out_whatever_marker_expression_is_given(suite: Path) -> None:
    assert _collected(suite) == {"test_plain", "test_slow", "test_needs_lakefs"}
    assert _collected(suite, "-m", "not slow") == {"test_plain", "test_needs_lakefs"}
    assert _collected(suite, "-k", "benchmark") == set()


def test_benchmarks_run_when_asked_by_path_or_marker(suite: Path) -> None:
    assert _collected(suite, "tests/bench") == {"test_benchmark"}
    assert _collected(suite, "tests/bench/test_speed.py::test_benchmark") == {"test_benchmark"}
    assert _collected(suite, "-m", "bench") == {"test_benchmark"}


def _no_lakefs(tmp_path: Path) -> dict[str, str]:
    """A PATH without Go and an empty binary cache."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "git"):
        if found := shutil.which(tool):
            (bin_dir / tool).symlink_to(found)
    return {"PATH": str(bin_dir), "SQLOPS_LAKEFS_BIN_DIR": str(tmp_path / "empty")}


def test_without_go_lakefs_tests_are_skipped_with_the_fix(suite: Path, tmp_path: Path) -> None:
    done = _pytest(suite, "-rs", "-k", "lakefs or plain", **_no_lakefs(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 1 skipped" in done.stdout
    skipped = next(line for line in done.stdout.splitlines() if line.startswith("SKIPPED"))
    assert "install Go (https://go.dev/dl/)" in skipped and "SQLOPS_LAKEFS_BINARY" in skipped


def test_in_ci_a_missing_lakefs_is_an_error(suite: Path, tmp_path: Path) -> None:
    done = _pytest(suite, "-k", "lakefs or plain", CI="true", **_no_lakefs(tmp_path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 passed" in done.stdout and "1 error" in done.stdout
    assert "CI runs the lakeFS tests: no lakeFS server to test against" in done.stdout


FAKE_BUILD = """#!/usr/bin/env bash
echo "build-lakefs: building lakeFS v0 -> $SQLOPS_LAKEFS_BIN_DIR/lakefs" >&2
mkdir -p "$SQLOPS_LAKEFS_BIN_DIR"
printf '#!/bin/sh\\n' > "$SQLOPS_LAKEFS_BIN_DIR/lakefs"
chmod +x "$SQLOPS_LAKEFS_BIN_DIR/lakefs"
echo "build-lakefs: built in 0s" >&2
echo "$SQLOPS_LAKEFS_BIN_DIR/lakefs"
"""
FINDS_BINARY = """
import pytest

from conftest import _lakefs_binary


@pytest.fixture(scope="session")
def binary(request) -> str:
    return _lakefs_binary(request.config)  # as the lakefs_server fixture builds it


def test_binary(binary) -> None:
    assert binary.endswith("lakefs")
"""


def test_a_lakefs_build_is_shown_on_the_terminal(suite: Path, tmp_path: Path) -> None:
    """Output capture stays on (the test passes, so nothing captured is shown), yet every
    line of the build reaches the terminal as it happens; under the suite's own warning
    filters, so a pipe the build leaves open (a ResourceWarning, issue 17) errors the test,
    as it did on a new user's first run."""
    env = _no_lakefs(tmp_path)
    (Path(env["PATH"]) / "go").symlink_to(shutil.which("true") or "/bin/true")
    env["PATH"] += os.pathsep + os.environ["PATH"]  # the fake go first
    (suite / ".ci/build-lakefs.sh").write_text(FAKE_BUILD)
    (suite / "tests/test_build.py").write_text(FINDS_BINARY)
    done = _pytest(suite, "tests/test_build.py", **env)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("lakeFS: building the test server") for line in lines)
    assert "lakeFS: build-lakefs: built in 0s" in lines
