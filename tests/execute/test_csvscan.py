"""CSV sources read by the opt-in Polars reader for table models give what DuckDB's reader
gives, and so do the strategies over it (view inlining, copied scans)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import sqlops
from sqlops import Project

from conftest import ProjectFactory

POLARS = '[engine]\ncsv_reader = "polars"\n'
MODEL = """-- materialized: table
select o.customer_id, count(*) as n, sum(o.amount) as total, min(o.ordered_at) as first
from raw.orders o
where o.amount is not null
group by all
"""


def _build(root: Path, reader: str) -> pl.DataFrame:
    (root / "sqlops.toml").write_text(
        f'[engine]\ncsv_reader = "{reader}"\n[sources."raw.orders"]\npath = "data/orders.csv"\n'
    )
    project = Project(root)
    result = project.build(full_refresh=True)
    assert result.ok, [n.error for n in result.nodes]
    return project.table("s.summary").sort("customer_id", nulls_last=True)


def test_polars_and_duckdb_readers_agree(make_project: ProjectFactory) -> None:
    rows = ["order_id,customer_id,amount,ordered_at"]
    rows += [
        f"{i},{i % 7 or ''},{i * 1.5 if i % 5 else ''},2026-01-{i % 28 + 1:02d}"
        for i in range(1, 500)
    ]
    root = make_project({"data/orders.csv": "\n".join(rows) + "\n", "sql/s/summary.sql": MODEL})
    fast = _build(root, "polars")
    plain = _build(root, "duckdb")
    assert_frame_equal(fast, plain)
    assert fast.schema["first"] == pl.Date


def test_errors_keep_their_line_numbers(make_project: ProjectFactory) -> None:
    bad = MODEL.replace("count(*) as n", "count(*) as n,\n    sum(o.nope) as x")
    rows = "order_id,customer_id,amount,ordered_at\n1,1,2.0,2026-01-01\n"
    root = make_project({"data/orders.csv": rows, "sql/s/summary.sql": bad})
    (root / "sqlops.toml").write_text(POLARS + '[sources."raw.orders"]\npath = "data/orders.csv"\n')
    node = next(n for n in Project(root).build().models if n.name == "s.summary")
    assert node.status == "error"
    assert node.error is not None and node.error.startswith("sql/s/summary.sql:3:")


def test_types_polars_guesses_wrong_fall_back_to_duckdb(make_project: ProjectFactory) -> None:
    rows = ["id,code"] + [f"{i},{i}" for i in range(20_000)] + ["20000,A7"]
    root = make_project(
        {
            "data/orders.csv": "\n".join(rows) + "\n",
            "sql/s/summary.sql": "-- materialized: table\n"
            "select max(code) as m, count(*) as customer_id from raw.orders",
        }
    )
    (root / "sqlops.toml").write_text(POLARS + '[sources."raw.orders"]\npath = "data/orders.csv"\n')
    project = Project(root)
    assert project.build().ok
    assert project.table("s.summary").to_dicts() == [{"m": "A7", "customer_id": 20_001}]


@pytest.mark.parametrize("options", ['{ quote = "\'" }', '{ dateformat = "%d/%m/%Y" }'])
def test_unusual_options_use_duckdb(make_project: ProjectFactory, options: str) -> None:
    from sqlops.config import load_config
    from sqlops.execute.context import Sniffs
    from sqlops.execute.csvscan import polars_scan
    from sqlops.execute.engine import Engine
    from sqlops.project.sources import resolve_sources

    root = make_project(
        {
            "data/orders.csv": "a\n1\n",
            "sqlops.toml": '[sources."raw.orders"]\npath = "data/orders.csv"\n'
            f"options = {options}\n",
        }
    )
    source = resolve_sources(load_config(root), {})["raw.orders"]
    assert polars_scan(Engine.open(), source, Sniffs()) is None


def test_views_between_table_and_csv_are_inlined(make_project: ProjectFactory) -> None:
    rows = ["order_id,customer_id,amount,ordered_at"]
    rows += [f"{i},{i % 5},{i * 0.5},2026-02-{i % 28 + 1:02d}" for i in range(1, 300)]
    root = make_project(
        {
            "data/orders.csv": "\n".join(rows) + "\n",
            "sql/v/orders.sql": "select customer_id, amount, ordered_at from raw.orders "
            "where amount > 10",
            "sql/v/recent.sql": "select * from v.orders as o where o.ordered_at > '2026-02-05'",
            "sql/s/summary.sql": "-- materialized: table\nselect customer_id, sum(amount) as total,"
            " count(*) as n, min(recent.ordered_at) as first\nfrom v.recent group by all",
        }
    )
    from sqlops.execute.inline import expand

    assert_frame_equal(_build(root, "polars"), _build(root, "duckdb"))
    spec = Project(root).load()
    fast = expand(spec.models["s.summary"], spec.models, {"raw.orders": "scan"})
    assert fast is not None and '"scan" AS "orders"' in fast and ') AS "recent"' in fast


# Polars frames reach DuckDB through the Arrow C stream interface (see Engine.register):
# narrowed and filtered in Polars, without importing pyarrow.

FRAME = {
    "i": [1, 2, None],
    "f": [1.5, float("nan"), None],
    "s": ["a", None, "ç"],
    "d": [date(2026, 1, 1), None, date(2026, 3, 1)],
    "ts": [datetime(2026, 1, 1, 12, tzinfo=UTC), None, datetime(2026, 1, 2, tzinfo=UTC)],
    "dec": [Decimal("1.25"), Decimal("-2.50"), None],
    "b": [True, None, False],
    "l": [[1, 2], [], None],
    "st": [{"a": 1, "b": "x"}, None, {"a": None, "b": "z"}],
    "ln": [[None], None, []],
}


@pytest.mark.parametrize("lazy", [False, True])
def test_polars_frames_read_back_unchanged(lazy: bool) -> None:
    frame = pl.DataFrame(FRAME, schema_overrides={"dec": pl.Decimal(10, 2)}).with_columns(
        cat=pl.Series(["x", "y", "x"], dtype=pl.Enum(["x", "y"]))
    )
    got = sqlops.sql("select * from df", df=frame.lazy() if lazy else frame)
    assert got.columns == frame.columns
    expected = [{**row, "f": str(row["f"])} for row in frame.to_dicts()]  # nan != nan
    assert [{**row, "f": str(row["f"])} for row in got.to_dicts()] == expected


def test_filters_read_like_duckdb_including_nan(tmp_path: Path) -> None:
    # DuckDB sorts NaN above every number, and Parquet statistics (two rows per row group
    # here) leave NaN out: filters handed to the Polars scan must still keep the NaN row.
    path = tmp_path / "x.parquet"
    pl.DataFrame(
        {"k": [1, 2, 3, 4], "x": [1.0, float("nan"), 2.0, None], "s": ["a", "b", None, "d"]}
    ).write_parquet(path, row_group_size=2)
    lf = pl.scan_parquet(path)
    cases = {
        "x > 1.5": [2, 3],
        "x is not null": [1, 2, 3],
        "k >= 2 and s is not null": [2, 4],
        "s in ('a', 'd') or k = 3": [1, 3, 4],
        "not (k < 3)": [3, 4],
    }
    for where, keys in cases.items():
        got = sqlops.sql(f"select k from lf where {where} order by k", lf=lf)
        assert got["k"].to_list() == keys, where


def test_reading_a_polars_scan_does_not_import_pyarrow(tmp_path: Path) -> None:
    pytest.importorskip("duckdb._sources", reason="this DuckDB reads Polars through pyarrow")
    csv = tmp_path / "t.csv"
    csv.write_text("a,b,c\n1,x,2.5\n2,,3.5\n3,z,\n")
    script = f"""
import sys
import polars as pl
from sqlops.execute.engine import Engine
engine = Engine.open()
engine.register("t", pl.scan_csv({str(csv)!r}))
rows = engine.execute("select a, c from t where c is not null order by a").fetchall()
engine.execute("copy (select * from t) to {str(tmp_path / "t.parquet")!r} (format parquet)")
print(rows, "pyarrow" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[(1,", "2.5),", "(2,", "3.5)]", "False"]


# A table model with a partition-wide window aggregate (zscore) over a CSV: the scan (Polars'
# or DuckDB's reader) is first copied into a temporary table with only the columns DuckDB's
# plan reads from it. Every shape of column use must still read what DuckDB alone computes from the
# file.
WINDOWED = {
    "seed": "select area, zscore(age) as age from v.houses",
    "filter-only column": "select zscore(age) as z from raw.houses where price > 100 order by z",
    "star": "select *, avg(age) over (partition by true) as m from raw.houses order by id",
    "count star": "select count(*) over (partition by true) as n, h.id from raw.houses h "
    "order by h.id",
    "only a star count": "select count(*) over (partition by 1) as n from raw.houses limit 3",
    "filter pushed": "select zscore(area) as z, id from raw.houses where note = 'n7' "
    "or price between 20 and 50 order by id",
    "quoted mixed case": 'select "Area" as a, minmax(age) as m from raw.houses order by a, m',
    "row value": "select h, avg(h.age) over (partition by h.price > 100) as m from raw.houses h "
    "order by h.id",
}
WINDOWED_VIEW = "select area, age from raw.houses where area is not null and age is not null"


@pytest.mark.parametrize("reader", ["polars", "duckdb"])
@pytest.mark.parametrize("case", WINDOWED)
def test_window_models_over_csv_read_what_duckdb_reads(
    make_project: ProjectFactory, case: str, reader: str
) -> None:
    rows = ["id,area,age,price,note"]
    rows += [
        f"{i},{'' if i % 11 == 0 else i * 1.5},{'' if i % 13 == 0 else i % 40},{i * 7},n{i}"
        for i in range(1, 3000)
    ]
    root = make_project(
        {
            "data/houses.csv": "\n".join(rows) + "\n",
            "sql/v/houses.sql": WINDOWED_VIEW,
            "sql/s/result.sql": f"-- materialized: table\n{WINDOWED[case]}\n",
        }
    )
    engine = f'[engine]\ncsv_reader = "{reader}"\n'
    (root / "sqlops.toml").write_text(engine + '[sources."raw.houses"]\npath = "data/houses.csv"\n')
    project = Project(root)
    result = project.build()
    assert result.ok, [n.error for n in result.nodes]
    got = project.table("s.result")

    import duckdb

    from sqlops.macros import register_macros

    con = duckdb.connect()
    register_macros(con)
    con.execute("create schema raw; create schema v")
    con.execute(f"create view raw.houses as select * from read_csv('{root / 'data/houses.csv'}')")
    con.execute(f"create view v.houses as {WINDOWED_VIEW}")
    expected = pl.from_arrow(con.sql(WINDOWED[case]).to_arrow_table())
    assert isinstance(expected, pl.DataFrame)
    if case == "seed":  # no ORDER BY: compare as sets
        got, expected = got.sort(pl.all()), expected.sort(pl.all())
    assert_frame_equal(got, expected, check_column_order=True)


def test_each_csv_is_sniffed_once_per_build(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The source's view and the Polars scan both pin what DuckDB's sniffer finds: one
    # sniff per file version serves both (a large file's sniff costs ~60 ms).
    from sqlops.execute.engine import Engine

    sniffs: list[str] = []
    fetch = Engine.fetch_record

    def counting(self: Engine, sql: str) -> dict[str, object]:
        sniffs.extend([sql] if "sniff_csv(" in sql else [])
        return fetch(self, sql)

    monkeypatch.setattr(Engine, "fetch_record", counting)
    rows = "order_id,customer_id,amount,ordered_at\n1,1,2.0,2026-01-01\n2,2,3.5,2026-01-02\n"
    root = make_project({"data/orders.csv": rows, "sql/s/summary.sql": MODEL})
    (root / "sqlops.toml").write_text(POLARS + '[sources."raw.orders"]\npath = "data/orders.csv"\n')
    project = Project(root)
    assert project.build().ok
    assert len(sniffs) == 1, sniffs
    (root / "data/orders.csv").write_text(rows + "3,1,4.0,2026-01-03\n")
    assert project.build().ok
    assert len(sniffs) == 2, sniffs  # the changed file, once
    assert project.table("s.summary").sort("customer_id")["n"].to_list() == [2, 1]
