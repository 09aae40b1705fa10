"""A process that commits to a version store in a loop, for the crash and two-writer tests.

``python writer.py BACKEND ROOT BRANCH START COUNT`` prints ``ready``, then one JSON line per
commit: ``{"i": n, "id": commit}`` or ``{"i": n, "refused": message}``. COUNT < 0 loops until
killed. The lakeFS backend is configured from the environment, as a user would configure it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl

from sqlops.errors import VersioningError
from sqlops.versioning.local import LocalStore
from sqlops.versioning.store import TableVersion, VersionStore


def open_store(backend: str, root: Path) -> VersionStore:
    if backend == "local":
        local = LocalStore(root / "versions")
        local.init()
        return local
    from sqlops.config import load_config
    from sqlops.execute.objects import ObjectStore
    from sqlops.versioning.lakefs import LakeFSStore

    remote = LakeFSStore(load_config(root).lakefs, ObjectStore(root / "objects", root), root / "c")
    remote.init()
    return remote


def frame(i: int) -> pl.DataFrame:
    """The rows commit ``i`` writes: distinct per commit, so every commit changes its table."""
    return pl.DataFrame({"i": list(range(i % 50 + 1)), "commit": [i] * (i % 50 + 1)})


def main(backend: str, root: Path, branch: str, start: int, count: int) -> None:
    store = open_store(backend, root)
    print("ready", flush=True)
    i = start
    while count < 0 or i < start + count:
        path = root / f"new-{branch}-{i}.parquet"
        data = frame(i)
        data.write_parquet(path)
        version = TableVersion((store.put_part(path),), (("i", "BIGINT"),), data.height)
        try:
            made = store.commit(branch, {f"s.t{i % 3}": version}, f"commit {i}", {})
            print(json.dumps({"i": i, "id": made.id}), flush=True)
        except VersioningError as exc:
            print(json.dumps({"i": i, "refused": str(exc)}), flush=True)
        i += 1


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
