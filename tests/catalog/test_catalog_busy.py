"""A catalog held by another process (a build recording its run) makes readers wait, as
SQLite's busy timeout does, instead of failing; past the wait, one line says who holds it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

import sqlops
import sqlops.catalog.store as catalog_store
from sqlops.errors import LockedError

from conftest import ProjectFactory

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE IF NOT EXISTS held(x INT)")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


@pytest.fixture
def built(make_project: ProjectFactory) -> sqlops.Project:
    root = make_project({"sql/marts/one.sql": "-- materialized: table\nselect 1 as x\n"})
    project = sqlops.Project(root)
    project.build().raise_on_error()
    project.features.save_model(name="m", model={"weights": [1, 2]})
    return project


def hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process with the catalog open for writing, for ``seconds``."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_reader_waits_for_the_writer(built: sqlops.Project) -> None:
    proc = hold(built.config.catalog_path, 1.0)
    started = time.monotonic()
    try:
        models = built.features.list_models()
    finally:
        proc.communicate()
    assert [(m.name, m.version) for m in models] == [("m", 1)]
    assert time.monotonic() - started > 0.5  # it did wait for the other process


def test_past_the_wait_one_line_names_the_holder(
    built: sqlops.Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_store, "WAIT_SECONDS", 0.3)
    proc = hold(built.config.catalog_path, 3.0)
    try:
        with pytest.raises(LockedError, match=rf"in use by another process \(pid {proc.pid}\)"):
            built.features.list_models()
    finally:
        proc.kill()
        proc.communicate()
