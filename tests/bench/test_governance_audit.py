"""Audit log and drift monitor benchmark.

* audit append: latency of ``AuditLog.append`` (lock, tail read, one O_APPEND write, fsync)
  over 1,000 appends, p50/p99, interleaved with the floor of a bare ``os.write`` +
  ``os.fsync`` of a line of the same size on the same disk (fsync is the floor: the target
  says under 1 ms), and the append with fsync stubbed out (what sqlops itself adds);
* audit verify of 100,000 records (target under 1 s), beside ``json.loads`` of every line
  (what a verifier that parses each record would pay);
* drift monitor on a 10M-row table (2 numeric columns, 1 categorical): ``profile`` of the
  reference and ``drift`` of a shifted table, beside one DuckDB scan of the same columns
  (count/sum/min/max: the floor of reading them) and scipy's ``ks_2samp`` +
  ``wasserstein_distance`` on the raw rows of one column.

Report only, never timed assertions:

    uv run pytest -m bench -s -p no:cacheprovider tests/bench/test_governance_audit.py
    BENCH_GOVERNANCE_SCALE=0.01 uv run pytest -m bench -s tests/bench/test_governance_audit.py
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import pytest

from sqlops.execute.engine import Engine
from sqlops.governance.audit import GENESIS, AuditLog, verify
from sqlops.governance.monitor import drift, profile

from reporting import terminal_log

pytestmark = pytest.mark.bench


def _scale() -> float:
    return float(os.environ.get("BENCH_GOVERNANCE_SCALE", "1"))


def _load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def test_audit_append_and_verify(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = terminal_log(request)
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path)
    audit.append("build", who="ana", target="warm", outcome="ok")  # imports, file creation
    appends = max(int(1000 * _scale()), 50)
    took, floor = [], []
    line = b"x" * 214 + b"\n"  # a record's size
    fd = os.open(tmp_path / "floor", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for i in range(appends):  # interleaved, so both see the same disk
            start = time.perf_counter()
            audit.append(
                "build", who="ana", target="marts.orders", outcome="ok", details={"rows": i}
            )
            took.append(time.perf_counter() - start)
            start = time.perf_counter()
            os.write(fd, line)
            os.fsync(fd)
            floor.append(time.perf_counter() - start)
    finally:
        os.close(fd)
    own = []
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # what sqlops adds to the fsync
    for i in range(appends):
        start = time.perf_counter()
        audit.append("build", who="ana", target="marts.orders", outcome="ok", details={"i": i})
        own.append(time.perf_counter() - start)
    monkeypatch.undo()

    records = max(int(100_000 * _scale()), 1000)
    big = tmp_path / "big.jsonl"
    big.write_bytes(_chain(records))
    start = time.perf_counter()
    result = verify(big)
    verify_s = time.perf_counter() - start
    assert result.ok and result.count == records
    lines = big.read_bytes().splitlines()
    start = time.perf_counter()
    for raw in lines:
        json.loads(raw)
    parse_s = time.perf_counter() - start

    log("")
    log(f"audit log benchmark ({_load()})")
    log(
        f"  append x{appends}: p50 {_percentile(took, 0.5) * 1e3:.3f} ms, "
        f"p99 {_percentile(took, 0.99) * 1e3:.3f} ms, mean {statistics.mean(took) * 1e3:.3f} ms"
    )
    log(
        f"  floor, write+fsync of one {len(line)}-byte line: p50 "
        f"{_percentile(floor, 0.5) * 1e3:.3f} ms, p99 {_percentile(floor, 0.99) * 1e3:.3f} ms"
    )
    log(
        f"  append without its fsync (lock, tail, JSON, write): p50 "
        f"{_percentile(own, 0.5) * 1e3:.3f} ms, p99 {_percentile(own, 0.99) * 1e3:.3f} ms"
    )
    log(f"  verify {records:,} records ({big.stat().st_size / 2**20:.1f} MiB): {verify_s:.3f} s")
    log(f"  for scale, json.loads of every line: {parse_s:.3f} s")


def _chain(records: int) -> bytes:
    """A valid log of ``records`` lines, written directly (appending them with an fsync each
    would time the disk for minutes); the format is checked by ``verify`` above."""
    out, prev = [], GENESIS
    for seq in range(1, records + 1):
        record = {
            "action": "check",
            "details": {"failures": seq % 7, "table": "marts.orders"},
            "outcome": "passed",
            "prev": prev,
            "seq": seq,
            "target": "marts.orders",
            "time": "2026-12-08T00:00:00.000000Z",
            "who": "ci",
        }
        line = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
        prev = hashlib.sha256(line).hexdigest()
        out.append(line)
    return b"\n".join(out) + b"\n"


def test_drift_monitor(request: pytest.FixtureRequest) -> None:
    log = terminal_log(request)
    rows = max(int(10_000_000 * _scale()), 10_000)
    engine = Engine.open()
    engine.execute("SET enable_progress_bar = false")
    engine.execute("CREATE SCHEMA m")
    for name, shift in (("ref", 0.0), ("cur", 0.3)):
        engine.execute(
            f"CREATE TABLE m.{name} AS SELECT "
            f"10 + {shift} + 3 * sqrt(-2 * ln(random())) * cos(2 * pi() * random()) AS x, "
            f"(random() * 1000)::INTEGER AS n, "
            f"['a', 'b', 'c', 'd', 'e', 'f'][1 + (random() * 5.99 + {shift})::INTEGER] AS s "
            f"FROM range({rows})"
        )
    start = time.perf_counter()
    reference = profile(engine, "m.ref")
    profile_s = time.perf_counter() - start
    size = len(json.dumps(reference.to_dict()))
    start = time.perf_counter()
    results = drift(engine, "m.cur", reference)
    drift_s = time.perf_counter() - start
    start = time.perf_counter()
    engine.execute(
        "SELECT count(x), sum(x), min(x), max(x), count(n), sum(n), count(s), max(s) FROM m.cur"
    ).fetchall()
    scan_s = time.perf_counter() - start
    ref_x = engine.execute("SELECT x FROM m.ref").fetchnumpy()["x"]
    cur_x = engine.execute("SELECT x FROM m.cur").fetchnumpy()["x"]
    from scipy import stats

    start = time.perf_counter()
    true_ks = stats.ks_2samp(ref_x, cur_x).statistic
    true_w = stats.wasserstein_distance(ref_x, cur_x) / np.std(ref_x)
    scipy_s = time.perf_counter() - start
    engine.close()

    found = {(r.column, r.metric): r for r in results}
    log("")
    log(f"drift monitor benchmark, {rows:,} rows x 3 columns ({_load()})")
    log(f"  profile (reference, {size / 1024:.0f} KiB of JSON): {profile_s:.2f} s")
    log(f"  drift (one aggregate scan + metrics):              {drift_s:.2f} s")
    log(f"  floor, one DuckDB scan of the same columns:         {scan_s:.2f} s")
    log(f"  scipy ks_2samp + wasserstein on raw x:              {scipy_s:.2f} s")
    ks, w = found[("x", "ks")], found[("x", "wasserstein")]
    log(f"  x: KS {ks.statistic:.5f} (scipy {true_ks:.5f}), W {w.value:.5f} (scipy {true_w:.5f})")
    levels = {f"{c}.{m}": r.level for (c, m), r in found.items() if r.level != "ok"}
    log(f"  not ok: {levels}")
