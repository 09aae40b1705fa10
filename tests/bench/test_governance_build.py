"""A build with contracts against the same build without them (target: under 1.3x).

A 5-million-row Parquet source, a table model over it and a contract of 12 checks (dtypes,
nullability, uniqueness, ranges, a set, a regex, a row count); each contender is a full
``sqlops build --full-refresh`` in its own process, interleaved, best of 3. Report only:

    uv run pytest -m bench -s -p no:cacheprovider tests/bench/test_governance_build.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from reporting import child_env, terminal_log

pytestmark = pytest.mark.bench

ROWS = int(os.environ.get("BENCH_GOVERNANCE_ROWS", "5000000"))
CONTRACT = """
import pandera.polars as pa


class Orders(pa.DataFrameModel):
    order_id: int = pa.Field(unique=True, ge=0)
    customer_id: int = pa.Field(ge=0, le=1_000_000)
    amount: float = pa.Field(nullable=True, ge=0, le=1_000)
    country: str = pa.Field(isin=["BR", "US", "PT", "AR"])
    email: str = pa.Field(str_matches=r"^[^@]+@[^@]+$")

    class Config:
        row_count = {"min_value": 1}
"""


def _project(root: Path, bound: bool) -> Path:
    (root / "sql/stg").mkdir(parents=True)
    (root / "contracts").mkdir()
    (root / "contracts/orders.py").write_text(CONTRACT)
    (root / "sqlops.toml").write_text('[sources."raw.orders"]\npath = "orders.parquet"\n')
    header = "-- contract: orders\n" if bound else ""
    (root / "sql/stg/orders.sql").write_text(
        f"-- materialized: table\n{header}select * from raw.orders where amount < 990\n"
    )
    return root


def test_contracts_cost_in_a_build(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    log = terminal_log(request)
    data = tmp_path / "orders.parquet"
    duckdb.sql(
        f"COPY (SELECT i AS order_id, i % 1000000 AS customer_id, (i % 997)::DOUBLE AS amount, "
        "['BR','US','PT','AR'][i % 4 + 1] AS country, 'u' || i || '@x.com' AS email "
        f"FROM range({ROWS}) t(i)) TO '{data}' (FORMAT parquet)"
    )
    roots = {}
    for name, bound in (("without contract", False), ("with contract", True)):
        root = _project(tmp_path / name.replace(" ", "_"), bound)
        os.link(data, root / "orders.parquet")
        roots[name] = root
    exe = Path(sys.executable).parent / "sqlops"
    best: dict[str, float] = {}
    for rep in range(4):  # the first round warms caches and is discarded
        for name, root in roots.items():
            started = time.perf_counter()
            done = subprocess.run(
                [str(exe), "build", "--full-refresh"], cwd=root, env=child_env(),
                capture_output=True, text=True,
            )  # fmt: skip
            seconds = time.perf_counter() - started
            assert done.returncode == 0, done.stderr
            if rep:
                best[name] = min(best.get(name, seconds), seconds)
    base = best["without contract"]
    log(f"build with a 12-check contract, {ROWS:,} rows (load {os.getloadavg()[0]:.1f}):")
    for name, seconds in best.items():
        log(f"  {name:18} {seconds:6.2f} s  {seconds / base:5.2f}x")
