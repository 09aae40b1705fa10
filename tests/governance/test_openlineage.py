"""OpenLineage events: with ``[governance] openlineage`` set, each build appends run events that
openlineage-python's own classes accept, one START and one end per node that ran, with the
schema as DuckDB describes it, the column lineage of the SQL and the contract results.

The oracle reads each line back into the client's attrs classes (the facet class picked by
its ``_schemaURL``, unknown or missing keys refused by the constructors, the validators run)
and requires the client to serialize it back to the same JSON.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import types
import typing
from collections import Counter
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import attr
import duckdb
import openlineage.client.generated as generated
import pytest
from openlineage.client.event_v2 import RunEvent
from openlineage.client.serde import Serde

import sqlops
from sqlops.api.openlineage import emit_build

from conftest import ProjectFactory

EVENTS = ".sqlops/openlineage.jsonl"
FILES = {
    "sqlops.toml": f"""
        [governance]
        openlineage = "{EVENTS}"
        [sources."raw.orders"]
        path = "data/orders.csv"
        [sources."raw.customers"]
        path = "data/customers.csv"
    """,
    "data/orders.csv": "order_id,customer_id,amount\n1,10,5.5\n2,10,7.25\n3,20,-1\n4,20,3\n",
    "data/customers.csv": "customer_id,region,rate\n10,north,1.5\n20,south,2\n",
    "sql/stg/orders.sql": """
        -- materialized: view
        select order_id, customer_id, amount from raw.orders where amount > 0
    """,
    "sql/marts/revenue.sql": """
        -- materialized: table
        select o.customer_id, c.region, sum(o.amount * c.rate) as revenue, count(*) as n
        from stg.orders o join raw.customers c on o.customer_id = c.customer_id
        group by o.customer_id, c.region
    """,
}
BROKEN = {
    "sql/marts/bad.sql": """
        -- materialized: table
        select cast(region as integer) as r from raw.customers
    """,
    "sql/marts/worse.sql": "-- materialized: table\nselect * from marts.bad",
}


def _facet_classes() -> dict[str, type]:
    """Every facet class the client generates, by the ``_schemaURL`` it writes."""
    found: dict[str, type] = {}
    for info in pkgutil.iter_modules(generated.__path__):
        module = importlib.import_module(f"{generated.__name__}.{info.name}")
        for value in vars(module).values():
            if attr.has(value) and hasattr(value, "_get_schema"):
                found.setdefault(value._get_schema(), value)
    return found


FACETS = _facet_classes()


def _rebuild(cls: type, data: dict[str, Any]) -> Any:
    """``cls`` from its JSON, recursively, through the client's own constructors."""
    if "_schemaURL" in data:
        chosen = FACETS[data["_schemaURL"]]
        assert issubclass(chosen, cls), (chosen, cls)
        cls = chosen
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in attr.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("_schemaURL", "schemaURL"):
            continue  # derived from the class; checked by the round trip
        field = fields[key]  # an unknown key fails here
        kwargs[field.alias] = _value(hints[key], value)
    return cls(**kwargs)


def _value(hint: Any, value: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _value(args[0], value) if len(args) == 1 else value
    if origin is list:
        return [_value(args[0], v) for v in value]
    if origin is dict:
        return {k: _value(args[1], v) for k, v in value.items()}
    if isinstance(hint, type) and attr.has(hint):
        return _rebuild(hint, value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    return value


def read_events(root: Path) -> list[dict[str, Any]]:
    """The events written, each proven a RunEvent the client itself would write."""
    lines = (root / EVENTS).read_text().splitlines()
    events = [json.loads(line) for line in lines]
    for event in events:
        rebuilt = _rebuild(RunEvent, event)
        assert isinstance(rebuilt, RunEvent)
        assert Serde.to_dict(rebuilt) == event
    return events


def by_job(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        out.setdefault(event["job"]["name"], []).append(event)
    return out


def end_output(events: list[dict[str, Any]], job: str) -> dict[str, Any]:
    (output,) = by_job(events)[job][-1]["outputs"]
    return dict(output)


def test_every_node_that_ran_has_a_start_and_a_complete(make_project: ProjectFactory) -> None:
    root = make_project(FILES)
    result = sqlops.Project(root).build()
    assert result.ok
    events = read_events(root)
    jobs = by_job(events)
    ran = {n.name for n in result.nodes}
    assert set(jobs) == ran | {"build"}
    assert {e["job"]["namespace"] for e in events} == {"sqlops://proj"}
    parent = jobs["build"][0]["run"]["runId"]
    assert [e["eventType"] for e in jobs["build"]] == ["START", "COMPLETE"]
    for name in ran:
        assert [e["eventType"] for e in jobs[name]] == ["START", "COMPLETE"]
        start, end = jobs[name]
        assert start["run"]["runId"] == end["run"]["runId"] != parent
        assert end["run"]["facets"]["parent"]["run"]["runId"] == parent
        assert end["eventTime"] >= start["eventTime"]
    assert len({jobs[n][0]["run"]["runId"] for n in ran}) == len(ran)
    revenue = jobs["marts.revenue"][-1]
    assert {(i["namespace"], i["name"]) for i in revenue["inputs"]} == {
        (f"duckdb://{(root / '.sqlops/warehouse.duckdb').resolve()}", "stg.orders"),
        (f"duckdb://{(root / '.sqlops/warehouse.duckdb').resolve()}", "raw.customers"),
    }
    assert [(i["namespace"], i["name"]) for i in jobs["raw.orders"][-1]["inputs"]] == [
        ("file", (root / "data/orders.csv").resolve().as_posix())
    ]
    assert revenue["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 2
    assert revenue["job"]["facets"]["sql"]["query"].startswith("select o.customer_id")


def test_schema_facet_is_what_duckdb_describes(make_project: ProjectFactory) -> None:
    root = make_project(FILES)
    sqlops.Project(root).build()
    events = read_events(root)
    con = duckdb.connect(str(root / ".sqlops/warehouse.duckdb"), read_only=True)
    try:
        for name in ("raw.orders", "stg.orders", "marts.revenue"):
            described = [(r[0], r[1]) for r in con.execute(f"DESCRIBE {name}").fetchall()]
            fields = end_output(events, name)["facets"]["schema"]["fields"]
            assert [(f["name"], f["type"]) for f in fields] == described
    finally:
        con.close()


def _lineage(events: list[dict[str, Any]], job: str) -> tuple[dict[str, set], set]:
    facet = end_output(events, job)["facets"]["columnLineage"]
    fields = {
        column: {(i["name"], i["field"], i["transformations"][0]["type"]) for i in f["inputFields"]}
        for column, f in facet["fields"].items()
    }
    indirect = {(i["name"], i["field"], i["transformations"][0]["type"]) for i in facet["dataset"]}
    return fields, indirect


def test_column_lineage_is_what_the_sql_says(make_project: ProjectFactory) -> None:
    root = make_project(FILES)
    sqlops.Project(root).build()
    events = read_events(root)
    fields, indirect = _lineage(events, "marts.revenue")
    assert fields == {
        "customer_id": {("stg.orders", "customer_id", "DIRECT")},
        "region": {("raw.customers", "region", "DIRECT")},
        "revenue": {("stg.orders", "amount", "DIRECT"), ("raw.customers", "rate", "DIRECT")},
    }  # n = count(*) reads no column
    assert indirect == {  # the join keys and the GROUP BY decide which rows come out
        ("stg.orders", "customer_id", "INDIRECT"),
        ("raw.customers", "customer_id", "INDIRECT"),
        ("raw.customers", "region", "INDIRECT"),
    }
    fields, indirect = _lineage(events, "stg.orders")
    assert fields == {
        c: {("raw.orders", c, "DIRECT")} for c in ("order_id", "customer_id", "amount")
    }
    assert indirect == {("raw.orders", "amount", "INDIRECT")}
    orders_csv = (root / "data/orders.csv").resolve().as_posix()
    fields, indirect = _lineage(events, "raw.orders")
    assert fields == {c: {(orders_csv, c, "DIRECT")} for c in ("order_id", "customer_id", "amount")}
    assert indirect == set()


def test_a_failed_model_gets_fail_and_its_descendants_no_run(make_project: ProjectFactory) -> None:
    root = make_project({**FILES, **BROKEN})
    result = sqlops.Project(root).build()
    assert not result.ok
    jobs = by_job(read_events(root))
    assert [e["eventType"] for e in jobs["marts.bad"]] == ["START", "FAIL"]
    error = jobs["marts.bad"][-1]["run"]["facets"]["errorMessage"]
    assert error["programmingLanguage"] == "SQL"
    assert error["message"] == next(n.error for n in result.nodes if n.name == "marts.bad")
    assert "schema" not in end_output(list(jobs["marts.bad"]), "marts.bad")["facets"]
    assert "marts.worse" not in jobs  # never started: upstream failed
    assert [e["eventType"] for e in jobs["marts.revenue"]] == ["START", "COMPLETE"]
    assert [e["eventType"] for e in jobs["build"]] == ["START", "FAIL"]


def test_each_build_appends_and_an_unchanged_build_adds_nothing(
    make_project: ProjectFactory,
) -> None:
    root = make_project(FILES)
    project = sqlops.Project(root)
    project.build()
    first = len(read_events(root))
    project.build()
    assert len(read_events(root)) == first
    model = root / "sql/marts/revenue.sql"
    model.write_text(model.read_text().replace("count(*) as n", "count(*) as orders"))
    project.build()
    events = read_events(root)
    counts = Counter(e["job"]["name"] for e in events[first:])
    assert counts == {"marts.revenue": 2, "build": 2}
    fields = end_output(events, "marts.revenue")["facets"]["schema"]["fields"]
    assert [f["name"] for f in fields][-1] == "orders"


@dataclass(frozen=True)
class CheckRecord:
    table: str
    check: str
    column: str | None
    outcome: str
    failures: int
    rows: int


def test_contract_results_become_assertions_and_metrics(make_project: ProjectFactory) -> None:
    root = make_project(FILES)
    project = sqlops.Project(root)
    result = project.build()
    run_ids = {e["job"]["name"]: e["run"]["runId"] for e in read_events(root)}
    (root / EVENTS).unlink()
    records = [
        CheckRecord("marts.revenue", "not_null", "region", "passed", 0, 2),
        CheckRecord("marts.revenue", "in_range", "revenue", "warn", 1, 2),
        {
            "table": "marts.revenue",
            "check": "row_count",
            "column": None,
            "outcome": "failed",
            "failures": 1,
            "rows": 2,
        },
        CheckRecord("marts.revenue", "custom", "n", "not_evaluated", 0, 2),
    ]
    written = emit_build(project, project.load(), result, records)
    events = read_events(root)
    assert written == len(events) == 2 * len(result.nodes) + 2 + 2  # + build, + the checks
    jobs = by_job(events)
    assert set(jobs) == {n.name for n in result.nodes} | {"build", "marts.revenue.contract"}
    assert {n: jobs[n][0]["run"]["runId"] for n in run_ids} == run_ids  # same build, same runs
    start, end = jobs["marts.revenue.contract"]
    assert (start["eventType"], end["eventType"]) == ("START", "COMPLETE")
    assert end["job"]["facets"]["jobType"]["jobType"] == "TEST"
    assert end["run"]["facets"]["parent"]["run"]["runId"] == jobs["build"][0]["run"]["runId"]
    (checked,) = end["inputs"]
    assert checked["name"] == "marts.revenue"
    assert checked["namespace"] == end_output(events, "marts.revenue")["namespace"]
    facets = checked["inputFacets"]
    assertions = [
        (a["assertion"], a.get("column"), a["success"], a.get("severity"), a.get("actual"))
        for a in facets["dataQualityAssertions"]["assertions"]
    ]
    assert assertions == [  # not_evaluated makes no claim
        ("not_null", "region", True, None, "0"),
        ("in_range", "revenue", False, "warn", "1"),  # found rows: not a success, only a warning
        ("row_count", None, False, None, "1"),
    ]
    assert facets["dataQualityMetrics"]["rowCount"] == 2


def test_missing_client_refuses_before_building(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project(FILES)
    monkeypatch.setitem(sys.modules, "openlineage.client.event_v2", None)  # import fails
    with pytest.raises(sqlops.GovernanceError, match=r"pip install 'sqlops\[openlineage\]'"):
        sqlops.Project(root).build()
    assert not (root / EVENTS).exists()
    assert sqlops.Project(root).plan().models[0].action != "skip"  # nothing was built


def test_no_setting_no_file(make_project: ProjectFactory) -> None:
    files = {**FILES, "sqlops.toml": FILES["sqlops.toml"].replace(f'"{EVENTS}"', '""')}
    root = make_project(files)
    assert sqlops.Project(root).build().ok
    assert not (root / EVENTS).exists()


PY_MODEL = '''
import polars as pl
import sqlops


@sqlops.model(inputs=["marts.revenue"], materialized="table")
def doubled(revenue: pl.LazyFrame) -> pl.LazyFrame:
    """Revenue twice over."""
    return revenue.with_columns(pl.col("revenue") * 2)
'''


def test_python_model_has_a_schema_but_no_column_lineage(make_project: ProjectFactory) -> None:
    """Python is opaque to sqlglot: no facet beats a wrong one."""
    root = make_project({**FILES, "sql/marts/py_models.py": PY_MODEL})
    assert sqlops.Project(root).build().ok
    events = read_events(root)
    end = by_job(events)["marts.doubled"][-1]
    assert end["eventType"] == "COMPLETE"
    assert [i["name"] for i in end["inputs"]] == ["marts.revenue"]
    assert "sql" not in end["job"]["facets"]
    facets = end_output(events, "marts.doubled")["facets"]
    assert [f["name"] for f in facets["schema"]["fields"]] == [
        "customer_id",
        "region",
        "revenue",
        "n",
    ]
    assert "columnLineage" not in facets


def test_an_unwritable_event_file_is_one_error_after_a_whole_build(
    make_project: ProjectFactory,
) -> None:
    root = make_project(FILES)
    (root / EVENTS).mkdir(parents=True)  # a folder where the file should be
    project = sqlops.Project(root)
    with pytest.raises(sqlops.FileAccessError, match="OpenLineage events could not be written"):
        project.build()
    assert all(m.action == "skip" for m in project.plan().models)  # the build itself is in place
