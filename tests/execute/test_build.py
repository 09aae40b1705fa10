"""Builds end to end: results checked against plain Polars, failures isolated and atomic."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sqlops import Project
from sqlops.errors import BuildFailed, LockedError

from conftest import ProjectFactory


def _expected_revenue(root: Path) -> pl.DataFrame:
    raw = pl.read_csv(root / "data/orders.csv")
    return (
        raw.drop_nulls(["customer_id", "amount"])
        .group_by("customer_id")
        .agg(pl.col("amount").sum().alias("revenue"), pl.len().cast(pl.Int64).alias("n"))
        .sort("customer_id")
    )


def test_build_matches_an_independent_polars_computation(orders_project: Path) -> None:
    project = Project(orders_project)
    result = project.build()
    assert result.ok
    assert {m.name: m.status for m in result.models} == dict.fromkeys(
        ["marts.revenue", "marts.top", "stg.orders"], "success"
    )
    got = project.table("marts.revenue").sort("customer_id")
    assert_frame_equal(got, _expected_revenue(orders_project), check_dtypes=False)
    top = project.table("marts.top")
    assert sorted(top["customer_id"]) == [10, 30]
    rows = {m.name: m.rows for m in result.models}
    assert rows["marts.revenue"] == 2 and rows["marts.top"] == 2 and rows["stg.orders"] is None


def test_warehouse_is_plain_duckdb_over_parquet_objects(
    orders_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = Project(orders_project)
    project.build()
    monkeypatch.chdir(orders_project)  # as the README opens it (any folder works)
    con = duckdb.connect(".sqlops/warehouse.duckdb", read_only=True)
    kinds = dict(
        con.execute(
            "select table_schema || '.' || table_name, table_type from information_schema.tables "
            "where table_schema in ('stg', 'marts', 'raw')"
        ).fetchall()
    )
    revenue = con.execute("select count(*) from marts.revenue").fetchone()
    con.close()
    assert set(kinds.values()) == {"VIEW"}
    assert set(kinds) == {"raw.orders", "stg.orders", "marts.revenue", "marts.top"}
    assert revenue == (2,)
    objects = sorted((orders_project / ".sqlops/versions/objects").glob("??/*.parquet"))
    assert len(objects) == 2  # marts.revenue and marts.top; views store nothing
    heights = sorted(pl.read_parquet(p).height for p in objects)
    assert heights == [2, 2]


def test_rebuilding_replaces_objects_without_leaking_old_ones(orders_project: Path) -> None:
    project = Project(orders_project)
    project.build()
    path = orders_project / "sql/marts/revenue.sql"
    path.write_text(path.read_text().replace("count(*) as n", "count(*) as n, 1 as one"))
    project.build()
    objects = list((orders_project / ".sqlops/versions/objects").glob("??/*.parquet"))
    assert len(objects) == 2
    assert project.table("marts.revenue")["one"].to_list() == [1, 1]


def test_failed_model_stops_descendants_not_siblings(make_project: ProjectFactory) -> None:
    root = make_project(
        {
            "sql/s/base.sql": "-- materialized: table\nselect 1 as id, 'a' as v",
            "sql/s/bad.sql": "-- materialized: table\nselect id,\n  v + 1 as broken\nfrom s.base",
            "sql/s/after_bad.sql": "-- materialized: table\nselect * from s.bad",
            "sql/s/sibling.sql": "-- materialized: table\nselect id from s.base",
        }
    )
    result = Project(root).build()
    status = {m.name: m.status for m in result.models}
    assert status == {
        "s.base": "success",
        "s.bad": "error",
        "s.after_bad": "upstream_failed",
        "s.sibling": "success",
    }
    error = next(m.error for m in result.models if m.name == "s.bad")
    assert error is not None and error.startswith("sql/s/bad.sql:3:")
    assert "\n" not in error
    with pytest.raises(BuildFailed, match=r"1 model.* failed: s\.bad"):
        result.raise_on_error()


def test_a_failing_rebuild_keeps_the_previous_table(make_project: ProjectFactory) -> None:
    root = make_project({"sql/s/t.sql": "-- materialized: table\nselect 42 as answer"})
    project = Project(root)
    project.build()
    (root / "sql/s/t.sql").write_text(
        "-- materialized: table\nselect 1 / 0 as answer, 'x'::int as b"
    )
    result = project.build()
    assert not result.ok
    assert project.table("s.t")["answer"].to_list() == [42]
    assert project.plan().models[0].action == "run"


def test_switching_a_view_to_a_table_and_back(make_project: ProjectFactory) -> None:
    root = make_project({"sql/s/t.sql": "select 1 as x"})
    project = Project(root)
    project.build()
    for kind in ("table", "view"):
        (root / "sql/s/t.sql").write_text(f"-- materialized: {kind}\nselect 2 as x")
        assert project.build().ok
        assert project.table("s.t")["x"].to_list() == [2]


def test_second_build_is_refused_while_one_runs(orders_project: Path) -> None:
    from sqlops.storage.lock import build_lock

    project = Project(orders_project)
    with (
        build_lock(project.config.state_path),
        pytest.raises(LockedError, match=r"another build is running .*pid"),
    ):
        Project(orders_project).build()
    assert project.build().ok


def test_second_build_waits_when_asked(orders_project: Path) -> None:
    from sqlops.storage.lock import build_lock

    project = Project(orders_project)
    release, held = threading.Event(), threading.Event()

    def hold() -> None:
        with build_lock(project.config.state_path):
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    threading.Timer(0.3, release.set).start()
    result = Project(orders_project).build(wait=10)
    holder.join()
    assert result.ok


def test_independent_models_build_concurrently_and_correctly(
    make_project: ProjectFactory,
) -> None:
    files = {
        f"sql/s/m{i}.sql": f"-- materialized: table\nselect {i} as i, range from range({i * 100})"
        for i in range(1, 21)
    }
    files["sql/s/total.sql"] = "-- materialized: table\n" + " union all ".join(
        f"select i, count(*) as n from s.m{i} group by i" for i in range(1, 21)
    )
    root = make_project(files)
    project = Project(root, threads=4)
    assert project.build().ok
    total = project.table("s.total").sort("i")
    assert total["n"].to_list() == [i * 100 for i in range(1, 21)]


def test_run_records_land_in_the_catalog(orders_project: Path) -> None:
    project = Project(orders_project)
    first = project.build()
    project.build()
    runs = project.runs()
    assert [r["run_id"] for r in runs][1] == first.run_id
    assert (runs[0]["n_run"], runs[0]["n_skipped"]) == (0, 4)
    con = duckdb.connect(str(project.config.catalog_path), read_only=True)
    rows = con.execute(
        "select name, rows, status from model_runs where run_id = ? order by name", [first.run_id]
    ).fetchall()
    con.close()
    assert ("marts.revenue", 2, "success") in rows


def test_macros_work_inside_models(make_project: ProjectFactory) -> None:
    root = make_project(
        {
            "sql/s/z.sql": "-- materialized: table\n"
            "select x, zscore(x) as z from (values (1.0), (2.0), (3.0)) t(x)"
        }
    )
    project = Project(root)
    assert project.build().ok
    z = project.table("s.z").sort("x")["z"].to_list()
    assert z == pytest.approx([-1.224744871, 0.0, 1.224744871])
