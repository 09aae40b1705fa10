"""A CSV source with a ragged row (more or fewer fields than its header) fails its build
with the file and line of that row, the line plain DuckDB names when its reader meets it."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

import sqlops

from conftest import ProjectFactory


def csv_rows(n: int, bad: int, extra: str) -> str:
    rows = ["id,a,b"] + [f"{i},{i * 2},x{i}" for i in range(n)]
    rows[bad] += extra
    return "\n".join(rows) + "\n"


def duckdb_line(path: Path) -> int | None:
    """The line DuckDB's own reader names for the file, when it names one."""
    try:
        duckdb.sql(f"SELECT count(*) FROM read_csv('{path}')").fetchall()
    except duckdb.Error as exc:
        found = re.search(r"CSV Error on Line: (\d+)", str(exc))
        return int(found.group(1)) if found else None
    return None


@pytest.mark.parametrize(
    ("n", "bad", "failing"),
    [
        (10, 4, "raw.t"),  # inside DuckDB's sniffing sample: the source's view fails
        (10, 10, "raw.t"),
        (30_000, 25_001, "m.t"),  # past it: reading the rows fails, in the model
    ],
)
def test_a_ragged_row_is_named_by_file_and_line(
    make_project: ProjectFactory, n: int, bad: int, failing: str
) -> None:
    root = make_project(
        {
            # typed columns, as `sqlops init` writes: DuckDB's sniffer then cannot settle on
            # a narrower dialect that happens to fit (as plain read_csv of the file does)
            "sqlops.toml": '[sources."raw.t"]\npath = "data/t.csv"\ncolumns = { a = "BIGINT" }\n',
            "data/t.csv": csv_rows(n, bad, ",extra"),
            "sql/m/t.sql": "-- materialized: table\nselect * from raw.t\n",
        }
    )
    line = bad + 1  # rows[0] is the header, on line 1
    plain = duckdb_line(root / "data/t.csv")
    assert plain in (None, line)  # where DuckDB names a line, it is this one
    result = sqlops.Project(root).build()
    failed = [node for node in result.nodes if node.status == "error"]
    assert [node.name for node in failed] == [failing]
    assert failed[0].error is not None
    assert f"data/t.csv:{line}: " in failed[0].error
    assert "3" in failed[0].error and "4" in failed[0].error  # the header's width and the row's
