"""Incremental models: only new rows processed, upserted by key; --full-refresh rebuilds."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import sqlops
from sqlops import Project

from conftest import ProjectFactory

EVENTS = "id,updated_at,value\n1,2026-01-01,10\n2,2026-01-02,20\n3,2026-01-03,30\n"


def _project(make_project: ProjectFactory) -> Path:
    return make_project(
        {
            "sqlops.toml": '[sources."raw.events"]\npath = "data/events.csv"\n',
            "data/events.csv": EVENTS,
            "sql/s/latest.sql": """
                -- materialized: incremental
                -- unique_key: id
                -- cursor: updated_at
                select id, updated_at, value * 2 as doubled from raw.events
            """,
        }
    )


def _append(root: Path, rows: str) -> None:
    csv = root / "data/events.csv"
    csv.write_text(csv.read_text() + rows)
    st = os.stat(csv)
    os.utime(csv, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


def _expected(root: Path) -> pl.DataFrame:
    raw = pl.read_csv(root / "data/events.csv", try_parse_dates=True)
    latest = raw.sort("updated_at").group_by("id").last()
    return latest.select("id", "updated_at", (pl.col("value") * 2).alias("doubled")).sort("id")


def test_incremental_processes_only_new_rows_and_upserts(make_project: ProjectFactory) -> None:
    root = _project(make_project)
    project = Project(root)
    assert project.build().models[0].rows == 3
    _append(root, "2,2026-01-04,25\n4,2026-01-05,40\n")
    plan = project.plan()
    assert plan.models[0].incremental
    assert "incremental" in plan.models[0].reason
    result = project.build()
    assert result.models[0].rows == 2  # only the rows past the cursor were computed
    got = project.table("s.latest").sort("id")
    assert_frame_equal(got, _expected(root), check_dtypes=False)


def test_full_refresh_rebuilds_from_scratch(make_project: ProjectFactory) -> None:
    root = _project(make_project)
    project = Project(root)
    project.build()
    _append(root, "5,2026-01-06,50\n")
    result = project.build(full_refresh=True)
    assert result.models[0].rows == 4
    assert not project.plan().models[0].incremental
    assert_frame_equal(project.table("s.latest").sort("id"), _expected(root), check_dtypes=False)


def test_changing_the_sql_rebuilds_fully(make_project: ProjectFactory) -> None:
    root = _project(make_project)
    project = Project(root)
    project.build()
    path = root / "sql/s/latest.sql"
    path.write_text(path.read_text().replace("value * 2", "value * 3"))
    node = project.plan().models[0]
    assert not node.incremental and "full rebuild" in node.reason
    project.build()
    assert project.table("s.latest").sort("id")["doubled"].to_list() == [30, 60, 90]


def test_upsert_without_cursor_replaces_changed_keys(make_project: ProjectFactory) -> None:
    root = make_project(
        {
            "sqlops.toml": '[sources."raw.events"]\npath = "data/events.csv"\n',
            "data/events.csv": EVENTS,
            "sql/s/by_key.sql": "-- materialized: incremental\n-- unique_key: id\n"
            "select id, max(value) as value from raw.events group by id",
        }
    )
    project = Project(root)
    project.build()
    _append(root, "1,2026-01-09,99\n")
    project.build()
    got = project.table("s.by_key").sort("id")
    assert got.to_dicts() == [
        {"id": 1, "value": 99},
        {"id": 2, "value": 20},
        {"id": 3, "value": 30},
    ]


@pytest.mark.parametrize(
    ("header", "line"),
    [("-- unique_key: id", 2), ("-- unique_key: order_id\n-- cursor: updated_at", 3)],
)
def test_incremental_keys_must_be_output_columns_from_the_first_build(
    make_project: ProjectFactory, header: str, line: int
) -> None:
    root = make_project(
        {
            "sqlops.toml": '[sources."raw.o"]\npath = "o.csv"\n',
            "o.csv": "order_id,amount\n1,2.5\n",
            "sql/m/inc.sql": f"-- materialized: incremental\n{header}\nselect * from raw.o\n",
        }
    )
    for _ in range(2):  # the first build (nothing to merge yet) and the second
        result = sqlops.Project(root).build()
        (failed,) = [n for n in result.nodes if n.status == "error"]
        assert failed.error is not None
        assert failed.error.startswith(f"sql/m/inc.sql:{line}: ")
        assert "is not a column of m.inc (it returns order_id, amount)" in failed.error


def test_a_python_incremental_key_must_be_an_output_column(make_project: ProjectFactory) -> None:
    root = make_project(
        {
            "sql/m/py.py": (
                "import polars as pl\nimport sqlops\n\n"
                "@sqlops.model(materialized='incremental', unique_key=('id',))\n"
                "def inc():\n    return pl.DataFrame({'order_id': [1]})\n"
            )
        }
    )
    result = sqlops.Project(root).build()
    (failed,) = [n for n in result.nodes if n.status == "error"]
    assert failed.error is not None
    assert failed.error.startswith("sql/m/py.py:4: unique_key column 'id'")
