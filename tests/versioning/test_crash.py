"""kill -9 a committing process at random points: every ref still names a complete commit."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from sqlops.versioning.local import LocalStore

WRITER = """
import sys, time
from pathlib import Path
import polars as pl
from sqlops.versioning.local import LocalStore
from sqlops.versioning.store import TableVersion
store = LocalStore(Path(sys.argv[1]))
i = int(sys.argv[2])
print("ready", flush=True)
while True:
    i += 1
    path = Path(sys.argv[1]) / f"new-{i}.parquet"
    pl.DataFrame({"i": list(range(i % 50 + 1))}).write_parquet(path)
    part = store.put_part(path)
    store.commit("main", {f"s.t{i % 3}": TableVersion((part,), (("i", "BIGINT"),), i % 50 + 1)},
                 f"commit {i}", {})
"""


@pytest.mark.slow
def test_kill_9_while_committing_never_breaks_a_ref(tmp_path: Path) -> None:
    root = tmp_path / "versions"
    LocalStore(root).init()
    rng = random.Random(7)
    seen: set[str] = set()
    for round_ in range(50):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(root), str(round_ * 1000)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(rng.uniform(0.0, 0.15))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        store = LocalStore(root)
        assert store.fsck() == [], f"round {round_}"
        head = store.get_commit(store.resolve("main"))
        for table, version in head.tree.items():
            frame = pl.concat([pl.read_parquet(store.part_path(p)) for p in version.parts])
            assert frame.height == version.rows, table
        history = {c.id for c in store.log("main")}
        assert seen <= history  # nothing committed before a kill is ever lost
        seen = history
    assert len(seen) > 50
