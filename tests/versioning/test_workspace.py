"""Between the warehouse and the store: what checkout and commit do to the warehouse when
they take their shortcuts (views left alone, no union by name, an empty commit known
without DuckDB), checked against plain DuckDB and Polars reading the same files."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sqlops import Project

from conftest import ProjectFactory, write_parquet

pytestmark = pytest.mark.usefixtures("backend")


def _events_project(make_project: ProjectFactory) -> Path:
    root = make_project(
        {
            "sqlops.toml": '[sources."raw.events"]\npath = "data/events.parquet"\n',
            "sql/s/events.sql": "-- materialized: incremental\n-- cursor: id\n"
            "select * from raw.events\n",
        }
    )
    (root / "data").mkdir()
    write_parquet(
        root / "data/events.parquet", "SELECT range AS id, range * 2 AS a FROM range(3000)"
    )
    return root


def test_checkout_reads_parts_of_different_columns_by_name(make_project: ProjectFactory) -> None:
    root = _events_project(make_project)
    project = Project(root)
    project.build()
    first = project.commit("id, a")
    # the source gains a column: the incremental model appends a part that has it
    write_parquet(
        root / "data/events.parquet",
        "SELECT range AS id, range * 2 AS a, 'x' || range AS b FROM range(5000)",
    )
    project.build()
    second = project.commit("id, a, b")
    assert first is not None and second is not None
    parts = [project.objects.path(p) for p in second.tree["s.events"].parts]
    assert len(parts) == 2
    expected = pl.concat([pl.read_parquet(p) for p in parts], how="diagonal")
    assert expected.columns == ["id", "a", "b"]
    project.checkout(first.id)
    assert project.table("s.events").columns == ["id", "a"]
    project.checkout("main")
    assert_frame_equal(project.table("s.events").sort("id"), expected.sort("id"))


def test_checkout_recreates_a_view_dropped_by_hand(orders_project: Path) -> None:
    project = Project(orders_project)
    project.build()
    project.commit("v1")
    before = project.table("marts.top")
    project.checkout("main")  # already there: every view is left as it is
    con = duckdb.connect(str(project.config.warehouse_path))
    con.execute("DROP VIEW marts.top")
    con.close()
    project.checkout("main")
    assert_frame_equal(project.table("marts.top"), before)


def test_commit_after_an_empty_commit_sees_a_rebuild(orders_project: Path) -> None:
    project = Project(orders_project)
    project.build()
    first = project.commit("one")
    assert first is not None
    assert project.commit("nothing new") is None
    assert project.commit("still nothing") is None
    csv = orders_project / "data/orders.csv"
    csv.write_text(csv.read_text() + "6,40,99.0,2026-01-05\n")
    os.utime(csv, ns=(10**18, 10**18))
    assert project.commit("not built yet") is None  # a commit records what was built
    project.build()
    second = project.commit("built")
    assert second is not None and second.parents == (first.id,)
    assert project.table("raw.orders", ref="main").height == 6
    assert project.commit("nothing new") is None


def test_a_commit_after_a_revert_keeps_the_revert(orders_project: Path) -> None:
    project = Project(orders_project)
    project.build()
    one = project.commit("one")
    path = orders_project / "sql/marts/top.sql"
    path.write_text(path.read_text().replace("> 10", "> 12.5"))
    project.build()
    two = project.commit("two")
    assert one is not None and two is not None and project.commit("nothing new") is None
    undone = project.revert("main")  # the head moves, and the warehouse with it
    assert undone.tree["marts.top"] == one.tree["marts.top"]
    assert project.table("marts.top").height == project.table("marts.top", ref="main~2").height
    assert project.commit("what the warehouse holds") is None  # the revert is not undone
    assert project.table("marts.top", ref="main").height == 2


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_snapshot_parts_are_the_same_bytes_whatever_the_thread_count(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    from sqlops.execute import parts as part_writer
    from sqlops.storage import objects

    monkeypatch.setattr(part_writer, "PART_BYTES", 1 << 20)  # ~13 parts of 16,384 rows
    select = "SELECT range AS id, hash(range) AS h, md5(range::VARCHAR) AS s FROM range(200000)"
    root = make_project({"sqlops.toml": '[sources."raw.big"]\npath = "data/big.parquet"\n'})
    (root / "data").mkdir()
    write_parquet(root / "data/big.parquet", select)
    project = Project(root, engine={"threads": threads})
    project.build()
    made = project.commit("snapshot")
    assert made is not None
    parts = made.tree["raw.big"].parts
    assert len(parts) == 13
    # the same cut points and bytes as plain DuckDB on one thread, copying the rows out of
    # a temporary table one part after another
    con = duckdb.connect(config={"threads": 1})
    con.execute(f"CREATE TEMP TABLE t AS SELECT * FROM '{root}/data/big.parquet'")
    for k, part in enumerate(parts):
        target = root / f"expected-{k}.parquet"
        con.execute(
            f"COPY (SELECT * FROM t WHERE rowid >= {k * 16384} AND rowid < {(k + 1) * 16384}) "
            f"TO '{target}' (FORMAT parquet, KV_METADATA {{'sqlops_table': 'raw.big'}})"
        )
        assert objects.file_hash(target) == part, k
    con.close()
