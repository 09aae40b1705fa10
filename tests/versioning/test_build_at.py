"""``build(at=REF)``: today's models over the inputs a version recorded, checked against
Polars over the old file content — on the embedded store and on a real lakeFS server."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sqlops import Project
from sqlops.errors import RefNotFound, VersioningError

from conftest import ProjectFactory

pytestmark = pytest.mark.usefixtures("backend")

NEW_CSV = """order_id,customer_id,amount,ordered_at
1,10,500.0,2026-01-01
7,20,3.0,2026-02-01
8,50,40.0,2026-02-02
"""


def _revenue(csv: bytes) -> pl.DataFrame:
    """marts.revenue computed independently: Polars over the file's bytes."""
    return (
        pl.read_csv(csv)
        .drop_nulls(["customer_id", "amount"])
        .group_by("customer_id")
        .agg(pl.col("amount").sum().alias("revenue"), pl.len().alias("n"))
        .sort("customer_id")
    )


def _table(project: Project, name: str) -> pl.DataFrame:
    return project.table(name).sort("customer_id")


def _rewrite(path: Path, text: str) -> None:
    path.write_text(text)
    os.utime(path, ns=(10**18, 10**18))  # a different mtime even on coarse clocks


def test_build_at_a_commit_reads_the_csv_as_it_was(orders_project: Path) -> None:
    csv = orders_project / "data/orders.csv"
    old = csv.read_bytes()
    project = Project(orders_project)
    project.build()
    first = project.commit("v1")
    assert first is not None
    project.tag("v1")
    _rewrite(csv, NEW_CSV)
    project.build()
    project.commit("v2")
    assert_frame_equal(
        _table(project, "marts.revenue"), _revenue(csv.read_bytes()), check_dtypes=False
    )

    result = project.build(at="v1")
    assert result.ok
    assert_frame_equal(_table(project, "marts.revenue"), _revenue(old), check_dtypes=False)
    assert {n.name for n in result.nodes if n.status == "success"} >= {"marts.revenue"}
    # no ref moved, no commit made, the file on disk untouched
    assert project.branch == "main" and project.log(limit=1)[0].message == "v2"
    assert csv.read_text() == NEW_CSV
    # the next plain build sees the source changed back and rebuilds from today's file
    plan = {n.name: n.action for n in project.plan().models}
    assert plan["marts.revenue"] == "run"
    project.build()
    assert_frame_equal(
        _table(project, "marts.revenue"), _revenue(NEW_CSV.encode()), check_dtypes=False
    )


def test_build_at_reproduces_inputs_with_todays_models(orders_project: Path) -> None:
    csv = orders_project / "data/orders.csv"
    old = csv.read_bytes()
    project = Project(orders_project)
    made = project.data_add(csv).commit  # a data add records the inputs too
    assert made is not None
    _rewrite(csv, NEW_CSV)
    model = orders_project / "sql/marts/top.sql"
    model.write_text(model.read_text().replace("> 10", "> 6"))
    project.build(at=made.id[:12])
    expected = _revenue(old).filter(pl.col("revenue") > 6)
    assert_frame_equal(_table(project, "marts.top"), expected, check_dtypes=False)
    again = project.build(at=made.id[:12])  # same inputs, same models: nothing to redo
    assert all(n.status == "skipped" for n in again.models)


def test_build_at_onto_a_branch_commits_with_the_inputs_ref(orders_project: Path) -> None:
    csv = orders_project / "data/orders.csv"
    old = csv.read_bytes()
    project = Project(orders_project)
    project.build()
    first = project.commit("v1")
    assert first is not None
    _rewrite(csv, NEW_CSV)
    project.build()
    project.commit("v2")
    project.create_branch("repro", from_ref="main")
    assert project.build(branch="repro", at="main~1").ok
    head = project.log(ref="repro", limit=1)[0]
    assert head.metadata["inputs_at"] == first.id
    reproduced = project.table("marts.revenue", ref="repro").sort("customer_id")
    assert_frame_equal(reproduced, _revenue(old), check_dtypes=False)


def test_build_at_an_unknown_ref_names_close_ones_and_builds_nothing(
    orders_project: Path,
) -> None:
    project = Project(orders_project)
    project.build()
    project.commit("v1")
    before = _table(project, "marts.revenue")
    with pytest.raises(RefNotFound, match="did you mean main"):
        project.build(at="mian")
    assert_frame_equal(_table(project, "marts.revenue"), before)


def test_build_at_a_version_without_a_needed_source_is_refused(orders_project: Path) -> None:
    project = Project(orders_project)
    project.build()
    project.commit("v1")
    (orders_project / "data/customers.csv").write_text("customer_id,name\n10,ana\n")
    config = orders_project / "sqlops.toml"
    config.write_text(config.read_text() + '[sources."raw.customers"]\npath="data/customers.csv"\n')
    (orders_project / "sql/marts/names.sql").write_text("select * from raw.customers\n")
    with pytest.raises(VersioningError, match=r"no snapshot of source\(s\) raw\.customers"):
        Project(orders_project).build(at="main")


def test_gc_keeps_the_links_a_historical_build_reads_and_drops_stale_ones(
    orders_project: Path,
) -> None:
    csv = orders_project / "data/orders.csv"
    old = csv.read_bytes()
    project = Project(orders_project)
    project.build()
    project.commit("v1")
    _rewrite(csv, NEW_CSV)
    project.build()
    project.commit("v2")
    project.build(at="main~1")
    links = orders_project / ".sqlops/at"
    project.gc()
    assert any(links.iterdir())
    assert_frame_equal(_table(project, "marts.revenue"), _revenue(old), check_dtypes=False)
    assert project.table("raw.orders").height == 5  # the source view still reads its links
    project.build()
    project.gc()
    assert not any(links.iterdir())
    assert project.table("raw.orders").height == 3


def _latest(csv: bytes) -> pl.DataFrame:
    """An incremental model (latest value per id) computed with Polars over the file."""
    raw = pl.read_csv(csv, try_parse_dates=True)
    return raw.sort("updated_at").group_by("id").last().sort("id")


def test_build_at_rebuilds_incremental_models_from_the_inputs_at_the_ref(
    make_project: ProjectFactory,
) -> None:
    old = b"id,updated_at,value\n1,2026-01-01,10\n2,2026-01-02,20\n3,2026-01-03,30\n"
    root = make_project(
        {
            "sqlops.toml": '[sources."raw.events"]\npath = "data/events.csv"\n',
            "sql/s/latest.sql": "-- materialized: incremental\n-- unique_key: id\n"
            "-- cursor: updated_at\nselect id, updated_at, value from raw.events\n",
        }
    )
    csv = root / "data/events.csv"
    csv.parent.mkdir(exist_ok=True)
    csv.write_bytes(old)
    project = Project(root)
    project.build()
    project.commit("v1")
    # history is rewritten (id 2 corrected in place) and a row is added
    new = (
        "id,updated_at,value\n1,2026-01-01,10\n2,2026-01-02,99\n3,2026-01-03,30\n4,2026-01-04,40\n"
    )
    _rewrite(csv, new)
    project.build()
    project.commit("v2")
    assert project.build(at="main~1").ok
    assert_frame_equal(project.table("s.latest").sort("id"), _latest(old), check_dtypes=False)
    again = project.build(at="main~1")  # the same inputs: nothing to redo
    assert all(n.status == "skipped" for n in again.models)
    # back on today's file: rebuilt in full, not today's rows appended to v1's history
    project.build()
    expected = _latest(new.encode())
    assert_frame_equal(project.table("s.latest").sort("id"), expected, check_dtypes=False)
    assert project.table("s.latest").filter(pl.col("id") == 2)["value"][0] == 99
