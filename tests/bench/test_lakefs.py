"""lakeFS backend benchmark: per-operation latency on a local lakeFS server, and the write and
read throughput of a ~1 GiB table through the chosen read path (a local cache keyed by the
part's content hash) against plain local Parquet.

Side by side in one run, on a real lakeFS server (local KV, local blockstore) built from its Go
module. Only correctness is asserted; timings are printed, never checked.

    uv run pytest -m bench -s tests/bench/test_lakefs.py
    SQLOPS_BENCH_GIB=0.1 uv run pytest -m bench -s tests/bench/test_lakefs.py   # smoke
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from sqlops.config import LakeFSConfig
from sqlops.storage.objects import ObjectStore, file_hash
from sqlops.versioning.lakefs import LakeFSStore
from sqlops.versioning.store import TableVersion

from lakefs_server import LakeFSServer

pytestmark = pytest.mark.bench

GIB = float(os.environ.get("SQLOPS_BENCH_GIB", "1"))
ROWS_PER_GIB = 22_000_000  # ~1 GiB of Parquet with the columns below


def _store(server: LakeFSServer, root: Path, name: str = "", cache: str = "cache") -> LakeFSStore:
    name = name or f"bench-{uuid.uuid4().hex[:8]}"
    settings = LakeFSConfig(
        endpoint=server.endpoint,
        repository=name,
        access_key_id=server.access_key_id,
        secret_access_key=server.secret_access_key,
        storage_namespace=f"local://{name}",
    )
    store = LakeFSStore(settings, ObjectStore(root / "objects", root), root / cache)
    store.init()
    return store


def _times(fn: Callable[[int], object], reps: int) -> list[float]:
    out = []
    for i in range(reps):
        start = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - start)
    return out


def _row(label: str, times: list[float]) -> str:
    ms = [t * 1000 for t in times]
    return f"  {label:<34} median {statistics.median(ms):7.1f} ms   min {min(ms):7.1f} ms"


def _part(root: Path, store: LakeFSStore, rows: int, seed: int) -> TableVersion:
    path = root / f"gen-{seed}.parquet"
    duckdb.sql(
        f"COPY (SELECT i AS id, hash(i + {seed}) % 1000000 AS k, (i * 7 + {seed}) % 997 AS v, "
        f"md5((i + {seed})::VARCHAR) AS s "
        f"FROM range({rows}) t(i)) TO '{path}' (FORMAT parquet)"
    )
    return TableVersion((store.put_part(path),), (("id", "BIGINT"),), rows)


def test_per_operation_latency(lakefs_server: LakeFSServer, tmp_path: Path) -> None:
    store = _store(lakefs_server, tmp_path)
    small = [_part(tmp_path, store, 1000, s) for s in range(40)]
    reps = 20
    commit = _times(lambda i: store.commit("main", {"s.t": small[i]}, f"c{i}", {}), reps)
    branch = _times(lambda i: store.create_branch(f"b{i}", "main"), reps)
    for i in range(reps):
        store.commit(f"b{i}", {f"s.u{i}": small[20 + i]}, "on branch", {})
    merge = _times(lambda i: store.merge(f"b{i}", "main"), reps)
    resolve = _times(lambda i: store.resolve("main~1"), reps)
    log = _times(lambda i: store.log("main", limit=10), reps)
    assert len(store.get_commit(store.resolve("main")).tree) == 1 + reps
    print(f"\nlakeFS per-operation latency (local server, {reps} reps each)")
    for label, times in (
        ("create branch", branch),
        ("commit 1 small table (tx + merge)", commit),
        ("merge a branch (conflict check)", merge),
        ("resolve main~1", resolve),
        ("log 10 commits", log),
    ):
        print(_row(label, times))


def test_one_gib_write_and_read_throughput(lakefs_server: LakeFSServer, tmp_path: Path) -> None:
    store = _store(lakefs_server, tmp_path)
    version = _part(tmp_path, store, int(ROWS_PER_GIB * GIB), 0)
    part = version.parts[0]
    local = store.objects.path(part)
    size = local.stat().st_size
    query = "SELECT count(*), sum(v), count(DISTINCT k) FROM read_parquet('{}')"

    start = time.perf_counter()
    want = duckdb.sql(query.format(local)).fetchall()
    local_read = time.perf_counter() - start

    start = time.perf_counter()
    file_hash(local)
    hash_time = time.perf_counter() - start

    start = time.perf_counter()
    store.commit("main", {"s.big": version}, "1 GiB table", {})
    upload = time.perf_counter() - start

    local.unlink()  # cold cache: the next read downloads the part from lakeFS
    fresh = _store(lakefs_server, tmp_path, store.name, cache="cache2")
    start = time.perf_counter()
    fresh.get_commit(fresh.resolve("main"))
    cached = fresh.part_path(part)
    download = time.perf_counter() - start
    start = time.perf_counter()
    got = duckdb.sql(query.format(cached)).fetchall()
    cached_read = time.perf_counter() - start
    assert got == want

    start = time.perf_counter()
    warm = fresh.part_path(part)
    warm_lookup = time.perf_counter() - start
    assert warm == cached

    mib = size / 2**20
    print(f"\n1 table of {mib:.0f} MiB Parquet ({int(ROWS_PER_GIB * GIB):,} rows)")
    print(f"  commit to lakeFS (upload + tx + merge)  {upload:6.2f} s  {mib / upload:7.0f} MiB/s")
    print(f"  blake3 of the file (floor share)        {hash_time:6.2f} s")
    print(
        f"  first read: download + verify hash      {download:6.2f} s  {mib / download:7.0f} MiB/s"
    )
    print(f"  query over the cached part              {cached_read:6.2f} s")
    print(f"  query over plain local Parquet          {local_read:6.2f} s")
    print(
        f"  cold read vs local Parquet: {(download + cached_read) / local_read:.2f}x; "
        f"warm read: {cached_read / local_read:.2f}x (cache lookup {warm_lookup * 1e6:.0f} us)"
    )


def test_read_path_alternative_lakefs_spec(lakefs_server: LakeFSServer, tmp_path: Path) -> None:
    """The alternative read path: lakefs-spec (fsspec) registered into DuckDB, reading the part
    straight from lakeFS with range requests. Not a dependency; run with
    ``uv run --with lakefs-spec pytest -m bench -s tests/bench/test_lakefs.py``."""
    spec = pytest.importorskip("lakefs_spec")
    store = _store(lakefs_server, tmp_path)
    version = _part(tmp_path, store, int(ROWS_PER_GIB * GIB), 1)
    part = version.parts[0]
    store.commit("main", {"s.big": version}, "1 GiB table", {})
    local = store.objects.path(part)
    query = "SELECT count(*), sum(v), count(DISTINCT k) FROM read_parquet('{}')"
    start = time.perf_counter()
    want = duckdb.sql(query.format(local)).fetchall()
    local_read = time.perf_counter() - start
    con = duckdb.connect()
    con.register_filesystem(
        spec.LakeFSFileSystem(
            host=lakefs_server.endpoint,
            username=lakefs_server.access_key_id,
            password=lakefs_server.secret_access_key,
        )
    )
    url = f"lakefs://{store.name}/main/tables/s/big/{part}.parquet"
    start = time.perf_counter()
    got = con.sql(query.format(url)).fetchall()
    remote = time.perf_counter() - start
    assert got == want
    print(
        f"\nlakefs-spec in DuckDB: {remote:.2f} s vs plain local Parquet {local_read:.2f} s "
        f"({remote / local_read:.2f}x, every read; the cache pays a download once)"
    )
