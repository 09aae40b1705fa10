"""Opening a lakeFS repository that does not exist yet creates it, also when several processes
do so at the same moment (lakeFS refuses all creations but one: "storage namespace already
in use"); a namespace that really belongs to another repository is still refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sqlops.errors import VersioningError

from .writer import open_store

OPENER = """
import sys, time
from pathlib import Path
from sqlops.config import load_config
from sqlops.storage.objects import ObjectStore
from sqlops.versioning.lakefs import LakeFSStore

root = Path(sys.argv[1])
store = LakeFSStore(load_config(root).lakefs, ObjectStore(root / "objects", root), root / "c")
print("ready", flush=True)
while not Path(sys.argv[2]).exists():
    time.sleep(0.001)
store.init()
print(store.resolve("main"), flush=True)
"""
PROCESSES = 4


def test_processes_creating_one_repository_at_once_all_open_it(
    lakefs_env: str, tmp_path: Path
) -> None:
    start = tmp_path / "start"
    for n in range(PROCESSES):
        (tmp_path / f"p{n}").mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, str(tmp_path / f"p{n}"), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(PROCESSES)
    ]
    for proc in procs:  # every one imported the SDK and waits: they open at the same moment
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    start.touch()
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.strip().splitlines()[-1:]
    heads = {out.strip() for out, _ in outputs}
    assert len(heads) == 1  # one repository, one main branch, whoever created it


def test_a_namespace_of_another_repository_is_still_refused(
    lakefs_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlops.versioning.lakefs

    for name in ("first", "second"):
        (tmp_path / name).mkdir()
    open_store("lakefs", tmp_path / "first")
    monkeypatch.setenv("SQLOPS_LAKEFS_REPOSITORY", f"{lakefs_env}-other")
    monkeypatch.setattr(sqlops.versioning.lakefs, "_CREATION_WAIT", 0.5)
    with pytest.raises(VersioningError, match="storage namespace already in use"):
        open_store("lakefs", tmp_path / "second")
    assert os.environ["SQLOPS_LAKEFS_STORAGE_NAMESPACE"] == f"local://{lakefs_env}"
