"""Feature-store benchmark: point-in-time training sets and the online store, side by side.

Training sets (Feast semantics: ttl window, created-timestamp tie-break, entity order kept),
each plan in its own subprocess so its peak memory (max RSS) is its own:

* sqlops ``get_historical_features`` (plan chosen by shape), and sqlops forced to each plan;
* hand-written floors: DuckDB ASOF LEFT JOIN (after de-duplicating by created timestamp),
  DuckDB range join + window, Polars ``join_asof``;
* at 10M feature rows x 1M entity rows (5 features), 10M x 100k, 1M x 1M, with ~10 rows per
  key over a year and a 30-day ttl ("shallow"), plus a "deep" shape (1,000 rows per key, no
  ttl) where the choice flips. Every plan's result is checked equal (an order-sensitive
  checksum) to sqlops'.

Online store: ``materialize`` of 1M entities (full, then incremental after 1% changed);
lookups of 1 entity (p50/p99 over 1,000 calls) and 100 entities per call, against a raw
sqlite3 primary-key lookup and a DuckDB table lookup on the same data.

Feature-view statistics: a project whose table model holds 5M rows (4 numeric features and a
category) built with and without a feature view over it; the statistics' share of the build
(computing them, plus keeping the sample they read while the model is staged), and the
feature views' share in all (views, catalog records, statistics).

Report only, never timed assertions:

    uv run pytest -m bench -s -p no:cacheprovider tests/bench/test_features.py
    BENCH_FEATURES_SCALE=0.01 uv run pytest -m bench -s tests/bench/test_features.py   # smoke
    uv run python tests/bench/test_features.py --scale 0.01
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pytest

from sqlops.execute import parts
from sqlops.execute.engine import Engine
from sqlops.features import Entity, FeatureRegistry, FeatureView
from sqlops.features.online import OnlineStore
from sqlops.features.pit import get_historical_features

from reporting import child_env, terminal_log

pytestmark = pytest.mark.bench

FEATURES = ["f1", "f2", "f3", "f4", "f5"]
YEAR = 365 * 86400
# (label, feature rows, entity rows, rows per key, ttl)
CASES = [
    ("10M x 1M", 10_000_000, 1_000_000, 10, "30d"),
    ("10M x 100k", 10_000_000, 100_000, 10, "30d"),
    ("1M x 1M", 1_000_000, 1_000_000, 10, "30d"),
    ("1M x 100k deep", 1_000_000, 100_000, 1000, None),
]
PLANS = [
    "sqlops",
    "sqlops-asof",
    "sqlops-range",
    "duckdb-asof",
    "duckdb-range",
    "duckdb-range-inner",
    "polars-asof",
]

FEATURE_SQL = """COPY (SELECT (hash(i) % {keys})::BIGINT AS k,
    TIMESTAMP '2024-01-01' + to_seconds((hash(i, 1) % {year})::BIGINT) AS et,
    et + to_seconds((hash(i, 2) % 3600)::BIGINT) AS ct,
    {cols}
FROM range({rows}) t(i)) TO '{path}' (FORMAT parquet)"""
ENTITY_SQL = """COPY (SELECT (hash(i, 9) % {keys})::BIGINT AS k,
    TIMESTAMP '2024-01-01' + to_seconds((hash(i, 10) % {year})::BIGINT) AS event_timestamp
FROM range({rows}) t(i)) TO '{path}' (FORMAT parquet)"""


def registry(ttl: str | None) -> FeatureRegistry:
    view = FeatureView("fv", "fv", ("e",), "et", tuple(FEATURES), created_timestamp="ct", ttl=ttl)
    return FeatureRegistry.of([Entity("e", ("k",))], [view])


def hand_duckdb(plan: str, ttl: str | None) -> str:
    days = int(ttl[:-1]) if ttl else None
    e = "SELECT row_number() OVER () AS rn, * FROM ent"
    if plan == "duckdb-asof":
        fresh = "true" if days is None else f"d.et >= e.event_timestamp - INTERVAL {days} DAY"
        cols = ", ".join(f"CASE WHEN {fresh} THEN d.{f} END AS {f}" for f in FEATURES)
        return f"""WITH e AS ({e}), d AS (SELECT * FROM fv QUALIFY row_number() OVER
            (PARTITION BY k, et ORDER BY ct DESC NULLS LAST) = 1)
            SELECT e.k, e.event_timestamp, {cols} FROM e ASOF LEFT JOIN d
            ON e.k = d.k AND e.event_timestamp >= d.et ORDER BY e.rn"""
    window = "" if days is None else f"AND f.et >= e.event_timestamp - INTERVAL {days} DAY"
    cols = ", ".join(f"f.{f}" for f in FEATURES)
    if plan == "duckdb-range-inner":  # match inside the window, then attach to every entity row
        return f"""WITH e AS ({e}), m AS (SELECT e.rn, {cols} FROM e JOIN fv f
            ON e.k = f.k AND f.et <= e.event_timestamp {window}
            QUALIFY row_number() OVER (PARTITION BY e.rn ORDER BY f.et DESC,
            f.ct DESC NULLS LAST) = 1)
            SELECT e.k, e.event_timestamp, {", ".join(f"m.{f}" for f in FEATURES)}
            FROM e LEFT JOIN m ON m.rn = e.rn ORDER BY e.rn"""
    return f"""WITH e AS ({e}) SELECT e.k, e.event_timestamp, {cols} FROM e LEFT JOIN fv f
        ON e.k = f.k AND f.et <= e.event_timestamp {window}
        QUALIFY row_number() OVER (PARTITION BY e.rn ORDER BY f.et DESC NULLS LAST,
        f.ct DESC NULLS LAST) = 1 ORDER BY e.rn"""


def hand_polars(ent: pl.DataFrame, fv: pl.DataFrame, ttl: str | None) -> pl.DataFrame:
    e = ent.with_row_index("rn").sort("event_timestamp")
    f = fv.sort(["k", "et", "ct"]).unique(["k", "et"], keep="last").sort("et")
    out = e.join_asof(
        f, left_on="event_timestamp", right_on="et", by="k", strategy="backward", tolerance=ttl
    )
    return out.sort("rn").select(["k", "event_timestamp", *FEATURES])


def checksum(frame: pl.DataFrame) -> str:
    """Order-sensitive: row hashes weighted by position (wrapping uint64 arithmetic)."""
    rows = frame.select(["k", "event_timestamp", *FEATURES]).hash_rows(seed=1).to_numpy()
    weights = np.arange(1, len(rows) + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return f"{len(rows)}:{int((rows.astype(np.uint64) * weights).sum(dtype=np.uint64))}"


def child(plan: str, workdir: Path, ttl: str | None) -> dict[str, Any]:
    """One plan in this (fresh) process: load, then time the join alone."""
    if plan == "polars-asof":
        ent = pl.read_parquet(workdir / "ent.parquet")
        fv = pl.read_parquet(workdir / "fv.parquet")
        loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        frame = hand_polars(ent, fv, ttl)
        seconds, chosen = time.perf_counter() - t0, ""
    else:
        con = duckdb.connect()
        for name in ("ent", "fv"):
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM '{workdir / name}.parquet'")
        loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        if plan.startswith("sqlops"):
            forced = plan.partition("-")[2] or "auto"
            result = get_historical_features(
                Engine(con, ":memory:"),
                "ent",
                registry(ttl).select(["fv:*"]),
                plan=forced,  # type: ignore[arg-type]
            )
            frame, chosen = (
                result.frame,
                ", ".join(f"{p.plan} ({p.rows_per_key:.1f} rows/key)" for p in result.plans),
            )
        else:
            frame, chosen = con.sql(hand_duckdb(plan, ttl)).pl(), ""
        seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": seconds,
        "peak_mib": peak / 1024,
        "loaded_mib": loaded / 1024,
        "checksum": checksum(frame),
        "chosen": chosen,
    }


def run_child(plan: str, workdir: Path, ttl: str | None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", plan, "--workdir", str(workdir)]
    if ttl:
        cmd += ["--ttl", ttl]
    out = subprocess.run(cmd, capture_output=True, text=True, env=child_env(), check=False)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def training_sets(scale: float, log: Callable[[str], None], root: Path) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for label, f_rows, e_rows, depth, ttl in CASES:
        f_n, e_n = max(int(f_rows * scale), 100), max(int(e_rows * scale), 10)
        keys = max(f_n // depth, 1)
        workdir = root / label.replace(" ", "_")
        workdir.mkdir(parents=True, exist_ok=True)
        cols = ", ".join(
            f"(hash(i, {3 + j}) % 1000000) / 1000.0 AS {f}" for j, f in enumerate(FEATURES)
        )
        con = duckdb.connect()
        con.execute(
            FEATURE_SQL.format(
                keys=keys, year=YEAR, cols=cols, rows=f_n, path=workdir / "fv.parquet"
            )
        )
        con.execute(ENTITY_SQL.format(keys=keys, year=YEAR, rows=e_n, path=workdir / "ent.parquet"))
        con.close()
        log(
            f"\ntraining set {label} (scaled: {f_n:,} feature rows x {e_n:,} entity rows, "
            f"{depth} rows/key, ttl {ttl or 'none'})"
        )
        log(
            f"  {'plan':<14}{'seconds':>9}{'vs best':>9}{'peak MiB':>10}{'+ over load':>12}  same  chosen"
        )
        results = {plan: run_child(plan, workdir, ttl) for plan in PLANS}
        best = min(r["seconds"] for r in results.values() if "seconds" in r)
        reference = results["sqlops"].get("checksum")
        for plan, r in results.items():
            if "error" in r:
                log(f"  {plan:<14} error: {r['error']}")
                continue
            same = "yes" if r["checksum"] == reference else "NO"
            log(
                f"  {plan:<14}{r['seconds']:>9.3f}{r['seconds'] / best:>8.2f}x{r['peak_mib']:>10.0f}"
                f"{r['peak_mib'] - r['loaded_mib']:>12.0f}  {same:<4}  {r['chosen']}"
            )
        report[label] = results
    return report


# (feature rows, entity rows, rows per key to try)
SWEEP = [
    (2_000_000, 200_000, [2, 4, 8, 16, 32, 64, 128]),
    (1_000_000, 1_000_000, [1, 2, 4, 8, 16, 32]),
]


def plan_sweep(scale: float, log: Callable[[str], None]) -> None:
    """The range and ASOF plans side by side as rows per key grow (no ttl), for two ratios of
    entity to feature rows: where the auto plan's cut-off belongs."""
    for f_rows, e_rows, depths in SWEEP:
        _sweep(max(int(f_rows * scale), 1000), max(int(e_rows * scale), 100), depths, log)


def _sweep(f_n: int, e_n: int, depths: list[int], log: Callable[[str], None]) -> None:
    cols = ", ".join(
        f"(hash(i, {3 + j}) % 1000000) / 1000.0 AS {f}" for j, f in enumerate(FEATURES)
    )
    log(f"\nplan cut-off sweep ({f_n:,} feature rows x {e_n:,} entity rows, no ttl; median of 3)")
    log(f"  {'rows/key':>9}{'range s':>9}{'asof s':>9}{'asof/range':>11}  auto")
    for depth in depths:
        keys = max(f_n // depth, 1)
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        con.execute(
            f"CREATE TABLE fv AS SELECT (hash(i) % {keys})::BIGINT AS k, "
            f"TIMESTAMP '2024-01-01' + to_seconds((hash(i, 1) % {YEAR})::BIGINT) AS et, "
            f"et + to_seconds((hash(i, 2) % 3600)::BIGINT) AS ct, {cols} FROM range({f_n}) t(i)"
        )
        con.execute(
            f"CREATE TABLE ent AS SELECT (hash(i, 9) % {keys})::BIGINT AS k, "
            f"TIMESTAMP '2024-01-01' + to_seconds((hash(i, 10) % {YEAR})::BIGINT) "
            f"AS event_timestamp FROM range({e_n}) t(i)"
        )
        engine = Engine(con, ":memory:")
        sel = registry(None).select(["fv:*"])
        times: dict[str, list[float]] = {"range": [], "asof": []}
        for _ in range(3):
            for plan in ("range", "asof"):
                t0 = time.perf_counter()
                get_historical_features(engine, "ent", sel, plan=plan)  # type: ignore[arg-type]
                times[plan].append(time.perf_counter() - t0)
        auto = get_historical_features(engine, "ent", sel).plans[0].plan
        con.close()
        r, a = statistics.median(times["range"]), statistics.median(times["asof"])
        log(f"  {depth:>9}{r:>9.3f}{a:>9.3f}{a / r:>10.2f}x  {auto}")


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p50 = statistics.median(ms)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"p50 {p50:.4f} ms  p99 {p99:.4f} ms"


def online(scale: float, log: Callable[[str], None], root: Path) -> dict[str, Any]:
    n = max(int(1_000_000 * scale), 1000)
    cols = ", ".join(f"(hash(i, {j}) % 1000000) / 1000.0 AS {f}" for j, f in enumerate(FEATURES))
    con = duckdb.connect()
    con.execute(
        f"CREATE TABLE fv AS SELECT i % {n} AS k, TIMESTAMP '2024-01-01' + to_seconds(i) AS et, "
        f"NULL::TIMESTAMP AS ct, {cols} FROM range({2 * n}) t(i)"
    )
    engine = Engine(con, ":memory:")
    store = OnlineStore(root / "online.db")
    sel = registry(None).select(["fv:*"])
    end = datetime(2025, 1, 1)
    t0 = time.perf_counter()
    (full,) = store.materialize(engine, sel, end)
    t_full = time.perf_counter() - t0
    con.execute("UPDATE fv SET f1 = f1 + 1 WHERE k % 100 = 0")
    t0 = time.perf_counter()
    (inc,) = store.materialize(engine, sel, end)
    t_inc = time.perf_counter() - t0
    log(f"\nonline store, {n:,} entities")
    log(f"  materialize (full)        {t_full:.3f} s  ({full.written:,} rows written)")
    log(f"  materialize (1% changed)  {t_inc:.3f} s  ({inc.written:,} rows written)")

    rng = random.Random(7)
    keys = [rng.randrange(n) for _ in range(1000)]
    refs = [f"fv:{f}" for f in FEATURES]
    store.get_online_features(refs, [{"k": 0}])  # plan cached, as in a serving loop

    def timed(fn: Callable[[Any], Any], args: list[Any]) -> list[float]:
        out = []
        for a in args:
            t = time.perf_counter()
            fn(a)
            out.append(time.perf_counter() - t)
        return out

    one = timed(lambda k: store.get_online_features(refs, [{"k": k}]), keys)
    batches = [[{"k": k} for k in keys[i : i + 100]] for i in range(0, 1000, 100)] * 10
    hundred = timed(lambda rows: store.get_online_features(refs, rows), batches)
    raw = sqlite3.connect(root / "online.db")
    select = f"SELECT {', '.join(FEATURES)} FROM fv__fv WHERE k = ?"
    raw_one = timed(lambda k: raw.execute(select, (k,)).fetchone(), keys)
    raw_hundred = timed(
        lambda rows: [raw.execute(select, (r["k"],)).fetchone() for r in rows], batches
    )
    con.execute(
        "CREATE TABLE online AS SELECT k, f1, f2, f3, f4, f5 FROM fv QUALIFY row_number() OVER (PARTITION BY k ORDER BY et DESC) = 1"
    )
    con.execute("ALTER TABLE online ADD PRIMARY KEY (k)")
    duck_one = timed(
        lambda k: con.execute(
            f"SELECT {', '.join(FEATURES)} FROM online WHERE k = ?", [k]
        ).fetchall(),
        keys,
    )
    log(f"  1 entity   sqlops     {percentiles(one)}")
    log(f"  1 entity   raw sqlite {percentiles(raw_one)}")
    log(f"  1 entity   duckdb     {percentiles(duck_one)}")
    log(f"  100/call   sqlops     {percentiles(hundred)}")
    log(f"  100/call   raw sqlite {percentiles(raw_hundred)}")
    ratio = statistics.median(one) / statistics.median(raw_one)
    log(f"  sqlops / raw sqlite (1 entity, p50): {ratio:.1f}x")
    store.close()
    return {"materialize_full": t_full, "materialize_incremental": t_inc, "ratio": ratio}


def statistics_share(scale: float, log: Callable[[str], None], tmp: Path) -> dict[str, float]:
    """Build a 5M-row table model without, then with, a feature view over it (full refresh
    both times, the catalog emptied first) and report the time the view's statistics took
    (recorded by the build)."""
    import sqlops
    from sqlops.catalog.features import FeatureCatalog

    rows = max(int(5_000_000 * scale), 1000)
    root = tmp / "stats_project"
    (root / "sql/marts").mkdir(parents=True)
    (root / "data").mkdir()
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT (hash(i) % {max(rows // 10, 1)})::BIGINT AS driver_id, "
        f"TIMESTAMP '2024-01-01' + to_seconds((hash(i, 1) % {YEAR})::BIGINT) AS ts, "
        + ", ".join(f"(hash(i, {j}) % 100000) / 1000.0 AS f{j}" for j in range(1, 5))
        + f", ['a', 'b', 'c', 'd'][1 + (hash(i, 9) % 4)::BIGINT] AS cat FROM range({rows}) t(i)) "
        f"TO '{root / 'data/stats.parquet'}' (FORMAT parquet)"
    )
    con.close()
    (root / "sql/marts/stats.sql").write_text("-- materialized: table\nselect * from raw.stats\n")
    config = '[sources."raw.stats"]\npath = "data/stats.parquet"\n'
    config += '[entities.driver]\njoin_keys = ["driver_id"]\n'
    view = (
        '[feature_views.s]\nsource = "marts.stats"\nentities = ["driver"]\n'
        'timestamp = "ts"\nfeatures = ["f1", "f2", "f3", "f4", "cat"]\n'
    )
    times = {}
    kept: list[float] = []  # the sample the build keeps for statistics is part of their cost
    keep_sample = parts._keep_sample

    def timed_keep(*args: Any) -> None:
        started = time.perf_counter()
        keep_sample(*args)
        kept.append(time.perf_counter() - started)

    parts._keep_sample = timed_keep
    for label, text in (("without", config), ("with", config + view)):
        (root / "sqlops.toml").write_text(text)
        project = sqlops.Project(root)
        project.build(full_refresh=True).raise_on_error()  # warm
        # unchanged views reuse their statistics: forget them, so this build computes them
        project.config.catalog_path.unlink()
        started = time.perf_counter()
        project.build(full_refresh=True).raise_on_error()
        times[label] = time.perf_counter() - started
    parts._keep_sample = keep_sample
    (record,) = FeatureCatalog(project.config.catalog_path).latest_views().values()
    spent = record["stats_seconds"] + kept[-1]
    report = {
        "rows": rows,
        "build_s": round(times["without"], 3),
        "build_with_view_s": round(times["with"], 3),
        "sample_kept_s": round(kept[-1], 3),
        "stats_s": round(record["stats_seconds"], 3),
        "stats_share": round(spent / times["without"], 3),
        "views_in_all_share": round(times["with"] / times["without"] - 1, 3),
    }
    log(f"feature statistics: {json.dumps(report)}")
    return report


def _scale() -> float:
    return float(os.environ.get("BENCH_FEATURES_SCALE", "1"))


def test_training_sets(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    report = training_sets(_scale(), terminal_log(request), tmp_path)
    for results in report.values():
        sums = {r["checksum"] for r in results.values() if "checksum" in r}
        assert len(sums) == 1, "every plan must give the same rows in the same order"


def test_plan_cutoff_sweep(request: pytest.FixtureRequest) -> None:
    plan_sweep(_scale(), terminal_log(request))


def test_online_store(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    online(_scale(), terminal_log(request), tmp_path)


def test_feature_view_statistics(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    statistics_share(_scale(), terminal_log(request), tmp_path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--ttl")
    parser.add_argument("--scale", type=float, default=_scale())
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.workdir, args.ttl)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        training_sets(args.scale, print, Path(tmp))
        plan_sweep(args.scale, print)
        online(args.scale, print, Path(tmp))
        statistics_share(args.scale, print, Path(tmp))


if __name__ == "__main__":
    main()
