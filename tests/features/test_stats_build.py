"""Statistics of a large table model at build: exact rows, NULLs, min and max; the rest from
the sample the build keeps while the table is staged — a uniform one (a periodic column's
mean is right), the same for the same rows, with every type restored, one file per table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

import sqlops
from sqlops.catalog.features import FeatureCatalog

from conftest import ProjectFactory

ROWS = 300_000
CONFIG = """
[entities.driver]
join_keys = ["driver_id"]

[feature_views.big]
source = "marts.big"
entities = ["driver"]
timestamp = "ts"
features = ["x", "n", "s", "h"]
"""
MODEL = """-- materialized: table
select i % 1000 as driver_id, timestamp '2024-01-01' + to_seconds(i) as ts,
  case when i % 7 = 0 then null else (i % 50000)::double end as x,
  (i * {factor})::bigint as n,
  'v' || (i % 13)::varchar as s,
  (i::hugeint * 100000000000000000000) as h
from range({rows}) t(i)
"""


def project(make_project: ProjectFactory, factor: int = 1) -> sqlops.Project:
    root = make_project(
        {"sqlops.toml": CONFIG, "sql/marts/big.sql": MODEL.format(factor=factor, rows=ROWS)}
    )
    proj = sqlops.Project(root)
    proj.build(full_refresh=True).raise_on_error()
    return proj


def stats(proj: sqlops.Project) -> dict[str, Any]:
    return dict(FeatureCatalog(proj.config.catalog_path).latest_views()["big"]["stats"])


def frame(proj: sqlops.Project) -> pl.DataFrame:
    """The table as plain DuckDB reads it from the warehouse."""
    con = duckdb.connect(str(proj.config.state_path / "warehouse.duckdb"), read_only=True)
    try:
        return con.sql("SELECT x, n, s, CAST(h AS DOUBLE) AS h FROM marts.big").pl()
    finally:
        con.close()


def samples(proj: sqlops.Project) -> list[Path]:
    return sorted((proj.config.state_path / "cache/samples").glob("*.parquet"))


def test_large_table_statistics_from_the_kept_sample(make_project: ProjectFactory) -> None:
    proj = project(make_project)
    got, want = stats(proj), frame(proj)
    (kept,) = samples(proj)  # the build kept one, and statistics read it
    assert got["x"]["sample_rows"] == pl.read_parquet(kept).height
    for col in ("x", "n", "h"):
        s, w = got[col], want[col]
        assert (s["rows"], s["nulls"]) == (ROWS, w.null_count()), col
        assert (s["min"], s["max"]) == pytest.approx((w.min(), w.max())), col
        assert s["sampled"] and 0.5 * 100_000 < s["sample_rows"] < 2 * 100_000
        assert s["mean"] == pytest.approx(w.mean(), rel=0.02), col
        assert s["std"] == pytest.approx(w.std(), rel=0.02), col
        assert s["p50"] == pytest.approx(w.quantile(0.5, "linear"), rel=0.05), col
    # x repeats every 50,000 rows: 42,857 values, each ~5 times; n is a key
    assert got["x"]["distinct"] == pytest.approx(want["x"].drop_nulls().n_unique(), rel=0.05)
    assert got["n"]["distinct"] == pytest.approx(ROWS, rel=0.05)
    assert got["h"]["type"] == "HUGEINT"
    hist = got["s"]["histogram"]
    assert {t["value"] for t in hist["top"]} < set(want["s"].unique()) and len(hist["top"]) == 10
    assert sum(t["count"] for t in hist["top"]) + hist["other"] == got["s"]["sample_rows"]
    assert got["s"]["distinct"] == 13


def test_the_same_rows_give_the_same_statistics(make_project: ProjectFactory) -> None:
    """The kept sample is chosen by row position, not at random: rebuilding the same rows
    records the same estimates; changed rows replace the table's sample file."""
    proj = project(make_project)
    first, kept = stats(proj), samples(proj)
    proj.build(full_refresh=True).raise_on_error()
    assert stats(proj) == first and samples(proj) == kept
    changed = project(make_project, factor=3)
    assert stats(changed)["n"]["max"] == 3 * (ROWS - 1)
    assert len(samples(changed)) == 1 and samples(changed) != kept


def test_no_feature_views_keep_no_samples(make_project: ProjectFactory) -> None:
    root = make_project({"sql/marts/big.sql": MODEL.format(factor=1, rows=ROWS)})
    proj = sqlops.Project(root)
    proj.build().raise_on_error()
    assert samples(proj) == []


def test_samples_of_removed_tables_are_deleted(make_project: ProjectFactory) -> None:
    proj = project(make_project)
    assert len(samples(proj)) == 1
    (proj.root / "sql/marts/big.sql").unlink()
    (proj.root / "sqlops.toml").write_text("")
    proj = sqlops.Project(proj.root)
    proj.build().raise_on_error()
    assert samples(proj) == []


TWO_VIEWS = """
[entities.driver]
join_keys = ["driver_id"]

[feature_views.left]
source = "marts.typed"
entities = ["driver"]
timestamp = "ts"
features = ["iv", "en"]

[feature_views.right]
source = "marts.typed"
entities = ["driver"]
timestamp = "ts"
features = ["en", "tz", "xs"]
"""
TYPED = """-- materialized: table
select i % 1000 as driver_id, timestamp '2024-01-01' + to_seconds(i) as ts,
  case when i % 9 = 0 then null else to_days((i % 40)::int) end as iv,
  (['a', 'b', 'c'])[1 + i % 3]::enum('c', 'b', 'a') as en,
  ('12:00:00+0' || (i % 7)::varchar)::timetz as tz,
  [i % 4, i % 5] as xs
from range(250000) t(i)
"""


def test_two_views_of_one_model_with_stored_types(make_project: ProjectFactory) -> None:
    """Two views asking different columns of one large model, of types its parts store as
    another type (INTERVAL, ENUM, TIMETZ) or nested: one sample holds both views' columns,
    and every statistic agrees with plain DuckDB over the table."""
    root = make_project({"sqlops.toml": TWO_VIEWS, "sql/marts/typed.sql": TYPED})
    proj = sqlops.Project(root)
    proj.build().raise_on_error()
    (kept,) = samples(proj)
    assert set(pl.read_parquet_schema(kept)) == {"iv", "en", "tz", "xs"}
    views = FeatureCatalog(proj.config.catalog_path).latest_views()
    con = duckdb.connect(str(proj.config.state_path / "warehouse.duckdb"), read_only=True)
    try:
        for view, names in (("left", ["iv", "en"]), ("right", ["en", "tz", "xs"])):
            got = views[view]["stats"]
            assert set(got) == set(names)
            for name in names:
                rows, nulls, distinct = con.execute(
                    f"SELECT count(*), count(*) - count({name}), count(DISTINCT {name}) "
                    "FROM marts.typed"
                ).fetchall()[0]
                s = got[name]
                assert (s["rows"], s["nulls"]) == (rows, nulls), (view, name)
                assert s["sampled"] and s["distinct"] == distinct, (view, name)
                ((present,),) = con.execute(
                    f"SELECT count({name}) FROM read_parquet('{kept}')"
                ).fetchall()
                hist = s["histogram"]
                assert sum(t["count"] for t in hist["top"]) + hist["other"] == present
    finally:
        con.close()
