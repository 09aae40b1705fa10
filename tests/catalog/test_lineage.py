"""Column lineage: the whole path a column comes from, and every column a change reaches.

The downstream answer is checked by experiment: change one source column's values, rebuild,
and every model column whose values changed must be among the columns lineage said a change
would reach.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sqlops import Project
from sqlops.errors import ModelParseError

from conftest import ProjectFactory

ORDERS = "order_id,customer_id,amount,status\n1,10,5.5,ok\n2,10,7,ok\n3,20,1,x\n4,30,9,ok\n"
CUSTOMERS = "id,name,region\n10,ana,north\n20,bo,south\n30,cy,north\n"
PY_MODEL = """
import polars as pl
import sqlops


@sqlops.model(inputs=["marts.names"], materialized="table")
def shout(names: pl.LazyFrame) -> pl.LazyFrame:
    return names.with_columns(pl.col("name").str.to_uppercase().alias("loud"))
"""
FILES = {
    "sqlops.toml": """
        [sources."raw.orders"]
        path = "data/orders.csv"
        [sources."raw.customers"]
        path = "data/customers.csv"
    """,
    "data/orders.csv": ORDERS,
    "data/customers.csv": CUSTOMERS,
    "sql/stg/orders.sql": """
        select order_id, customer_id, amount * 2 as amount from raw.orders where status <> 'x'
    """,
    "sql/stg/customers.sql": "select id as customer_id, name, region from raw.customers",
    "sql/marts/revenue.sql": """
        -- materialized: table
        select c.region, sum(o.amount) as revenue, count(*) as n
        from stg.orders o join stg.customers as c using (customer_id)
        group by c.region
    """,
    "sql/marts/top.sql": "select * from marts.revenue where revenue > 20",
    "sql/marts/names.sql": """
        -- materialized: table
        with n as (select customer_id, name from stg.customers) select name, 1 as one from n
    """,
    "sql/marts/py.py": PY_MODEL,
    "sql/marts/loud.sql": "select loud from marts.shout",
}


@pytest.fixture
def shop(make_project: ProjectFactory) -> Path:
    root = make_project(FILES)
    assert Project(root).build().ok
    return root


def test_column_path_shows_every_intermediate_model(shop: Path) -> None:
    info = Project(shop).lineage("marts.top", "revenue")
    assert info.column_upstream == {
        "marts.revenue.revenue": {"stg.orders.amount": {"raw.orders.amount": {}}}
    }
    assert info.column_sources == [("raw.orders", "amount")]


def _columns(project: Project) -> dict[tuple[str, str], list[str]]:
    """Every model column's values, order-free."""
    out = {}
    for model in project.load().models:
        frame = project.table(model)
        for column in frame.columns:
            out[(model, column.lower())] = sorted(map(repr, frame[column].to_list()))
    return out


@pytest.mark.parametrize(
    ("source", "column", "csv", "old", "new"),
    [
        ("raw.orders", "amount", "orders", "\n4,30,9,ok", "\n4,30,90,ok"),
        ("raw.orders", "status", "orders", "\n3,20,1,x", "\n3,20,1,ok"),
        ("raw.orders", "customer_id", "orders", "\n4,30,", "\n4,20,"),
        ("raw.customers", "region", "customers", "30,cy,north", "30,cy,south"),
        ("raw.customers", "name", "customers", "20,bo,", "20,bob,"),
    ],
)
def test_every_column_a_change_reaches_is_listed(
    shop: Path, source: str, column: str, csv: str, old: str, new: str
) -> None:
    project = Project(shop)
    reached = set(project.lineage(source, column).columns_reached)
    before = _columns(project)
    path = shop / "data" / f"{csv}.csv"
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))
    assert project.build().ok
    after = _columns(project)
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    assert changed, "the edit must change something, or the test proves nothing"
    starred = {(node, c) for node, c in changed if (node, "*") in reached}
    assert changed - starred <= reached


def test_python_models_pass_a_change_to_all_their_columns(shop: Path) -> None:
    info = Project(shop).lineage("raw.customers", "name")
    assert ("marts.shout", "*") in info.columns_reached
    assert ("main.loud", "loud") not in info.columns_reached  # the file is sql/marts/loud.sql
    assert ("marts.loud", "loud") in info.columns_reached
    assert "marts.shout.*" in info.column_downstream["stg.customers.name"]["marts.names.name"]


def test_a_filter_column_reaches_every_column_of_the_filtering_model(shop: Path) -> None:
    info = Project(shop).lineage("marts.revenue", "revenue")
    assert set(info.columns_reached) == {
        ("marts.top", "region"),
        ("marts.top", "revenue"),
        ("marts.top", "n"),
    }


def test_unknown_column_suggests_the_close_name(shop: Path) -> None:
    with pytest.raises(ModelParseError, match="did you mean revenue") as err:
        Project(shop).lineage("marts.top", "revnue")
    assert str(err.value).startswith("sql/marts/top.sql")


def test_cli_prints_path_and_reach(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from sqlops.cli.app import app

    monkeypatch.chdir(shop)
    out = CliRunner().invoke(app, ["lineage", "stg.orders", "-c", "amount", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["column_upstream"] == {"raw.orders.amount": {}}
    assert {"table": "marts.top", "column": "revenue"} in data["columns_reached"]
    text = CliRunner().invoke(app, ["lineage", "stg.orders", "-c", "amount"]).stdout
    assert "raw.orders.amount" in text and "marts.top.revenue" in text


def test_before_any_build_select_star_is_traced_by_name(make_project: ProjectFactory) -> None:
    info = Project(make_project(FILES)).lineage("marts.top", "revenue")
    assert info.column_upstream == {
        "marts.revenue.revenue": {"stg.orders.amount": {"raw.orders.amount": {}}}
    }
    down = Project(make_project(FILES)).lineage("marts.revenue", "revenue")
    assert ("marts.top", "revenue") in down.columns_reached
