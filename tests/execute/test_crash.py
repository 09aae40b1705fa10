"""A build killed mid-write leaves the old table and a consistent state behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlops import Project

from conftest import ProjectFactory

SLOW = "-- materialized: table\nselect range as i, range * 2 as j from range({n})"


def test_kill_9_during_a_table_write_keeps_the_previous_table(make_project: ProjectFactory) -> None:
    root = make_project(
        {
            "sql/s/big.sql": SLOW.format(n=1000),
            "sql/s/after.sql": "-- materialized: table\nselect count(*) as n from s.big",
        }
    )
    project = Project(root)
    assert project.build().ok
    (root / "sql/s/big.sql").write_text(SLOW.format(n=300_000_000))
    exe = Path(sys.executable).parent / "sqlops"
    proc = subprocess.Popen(
        [str(exe), "build"], cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(2.0)
    assert proc.poll() is None, "the build finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reopened = Project(root)
    assert reopened.table("s.big").height == 1000
    assert reopened.table("s.after")["n"].to_list() == [1000]
    plan = {n.name: n.action for n in reopened.plan().models}
    assert plan == {"s.big": "run", "s.after": "run"}
    (root / "sql/s/big.sql").write_text(SLOW.format(n=2000))
    assert reopened.build().ok
    assert reopened.table("s.after")["n"].to_list() == [2000]
