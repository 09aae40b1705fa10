"""kill -9 a committing process at random points: every ref still names a complete commit,
and nothing committed before the kill is lost (on both backends)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from .writer import open_store

WRITER = Path(__file__).with_name("writer.py")


@pytest.mark.slow
def test_kill_9_while_committing_never_breaks_a_ref(backend: str, tmp_path: Path) -> None:
    open_store(backend, tmp_path)
    rng = random.Random(7)
    # a lakeFS commit is five API calls (~0.15 s here), so give it time to land some
    window, expected = (0.15, 50) if backend == "local" else (0.5, 25)
    seen: set[str] = set()
    server = subprocess.Popen(
        [sys.executable, str(WRITER), "--fork-server", backend, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    assert server.stdout.readline().strip() == "ready"
    for round_ in range(50):
        server.stdin.write(f"{round_ * 1000}\n")
        server.stdin.flush()
        lines = sorted(server.stdout.readline().split() for _ in range(2))  # pid N, ready
        assert lines[0][0] == "pid" and lines[1] == ["ready"], lines
        pid = int(lines[0][1])
        time.sleep(rng.uniform(0.0, window))
        os.kill(pid, signal.SIGKILL)
        store = open_store(backend, tmp_path)
        assert store.fsck() == [], f"round {round_}"
        assert set(store.branches()) == {"main"}  # a half-done transaction never shows
        head = store.get_commit(store.resolve("main"))
        for table, version in head.tree.items():
            frame = pl.concat([pl.read_parquet(store.part_path(p)) for p in version.parts])
            assert frame.height == version.rows, table
        history = {c.id for c in store.log("main")}
        assert seen <= history  # nothing committed before a kill is ever lost
        seen = history
    server.stdin.close()
    server.wait(timeout=30)
    server.stdout.close()
    assert len(seen) > expected
    # what the kills left half-written goes with gc (no writer is alive now: no grace)
    store = open_store(backend, tmp_path)
    temp = [*tmp_path.glob("**/.tmp-*"), *tmp_path.glob("**/objects/tmp/*")]
    store.gc(grace=0)
    assert [p for p in temp if p.exists()] == []
    if backend == "lakefs":  # and the transaction branches killed commits left in lakeFS
        from sqlops.versioning.lakefs import TX_PREFIX, LakeFSStore

        assert isinstance(store, LakeFSStore)
        assert list(store.repo.branches(prefix=TX_PREFIX)) == []
    assert store.fsck() == [] and {c.id for c in store.log("main")} >= seen
