"""``versions gc`` removes what killed writes leave: the exact temporary files of each step
of a commit (written here by hand, aged past the grace period), never a younger one that a
running write may still rename into place, and never anything a ref needs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from sqlops import Project

pytestmark = pytest.mark.usefixtures("backend")


def _leftovers(root: Path, backend: str) -> list[Path]:
    """One temporary file per write a commit makes, where a kill -9 would leave it."""
    state = root / ".sqlops"
    spots = [
        state / "versions/objects/tmp/0123456789abcdef0123456789abcdef.parquet",  # a part
        state / ".tmp-k3j2h1g0",  # BASE (or HEAD) being replaced
        state / "cache/committed.4242.tmp",  # the empty-commit note
    ]
    if backend == "local":
        spots += [
            state / "versions/commits/.tmp-a1b2c3d4",  # the commit file
            state / "versions/refs/heads/.tmp-e5f6g7h8",  # the branch ref
        ]
    else:
        repo = next((state / "cache/lakefs").iterdir())
        spots.append(repo / "commits/.tmp-a1b2c3d4")  # a cached commit
    return spots


def test_gc_removes_the_temp_files_a_killed_commit_leaves(
    orders_project: Path, backend: str
) -> None:
    project = Project(orders_project)
    project.build()
    project.commit("one")
    committed = project.table("marts.top", ref="main")
    old = time.time() - 3600
    leftovers = _leftovers(orders_project, backend)
    for path in leftovers:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half written")
        os.utime(path, (old, old))
    young = orders_project / ".sqlops/versions/objects/tmp/fedcba9876543210.parquet"
    young.write_bytes(b"still being written")
    branches = project.branches()
    removed, _ = project.gc()
    assert removed >= len(leftovers)
    assert [p for p in leftovers if p.exists()] == []
    assert young.exists()  # inside the grace period: may belong to a live write
    assert project.branches() == branches and project.fsck() == []
    assert_frame_equal(project.table("marts.top", ref="main"), committed)
    assert project.branch == "main" and project.status().uncommitted == ()
