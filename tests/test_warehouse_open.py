"""The warehouse is an open DuckDB file: plain DuckDB, in a fresh process without sqlops and
from any folder, reads every model as sqlops does; the macro library lives in it and in the
fingerprints; a moved or copied project is repaired by its next command."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import sqlops.macros
from sqlops import Project
from sqlops.errors import ExecutionError

from conftest import ProjectFactory, write_parquet

ORDERS = [(1, 10, 5.5), (2, 10, 7.25), (3, 20, None), (4, 30, 3.0), (5, 30, 12.0), (6, 20, 1.5)]
MODELS = {
    # a view calling a scalar (windowed) macro
    "sql/stg/orders.sql": """
        select order_id, customer_id, amount, zscore(amount) as amount_z from raw.orders
    """,
    # a table calling a table macro, which calls an internal macro
    "sql/marts/first_order.sql": """
        -- materialized: table
        select order_id, customer_id from deduplicate('raw.orders', ['customer_id'])
    """,
    "sql/marts/revenue.sql": """
        -- materialized: table
        select customer_id, sum(amount) as revenue from stg.orders group by customer_id
    """,
    "sql/marts/doubled.sql": """
        -- materialized: table
        select order_id, amount * 2 as doubled from raw.orders where amount > 1
    """,
    "sql/marts/orders_inc.sql": """
        -- materialized: incremental
        -- unique_key: order_id
        select order_id, amount from raw.orders
    """,
    "sql/marts/items.sql": """
        select item, fill_null_mean(price) as price from raw.items
    """,
    "sql/marts/events.sql": """
        select kind, count(*) as n from raw.events group by kind
    """,
}
CONFIG = """
    [sources."raw.orders"]
    path = "data/orders.csv"
    [sources."raw.items"]
    path = "data/items.parquet"
    [sources."raw.events"]
    path = "data/events/*.csv"
"""
NAMES = sorted(
    ["raw.orders", "raw.items", "raw.events"]
    + [p.removeprefix("sql/").removesuffix(".sql").replace("/", ".") for p in MODELS]
)


def _orders_csv(rows: list[tuple[int, int, float | None]]) -> str:
    body = "".join(f"{o},{c},{'' if a is None else a}\n" for o, c, a in rows)
    return "order_id,customer_id,amount\n" + body


@pytest.fixture
def project(make_project: ProjectFactory) -> Path:
    root = make_project(
        {
            "sqlops.toml": CONFIG,
            "data/orders.csv": _orders_csv(ORDERS),
            "data/events/a.csv": "kind\nclick\nview\n",
            "data/events/b.csv": "kind\nclick\n",
            **MODELS,
        }
    )
    write_parquet(
        root / "data/items.parquet",
        "select * from (values ('a', 2.0), ('b', null), ('c', 4.0)) t(item, price)",
    )
    return root


PLAIN = """
import json, sys
import duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
out = {n: sorted(map(repr, con.sql(f"select * from {n}").fetchall())) for n in sys.argv[2:]}
assert "sqlops" not in sys.modules
print(json.dumps(out))
"""


def _plain_duckdb(warehouse: Path, names: list[str], cwd: Path) -> dict[str, list[str]]:
    """Every relation's rows (as sorted reprs) read by plain DuckDB in a fresh process that
    never imports sqlops, from ``cwd``, opening the warehouse by a path relative to it."""
    cwd.mkdir(parents=True, exist_ok=True)
    path = os.path.relpath(warehouse, cwd)
    done = subprocess.run(
        [sys.executable, "-c", PLAIN, path, *names],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


def _sqlops_rows(root: Path, names: list[str]) -> dict[str, list[str]]:
    project = Project(root)
    return {n: sorted(map(repr, project.sql(f"select * from {n}").rows())) for n in names}


def _zscores(amounts: list[float | None], ddof: int = 0) -> dict[float, float]:
    values = [a for a in amounts if a is not None]
    mean = statistics.fmean(values)
    std = statistics.pstdev(values) if ddof == 0 else statistics.stdev(values)
    return {a: (a - mean) / std for a in values}


def _plain_zscores(root: Path, cwd: Path) -> dict[float, float]:
    rows = _plain_duckdb(root / ".sqlops/warehouse.duckdb", ["stg.orders"], cwd)["stg.orders"]
    parsed = [eval(r) for r in rows]  # reprs of (int, int, float | None, float | None)
    return {a: z for _, _, a, z in parsed if a is not None}


def _assert_close(got: dict[float, float], want: dict[float, float]) -> None:
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-12)


def test_plain_duckdb_from_another_folder_reads_every_model_as_sqlops(
    project: Path, tmp_path: Path
) -> None:
    assert Project(project).build().ok
    plain = _plain_duckdb(project / ".sqlops/warehouse.duckdb", NAMES, tmp_path / "elsewhere")
    assert plain == _sqlops_rows(project, NAMES)
    # and both are right, by an independent computation
    _assert_close(_plain_zscores(project, tmp_path / "x"), _zscores([a for *_, a in ORDERS]))
    revenue: dict[int, float] = {}
    for _, customer, amount in ORDERS:
        if amount is not None:
            revenue[customer] = revenue.get(customer, 0.0) + amount
    want = sorted(repr((c, revenue.get(c))) for c in {c for _, c, _ in ORDERS})
    assert plain["marts.revenue"] == want
    assert plain["marts.first_order"] == sorted(
        repr((o, c)) for o, c in [(1, 10), (3, 20), (4, 30)]
    )
    assert plain["marts.events"] == ["('click', 2)", "('view', 1)"]
    assert plain["marts.items"] == ["('a', 2.0)", "('b', 3.0)", "('c', 4.0)"]


def test_checked_out_versions_open_in_plain_duckdb(project: Path, tmp_path: Path) -> None:
    sq = Project(project)
    assert sq.build().ok
    first = sq.commit("v1")
    assert first is not None
    changed = [*ORDERS, (7, 40, 100.0)]
    (project / "data/orders.csv").write_text(_orders_csv(changed))
    assert sq.build().ok
    sq.commit("v2")
    sq.checkout(first.id)
    plain = _plain_duckdb(
        project / ".sqlops/warehouse.duckdb", ["raw.orders", "marts.revenue"], tmp_path / "o"
    )
    assert plain["raw.orders"] == sorted(repr(row) for row in ORDERS)
    assert plain["raw.orders"] == _sqlops_rows(project, ["raw.orders"])["raw.orders"]
    assert "(40, 100.0)" not in plain["marts.revenue"]


def _patched(old: str, new: str) -> str:
    assert sqlops.macros.MACRO_SQL.count(old) == 1, old
    return sqlops.macros.MACRO_SQL.replace(old, new)


ZSCORE = """CREATE OR REPLACE MACRO zscore(x) AS
    (x::DOUBLE - avg(x::DOUBLE) OVER (PARTITION BY true))
    / nullif(stddev_pop("""


@pytest.mark.parametrize(
    ("old", "new", "rerun"),
    [
        # zscore's definition: its caller and what reads it rerun
        (ZSCORE, ZSCORE.replace("stddev_pop", "stddev_samp"), {"stg.orders", "marts.revenue"}),
        # a helper that deduplicate calls: deduplicate's caller reruns
        ("' not found in table '", "' missing from table '", {"marts.first_order"}),
        # a comment: nothing reruns
        ("-- zscore(x): (x - mean)", "-- zscore(x) is (x - mean)", set()),
    ],
    ids=["zscore", "internal-helper", "comment"],
)
def test_changing_a_macro_reruns_its_callers_only(
    project: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str, rerun: set[str]
) -> None:
    sq = Project(project)
    assert sq.build().ok
    monkeypatch.setattr(sqlops.macros, "MACRO_SQL", _patched(old, new))
    plan = {n.name: n.action for n in sq.plan().models}
    assert {n for n, action in plan.items() if action == "run"} == rerun


def test_a_changed_macro_is_stored_in_the_warehouse(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sq = Project(project)
    assert sq.build().ok
    monkeypatch.setattr(
        sqlops.macros, "MACRO_SQL", _patched(ZSCORE, ZSCORE.replace("stddev_pop", "stddev_samp"))
    )
    result = sq.build()
    assert result.ok
    assert {n.name for n in result.nodes if n.status == "success"} == {
        "stg.orders",
        "marts.revenue",
    }
    want = _zscores([a for *_, a in ORDERS], ddof=1)
    _assert_close(_plain_zscores(project, tmp_path / "x"), want)


def test_a_query_uses_this_sqlops_macros_before_the_warehouse_stores_them(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only connection to a warehouse storing another library (an older sqlops)
    gets this one's macros, which the views bind to as well."""
    sq = Project(project)
    assert sq.build().ok
    monkeypatch.setattr(
        sqlops.macros, "MACRO_SQL", _patched(ZSCORE, ZSCORE.replace("stddev_pop", "stddev_samp"))
    )
    rows = sq.sql("select amount, amount_z from stg.orders where amount is not null").rows()
    _assert_close(dict(rows), _zscores([a for *_, a in ORDERS], ddof=1))


def test_a_macro_dropped_from_the_library_leaves_the_warehouse(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb

    sq = Project(project)
    assert sq.build().ok
    start = sqlops.macros.MACRO_SQL.index("CREATE OR REPLACE MACRO minmax(")
    end = sqlops.macros.MACRO_SQL.index("CREATE OR REPLACE MACRO clip(")
    text = sqlops.macros.MACRO_SQL[:start] + sqlops.macros.MACRO_SQL[end:]
    monkeypatch.setattr(sqlops.macros, "MACRO_SQL", text)
    assert sq.build().ok
    con = duckdb.connect(str(project / ".sqlops/warehouse.duckdb"), read_only=True)
    stored = {
        n
        for (n,) in con.sql(
            "select function_name from duckdb_functions() where database_name = current_database()"
        ).fetchall()
    }
    con.close()
    assert stored >= {"zscore", "deduplicate"} and "minmax" not in stored


def _move(root: Path, to: Path) -> Path:
    shutil.move(root, to)
    return to


@pytest.mark.parametrize("command", ["query", "build", "checkout"])
def test_a_moved_project_is_repaired_by_its_next_command(
    project: Path, tmp_path: Path, command: str
) -> None:
    sq = Project(project)
    assert sq.build().ok
    sq.commit("v1")
    expected = _sqlops_rows(project, NAMES)
    moved = _move(project, tmp_path / "moved" / "here")
    again = Project(moved)
    if command == "query":
        assert _sqlops_rows(moved, NAMES) == expected
    elif command == "build":
        result = again.build()
        assert result.ok and not [n.name for n in result.nodes if n.status != "skipped"]
    else:
        again.checkout("main")
    plain = _plain_duckdb(moved / ".sqlops/warehouse.duckdb", NAMES, tmp_path / "o")
    assert plain == expected
    # fingerprints name project files relative to the root: nothing to rebuild
    assert {n.action for n in again.plan().nodes} == {"skip"}


def test_views_reading_re_pointed_views_are_re_pointed_after_them(
    project: Path, tmp_path: Path
) -> None:
    """A model naming a project file by its absolute path, and reading a source view (which
    is re-pointed too): it binds only once the source's view points at the new folder."""
    orders = (project / "data/orders.csv").as_posix()
    (project / "sql/marts/abs.sql").write_text(
        f"select count(*) as n from read_csv('{orders}') join raw.orders using (order_id)"
    )
    assert Project(project).build().ok
    moved = _move(project, tmp_path / "moved")
    assert Project(moved).sql("select n from marts.abs")["n"].to_list() == [len(ORDERS)]
    plain = _plain_duckdb(moved / ".sqlops/warehouse.duckdb", ["marts.abs"], tmp_path / "o")
    assert plain["marts.abs"] == [repr((len(ORDERS),))]


def test_a_copied_project_reads_its_own_files(project: Path, tmp_path: Path) -> None:
    """A copy's views are re-pointed at the copy, never left reading the original."""
    assert Project(project).build().ok
    copy = tmp_path / "copy"
    shutil.copytree(project, copy)
    (project / "data/orders.csv").write_text(_orders_csv([(9, 90, 1.0)]))
    assert Project(project).build().ok  # the original moves on
    got = Project(copy).sql("select order_id from raw.orders order by 1")["order_id"].to_list()
    assert got == [o for o, _, _ in ORDERS]
    plain = _plain_duckdb(copy / ".sqlops/warehouse.duckdb", ["marts.revenue"], tmp_path / "o")
    assert "(90, 1.0)" not in plain["marts.revenue"]


def test_a_move_without_the_stored_tables_says_to_build(project: Path, tmp_path: Path) -> None:
    assert Project(project).build().ok
    moved = _move(project, tmp_path / "moved")
    shutil.rmtree(moved / ".sqlops/versions/objects")  # the stored tables did not come along
    with pytest.raises(ExecutionError, match=r"the project moved from .*run `sqlops build`") as e:
        Project(moved).sql("select * from marts.revenue")
    assert "\n" not in str(e.value)
    cli = Path(sys.executable).parent / "sqlops"
    done = subprocess.run(
        [str(cli), "query", "select count(*) from marts.revenue"],
        cwd=moved,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("SQLOPS_")},
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "sqlops build" in done.stderr
    assert Project(moved).build().ok  # which rebuilds what could not be re-pointed
    plain = _plain_duckdb(moved / ".sqlops/warehouse.duckdb", NAMES, tmp_path / "o")
    assert plain == _sqlops_rows(moved, NAMES)


def test_views_name_files_by_absolute_paths(project: Path) -> None:
    """What makes the file portable across working directories: no view names a file by a
    relative path (which DuckDB would resolve against the reader's working directory)."""
    assert Project(project).build().ok
    import duckdb

    con = duckdb.connect(str(project / ".sqlops/warehouse.duckdb"), read_only=True)
    views: list[Any] = con.sql(
        "select view_name, sql from duckdb_views() where not internal"
    ).fetchall()
    con.close()
    quoted = [p for _, sql in views for p in sql.split("'")[1::2]]
    paths = [p for p in quoted if p.endswith((".csv", ".parquet"))]
    assert paths and all(Path(p).is_absolute() for p in paths), paths
