"""State-based planning: what runs after each kind of change, and the reason given."""

from __future__ import annotations

import os
from pathlib import Path

from sqlops import Project


def _reasons(root: Path) -> dict[str, tuple[str, str]]:
    return {n.name: (n.action, n.reason) for n in Project(root).plan().models}


def test_first_plan_runs_everything_as_new(orders_project: Path) -> None:
    assert set(_reasons(orders_project).values()) == {("run", "new")}


def test_after_a_build_nothing_runs(orders_project: Path) -> None:
    Project(orders_project).build()
    assert {a for a, _ in _reasons(orders_project).values()} == {"skip"}
    result = Project(orders_project).build()
    assert {m.status for m in result.models} == {"skipped"}


def test_reformatting_sql_does_not_trigger_a_rebuild(orders_project: Path) -> None:
    Project(orders_project).build()
    path = orders_project / "sql/marts/revenue.sql"
    text = path.read_text().replace("select", "select -- the columns\n   ").replace(", ", " ,")
    path.write_text(text + "; -- trailing comment\n")
    assert _reasons(orders_project)["marts.revenue"] == ("skip", "unchanged")


def test_a_typo_duckdb_rejects_changes_the_fingerprint(orders_project: Path) -> None:
    Project(orders_project).build()
    path = orders_project / "sql/marts/revenue.sql"
    path.write_text(path.read_text().replace("customer_id,", "customer_id,,", 1))
    assert _reasons(orders_project)["marts.revenue"] == ("run", "SQL changed")


def test_sql_change_runs_the_model_and_its_descendants(orders_project: Path) -> None:
    Project(orders_project).build()
    path = orders_project / "sql/marts/revenue.sql"
    path.write_text(path.read_text().replace("count(*) as n", "count(*) as n, 1 as one"))
    reasons = _reasons(orders_project)
    assert reasons["marts.revenue"] == ("run", "SQL changed")
    assert reasons["marts.top"] == ("run", "upstream changed: marts.revenue")
    assert reasons["stg.orders"] == ("skip", "unchanged")


def test_input_file_change_runs_everything_downstream(orders_project: Path) -> None:
    Project(orders_project).build()
    csv = orders_project / "data/orders.csv"
    csv.write_text(csv.read_text() + "6,40,1.0,2026-01-05\n")
    os.utime(csv, ns=(1, 1))
    reasons = _reasons(orders_project)
    assert reasons["stg.orders"] == ("run", "upstream changed: raw.orders")
    assert reasons["marts.top"][0] == "run"


def test_dropped_table_is_rebuilt(orders_project: Path) -> None:
    project = Project(orders_project)
    project.build()
    from sqlops.execute.engine import Engine

    engine = Engine.open(project.config.warehouse_path)
    engine.execute("DROP VIEW marts.top")
    engine.close()
    assert _reasons(orders_project)["marts.top"] == ("run", "missing from the warehouse")


def test_config_change_is_a_reason(orders_project: Path) -> None:
    Project(orders_project).build()
    path = orders_project / "sql/marts/top.sql"
    path.write_text(path.read_text().replace("table", "view"))
    assert _reasons(orders_project)["marts.top"] == ("run", "config changed")


def test_plan_touches_no_data(orders_project: Path) -> None:
    Project(orders_project).plan()
    assert not (orders_project / ".sqlops/warehouse.duckdb").exists()


def test_deleted_objects_are_rebuilt(orders_project: Path) -> None:
    project = Project(orders_project)
    project.build()
    for path in (orders_project / ".sqlops/versions/objects").glob("??/*.parquet"):
        path.unlink()
    reasons = _reasons(orders_project)
    assert reasons["marts.top"] == ("run", "missing from the warehouse")
    assert project.build().ok
    assert project.table("marts.top").height == 2


def test_noop_shortcut_still_sees_every_kind_of_change(orders_project: Path) -> None:
    project = Project(orders_project)
    project.build()
    assert {m.status for m in project.build().models} == {"skipped"}
    csv = orders_project / "data/orders.csv"
    csv.write_text(csv.read_text() + "7,50,2.0,2026-01-06\n")
    os.utime(csv, ns=(3, 3))
    assert {m.name for m in project.build().models if m.status == "success"} == {
        "stg.orders",
        "marts.revenue",
        "marts.top",
    }
    (orders_project / "sql/marts/new.sql").write_text("select 1 as x")
    assert [m.name for m in project.build().models if m.status == "success"] == ["marts.new"]
    assert project.runs()[0]["n_run"] == 1
    assert len(project.runs(limit=100)) == 4
