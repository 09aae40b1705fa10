"""A process that commits to a version store in a loop, for the crash and two-writer tests.

``python writer.py BACKEND ROOT BRANCH START COUNT`` prints ``ready``, then one JSON line per
commit: ``{"i": n, "id": commit}`` or ``{"i": n, "refused": message}``. COUNT < 0 loops until
killed. The lakeFS backend is configured from the environment, as a user would configure it.

``python writer.py --fork-server BACKEND ROOT`` imports everything once (``import lakefs``
alone takes seconds), then for each START read from stdin forks a child that writes to
``main`` forever and prints ``pid N``: the crash test kill -9s children at that cost.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlops.errors import VersioningError
from sqlops.versioning.local import LocalStore
from sqlops.versioning.store import TableVersion, VersionStore

if TYPE_CHECKING:
    import polars as pl


def open_store(backend: str, root: Path) -> VersionStore:
    if backend == "local":
        local = LocalStore(root / "versions")
        local.init()
        return local
    from sqlops.config import load_config
    from sqlops.storage.objects import ObjectStore
    from sqlops.versioning.lakefs import LakeFSStore

    remote = LakeFSStore(load_config(root).lakefs, ObjectStore(root / "objects", root), root / "c")
    remote.init()
    return remote


def frame(i: int) -> pl.DataFrame:
    """The rows commit ``i`` writes: distinct per commit, so every commit changes its table."""
    import polars as pl  # after a fork: Polars's thread pool must not cross one

    return pl.DataFrame({"i": list(range(i % 50 + 1)), "commit": [i] * (i % 50 + 1)})


def main(
    backend: str, root: Path, branch: str, start: int, count: int, quiet: bool = False
) -> None:
    store = open_store(backend, root)
    frame(0)  # imports Polars (after the fork) before saying ready
    os.write(1, b"ready\n")  # one write: a forked child shares the pipe with its parent
    if quiet:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (the process is killed, never exits)
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


def fork_server(backend: str, root: Path) -> None:
    if backend == "lakefs":
        import sqlops.versioning.lakefs  # noqa: F401  (the slow import, paid once)
    print("ready", flush=True)
    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            sys.stdin.close()
            main(backend, root, "main", int(line), -1, quiet=True)
            os._exit(0)
        os.write(1, f"pid {pid}\n".encode())
        os.waitpid(pid, 0)


if __name__ == "__main__":
    if sys.argv[1] == "--fork-server":
        fork_server(sys.argv[2], Path(sys.argv[3]))
    else:
        main(sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
