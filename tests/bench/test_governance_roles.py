"""Role reads benchmark: a typical analytical query (a group-by over a 10M-row table) as the
project's owner (the warehouse's view over its Parquet object) and as a role (the allow-list,
then the sandbox over the role's materialized file, already current). Target: role reads
add under 5%. Also: what materializing the role's file costs (a denied column, a keyed-hash
mask of a text column, a row filter), opening a sandbox, and the allow-list alone.

Report only, never timed assertions:

    uv run pytest -m bench -s -p no:cacheprovider tests/bench/test_governance_roles.py
    BENCH_ROLES_SCALE=0.01 uv run pytest -m bench -s tests/bench/test_governance_roles.py   # smoke
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from polars.testing import assert_frame_equal

from sqlops.config.governance import ColumnPolicy, RoleConfig
from sqlops.execute.engine import Engine
from sqlops.governance.policy import compile_role, materialize_role, role_is_current, role_signature
from sqlops.governance.sandbox import open_sandbox, role_query
from sqlops.project.sqlcheck import role_sql_violations

from reporting import terminal_log

pytestmark = pytest.mark.bench

QUERY = (
    "select category, count(*) as n, sum(amount) as total, avg(amount) as mean, "
    "count(distinct customer_id) as customers from marts.events group by category order by category"
)
ROLE = RoleConfig(
    name="analyst",
    tables=("marts.*",),
    deny_columns=("marts.events.cpf",),
    anonymized=True,
    row_filters={"marts.events": "amount >= 0"},  # keeps every row, so results compare equal
)
COLUMNS = {"marts.events": {"email": ColumnPolicy("marts.events", "email", "email", "hash")}}
PARAMS = {"sqlops_hmac_ipad": "ipad", "sqlops_hmac_opad": "opad"}
REPEATS = 7


def _mask(policy: ColumnPolicy, column: str, dtype: str) -> str | None:
    """The shape of HMAC-SHA256 built from sha256 (two hashes a value), as anonymize does."""
    return f"sha256($sqlops_hmac_opad || sha256($sqlops_hmac_ipad || {column}))"


def _warehouse(root: Path, rows: int) -> Path:
    objects = root / ".sqlops" / "versions" / "objects" / "ab"
    objects.mkdir(parents=True)
    part = objects / "cdef0123456789abcdef.parquet"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT range AS event_id, range % 100000 AS customer_id, "
        f"'c' || (range % 20)::VARCHAR AS category, (range % 1000) / 10.0 AS amount, "
        f"'user' || (range % 100000)::VARCHAR || '@example.com' AS email, "
        f"lpad((range % 99999999999)::VARCHAR, 11, '0') AS cpf FROM range({rows})) "
        f"TO '{part}' (FORMAT parquet)"
    )
    con.close()
    warehouse = root / ".sqlops" / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute(f"CREATE SCHEMA marts; CREATE VIEW marts.events AS SELECT * FROM '{part}'")
    con.close()
    return warehouse


def _timed(run: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = run()
    return time.perf_counter() - start, out


def roles(scale: float, log: Callable[[str], None], root: Path) -> None:
    rows = int(10_000_000 * scale)
    warehouse = _warehouse(root, rows)
    owner = Engine.open(warehouse, read_only=True, macros=False)
    target = root / ".sqlops" / "roles" / "analyst.duckdb"
    plan = compile_role(ROLE, owner.all_columns(), COLUMNS, _mask)
    sources = {"marts.events": "parts-hash"}
    made, _ = _timed(lambda: materialize_role(owner, plan, target, PARAMS, sources))
    signature = role_signature(plan, sources, PARAMS)
    assert role_is_current(target, signature)
    box = open_sandbox(target, "analyst")
    expected = owner.polars(QUERY)  # warm both (file cache), and the answer to compare
    assert_frame_equal(role_query(box, QUERY), expected)
    times: dict[str, list[float]] = {"owner": [], "role": [], "sandbox": []}
    runs = {
        "owner": lambda: owner.polars(QUERY),
        "role": lambda: role_query(box, QUERY),
        "sandbox": lambda: box.engine.polars(QUERY),
    }
    for _ in range(REPEATS):  # interleaved, so the shared machine's load hits each alike
        for name, run in runs.items():
            times[name].append(_timed(run)[0])
    in_a_row = {name: [_timed(run)[0] for _ in range(REPEATS)] for name, run in runs.items()}
    check = min(
        _timed(lambda: role_sql_violations(QUERY, box.relations, box.functions))[0]
        for _ in range(5)
    )
    box.close()
    current = min(_timed(lambda: role_is_current(target, signature))[0] for _ in range(3))
    opened = min(_timed(lambda: open_sandbox(target, "analyst").close())[0] for _ in range(3))
    plain = compile_role(
        dataclasses.replace(ROLE, anonymized=False), owner.all_columns(), {}, _mask
    )
    plain_made, _ = _timed(
        lambda: materialize_role(owner, plain, root / "plain.duckdb", {}, sources)
    )
    owner.close()
    load = os.getloadavg()
    log("")
    log(
        f"role reads, {rows:,} rows, median of {REPEATS} (load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f})"
    )
    for label, series in (("interleaved", times), ("each in a row", in_a_row)):
        o, r, d = (statistics.median(series[k]) for k in ("owner", "role", "sandbox"))
        log(f"  {label}:")
        log(f"    owner (warehouse view over Parquet)   {o * 1000:8.1f} ms")
        log(
            f"    role  (allow-list + sandbox)          {r * 1000:8.1f} ms  {(r / o - 1) * 100:+.1f}%"
        )
        log(
            f"    role  sandbox only (no allow-list)    {d * 1000:8.1f} ms  {(d / o - 1) * 100:+.1f}%"
        )
    o = statistics.median(in_a_row["owner"])
    log(f"  allow-list alone (sqlglot)              {check * 1000:8.1f} ms")
    log(f"  open_sandbox + close                    {opened * 1000:8.1f} ms")
    log(f"  role_is_current                         {current * 1000:8.1f} ms")
    log(
        f"  materialize_role, hash mask + filter    {made * 1000:8.1f} ms  = {made / o:.1f} owner queries"
    )
    log(
        f"  materialize_role, no mask, filter       {plain_made * 1000:8.1f} ms  = {plain_made / o:.1f} owner queries"
    )
    log(f"  role file {target.stat().st_size / 2**20:.0f} MiB")


def test_role_reads(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    roles(float(os.environ.get("BENCH_ROLES_SCALE", "1")), terminal_log(request), tmp_path)
