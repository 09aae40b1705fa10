"""One build at a time, across processes: refused with the holder's pid, or queued with
``--wait``; a killed holder never leaves the project locked."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sqlops.api import Project
from sqlops.errors import LockedError

HOLD = """
import sys
from pathlib import Path
from sqlops.storage.lock import build_lock

with build_lock(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.readline()
"""


def _hold(state: Path) -> subprocess.Popen[str]:
    """Another process holding the build lock until its stdin closes."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(state)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


def _release(proc: subprocess.Popen[str]) -> None:
    proc.communicate(timeout=10)  # closes its stdin: it leaves the ``with`` and exits


def test_a_build_is_refused_with_the_holders_pid(orders_project: Path) -> None:
    project = Project(orders_project)
    holder = _hold(project.config.state_path)
    try:
        with pytest.raises(LockedError, match=rf"another build is running .*\(pid {holder.pid},"):
            project.build()
        cli = subprocess.run(
            [str(Path(sys.executable).parent / "sqlops"), "build"],
            cwd=orders_project,
            capture_output=True,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("SQLOPS_")},
        )
        assert cli.returncode == 1
        assert cli.stderr.startswith(
            f"Error: another build is running on this project (pid {holder.pid},"
        )
        assert not (orders_project / ".sqlops/warehouse.duckdb").exists()  # nothing was built
    finally:
        _release(holder)
    assert project.build().ok


def test_a_build_waits_for_the_holder_when_asked(orders_project: Path) -> None:
    project = Project(orders_project)
    holder = _hold(project.config.state_path)
    with pytest.raises(LockedError):
        project.build(wait=0.2)  # still held after 0.2 s
    threading.Timer(0.5, _release, [holder]).start()
    started = time.monotonic()
    assert project.build(wait=10).ok
    assert time.monotonic() - started >= 0.4  # it queued behind the holder
    assert holder.returncode == 0


def test_a_killed_holder_leaves_the_project_unlocked(orders_project: Path) -> None:
    project = Project(orders_project)
    holder = _hold(project.config.state_path)
    holder.kill()
    holder.communicate(timeout=10)
    assert project.build().ok


def test_commands_that_take_no_lock_do_not_import_filelock(orders_project: Path) -> None:
    """filelock costs ~25 ms of imports: ``plan`` and ``query`` (no lock) do not pay it."""
    script = """
import sys
import sqlops
project = sqlops.Project(sys.argv[1])
project.plan()
project.sql("select 1")
print("filelock" in sys.modules)
"""
    assert Project(orders_project).build().ok
    out = subprocess.run(
        [sys.executable, "-c", script, str(orders_project)],
        capture_output=True,
        text=True,
    )
    assert out.stdout.split() == ["False"], out.stderr
