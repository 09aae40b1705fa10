"""Two writers at once, as two processes: on different branches both succeed; on one branch
each commit either lands or is refused with a clear error, and nothing that landed is lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from .writer import frame, open_store

WRITER = Path(__file__).with_name("writer.py")
COMMITS = 12


def _run_two(backend: str, root: Path, branches: tuple[str, str]) -> list[list[dict[str, str]]]:
    procs = [
        subprocess.Popen(
            [sys.executable, str(WRITER), backend, str(root), branch, str(n * 1000), str(COMMITS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, branch in enumerate(branches)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    return [[json.loads(line) for line in out.splitlines()[1:]] for out, _ in outputs]


def _read(backend: str, root: Path, ref: str, table: str) -> pl.DataFrame:
    store = open_store(backend, root)
    version = store.get_commit(store.resolve(ref)).tree[table]
    return pl.concat([pl.read_parquet(store.part_path(p)) for p in version.parts])


def test_writers_on_different_branches_both_succeed(backend: str, tmp_path: Path) -> None:
    store = open_store(backend, tmp_path)
    store.create_branch("a", "main")
    store.create_branch("b", "main")
    results = _run_two(backend, tmp_path, ("a", "b"))
    for branch, lines in zip("ab", results, strict=True):
        assert all("id" in line for line in lines), lines
        log = open_store(backend, tmp_path).log(branch)
        assert [c.id for c in log[:COMMITS]] == [line["id"] for line in reversed(lines)]
    last_b = COMMITS - 1 + 1000
    assert_frame_equal(_read(backend, tmp_path, "b", f"s.t{last_b % 3}"), frame(last_b))


def test_writers_on_one_branch_are_serialized_or_refused(backend: str, tmp_path: Path) -> None:
    results = _run_two(backend, tmp_path, ("main", "main"))
    landed = {line["id"] for lines in results for line in lines if "id" in line}
    refused = [line["refused"] for lines in results for line in lines if "refused" in line]
    assert len(landed) + len(refused) == 2 * COMMITS
    assert all("another writer changed the same tables on main" in r for r in refused)
    if backend == "local":
        assert not refused  # the branch lock serializes them
    store = open_store(backend, tmp_path)
    assert landed <= {c.id for c in store.log("main")}  # nothing that landed is lost
    assert store.fsck() == []
    head = store.get_commit(store.resolve("main"))
    for table, version in head.tree.items():
        frame_ = pl.concat([pl.read_parquet(store.part_path(p)) for p in version.parts])
        assert frame_.height == version.rows, table
