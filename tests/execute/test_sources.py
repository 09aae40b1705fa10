"""Every kind of source, read through a model and compared with an independent reader."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sqlops import Project
from sqlops.errors import SourceError

from conftest import ProjectFactory

FRAME = pl.DataFrame(
    {"id": [1, 2, 3, 4], "city": ["Recife", "Natal", None, "Recife"], "x": [1.5, 2.5, 3.5, None]}
)


def _build_and_read(root: Path, source: str = "raw.t") -> pl.DataFrame:
    (root / "sql/s").mkdir(parents=True, exist_ok=True)
    (root / "sql/s/out.sql").write_text(f"-- materialized: table\nselect * from {source}")
    project = Project(root)
    result = project.build()
    assert result.ok, [n.error for n in result.nodes]
    return project.table("s.out").sort("id")


def _config(root: Path, body: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "sqlops.toml").write_text('[sources."raw.t"]\n' + body)


def test_csv_with_delimiter_and_types(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "data").mkdir(parents=True)
    (root / "data/t.txt").write_text("id;day;code\n1;2026-03-01;007\n2;2026-03-02;010\n")
    _config(
        root,
        'path = "data/t.txt"\nformat = "csv"\noptions = { delim = ";", header = true }\n'
        'columns = { code = "VARCHAR", day = "DATE" }\n',
    )
    got = _build_and_read(root)
    assert got["code"].to_list() == ["007", "010"]
    assert got.schema["day"] == pl.Date


@pytest.mark.parametrize("fmt", ["parquet", "json", "ndjson", "csv"])
def test_file_formats_round_trip(tmp_path: Path, fmt: str) -> None:
    root = tmp_path / "p"
    (root / "data").mkdir(parents=True)
    target = root / f"data/t.{fmt}"
    {
        "parquet": FRAME.write_parquet,
        "json": FRAME.write_json,
        "ndjson": FRAME.write_ndjson,
        "csv": FRAME.write_csv,
    }[fmt](target)
    _config(root, f'path = "data/t.{fmt}"\n')
    assert_frame_equal(_build_and_read(root), FRAME, check_dtypes=False)


def test_a_changed_csv_is_read_as_it_is_now(tmp_path: Path) -> None:
    """A CSV source's view has the sniffed columns and types written in; when the file
    changes (a new column, a column turned text), the next build reads the new file."""
    root = tmp_path / "p"
    (root / "data").mkdir(parents=True)
    csv = root / "data/t.csv"
    csv.write_text("id,x\n1,1.5\n2,2.5\n")
    _config(root, 'path = "data/t.csv"\n')
    (root / "sql/s").mkdir(parents=True)
    (root / "sql/s/v.sql").write_text("-- materialized: view\nselect * from raw.t")
    project = Project(root)
    assert project.build().ok
    assert project.table("s.v").columns == ["id", "x"]
    csv.write_text("id,x,label\n1,one,a\n2,two,b\n")
    assert project.build().ok
    with duckdb.connect() as con:
        expected = con.sql(f"select * from read_csv('{csv}')").pl()
    for name in ("raw.t", "s.v"):
        assert_frame_equal(project.table(name), expected)


def test_glob_of_csv_files(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "data").mkdir(parents=True)
    FRAME.head(2).write_csv(root / "data/part1.csv")
    FRAME.tail(2).write_csv(root / "data/part2.csv")
    _config(root, 'path = "data/part*.csv"\n')
    assert _build_and_read(root)["id"].to_list() == [1, 2, 3, 4]


def test_hive_partitioned_folder(tmp_path: Path) -> None:
    root = tmp_path / "p"
    for year in (2025, 2026):
        folder = root / f"data/events/year={year}"
        folder.mkdir(parents=True)
        FRAME.with_columns(pl.col("id") + year * 10).write_parquet(folder / "part.parquet")
    _config(root, 'path = "data/events"\n')
    got = _build_and_read(root)
    assert got.height == 8
    assert sorted(set(got["year"].to_list())) == [2025, 2026]


def test_table_in_another_duckdb_file(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    con = duckdb.connect(str(root / "other.duckdb"))
    con.execute("create schema shop; create table shop.items as select * from FRAME")
    con.close()
    _config(root, 'path = "other.duckdb"\ntable = "shop.items"\n')
    assert_frame_equal(_build_and_read(root), FRAME, check_dtypes=False)


def test_table_in_a_sqlite_file(tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    con = sqlite3.connect(root / "legacy.sqlite")
    con.execute("create table items (id integer, city text, x real)")
    con.executemany("insert into items values (?, ?, ?)", FRAME.rows())
    con.commit()
    con.close()
    _config(root, 'path = "legacy.sqlite"\ntable = "items"\n')
    assert_frame_equal(_build_and_read(root), FRAME, check_dtypes=False)


@pytest.mark.parametrize(
    "frame",
    [FRAME, FRAME.lazy(), FRAME.to_pandas(), FRAME.to_arrow()],
    ids=["polars", "lazy", "pandas", "arrow"],
)
def test_frames_passed_at_build_time(make_project: ProjectFactory, frame: object) -> None:
    root = make_project({"sql/s/out.sql": "-- materialized: table\nselect * from raw.t"})
    project = Project(root)
    assert project.build(sources={"raw.t": frame}).ok
    got = project.table("s.out").sort("id")
    assert_frame_equal(got, FRAME, check_dtypes=False)


def test_a_new_frame_rebuilds_downstream(make_project: ProjectFactory) -> None:
    root = make_project(
        {"sql/s/out.sql": "-- materialized: table\nselect count(*) as n from raw.t"}
    )
    project = Project(root)
    project.build(sources={"raw.t": FRAME})
    project.build(sources={"raw.t": FRAME.head(1)})
    assert project.table("s.out")["n"].to_list() == [1]


def test_unreadable_frame_is_a_clear_error(make_project: ProjectFactory) -> None:
    root = make_project({"sql/s/out.sql": "select * from raw.t"})
    result = Project(root).build(sources={"raw.t": [1, 2, 3]})
    source = next(n for n in result.nodes if n.name == "raw.t")
    assert source.status == "error"
    assert "cannot read list for" in (source.error or "")


def test_frame_source_name_must_be_qualified(make_project: ProjectFactory) -> None:
    root = make_project({"sql/s/out.sql": "select 1 as x"})
    with pytest.raises(SourceError, match=r"must be schema\.table"):
        Project(root).build(sources={"orders": FRAME})
