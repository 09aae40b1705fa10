"""Feature statistics against Polars: exact on small relations; on large ones exact rows,
NULLs, min and max, and labelled estimates from a sample; histograms on given edges, NULLs
never binned."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest

from sqlops.execute.engine import Engine
from sqlops.features.stats import SAMPLE_ROWS, feature_stats


@pytest.fixture
def con() -> Engine:
    return Engine.open()


def test_small_relation_is_exact(con: Engine) -> None:
    frame = pl.DataFrame(
        {
            "x": [1.0, 2.0, None, 4.0, 4.0, 10.0],
            "s": ["a", "b", "a", None, "a", "c"],
        }
    )
    con.register("t", frame)
    stats = feature_stats(con, "t", {"x": "DOUBLE", "s": "VARCHAR"})
    x = frame["x"]
    assert stats["x"]["distinct"] == 4 and stats["x"]["distinct_exact"]
    assert stats["x"]["nulls"] == 1 and stats["x"]["null_rate"] == pytest.approx(1 / 6)
    assert stats["x"]["std"] == pytest.approx(x.std())
    assert stats["x"]["p90"] == pytest.approx(x.quantile(0.9, "linear"))
    hist = stats["x"]["histogram"]
    assert hist["edges"][0] == 1.0 and hist["edges"][-1] == 10.0
    assert sum(hist["counts"]) == 5 and hist["counts"][-1] == 1  # 10.0 is in the last bin
    assert stats["s"]["histogram"] == {
        "kind": "categorical",
        "top": [{"value": "a", "count": 3}, {"value": "b", "count": 1}, {"value": "c", "count": 1}],
        "other": 0,
    }


def test_fixed_edges_count_values_outside(con: Engine) -> None:
    con.register("t", pl.DataFrame({"x": [-5.0, 0.0, 0.5, 1.0, 7.0, None]}))
    hist = feature_stats(con, "t", {"x": "DOUBLE"}, {"x": [0.0, 0.5, 1.0]})["x"]["histogram"]
    assert (hist["below"], hist["counts"], hist["above"]) == (1, [1, 2], 1)


def test_large_relation_has_exact_scalars_and_labelled_estimates(con: Engine) -> None:
    n = SAMPLE_ROWS * 4
    frame = pl.DataFrame({"x": pl.int_range(0, n, eager=True) % 50_000}).with_columns(
        pl.when(pl.col("x") % 10 == 0).then(None).otherwise(pl.col("x")).alias("x")
    )
    con.register("t", frame)
    stats = feature_stats(con, "t", {"x": "BIGINT"})["x"]
    x = frame["x"]
    assert (stats["rows"], stats["nulls"]) == (n, x.null_count())
    assert (stats["min"], stats["max"]) == (x.min(), x.max())
    assert stats["sampled"] and not stats["distinct_exact"]
    assert SAMPLE_ROWS * 0.9 < stats["sample_rows"] < SAMPLE_ROWS * 1.1
    assert stats["mean"] == pytest.approx(x.mean(), rel=0.02)
    assert stats["std"] == pytest.approx(x.std(), rel=0.02)
    assert stats["distinct"] == pytest.approx(x.n_unique() - 1, rel=0.05)
    assert stats["p50"] == pytest.approx(x.quantile(0.5, "linear"), rel=0.05)
    assert sum(stats["histogram"]["counts"]) <= stats["sample_rows"]


@pytest.mark.parametrize(
    ("values", "distinct"),
    [
        (pl.int_range(0, SAMPLE_ROWS * 5, eager=True), SAMPLE_ROWS * 5),  # a key: all unique
        (pl.int_range(0, SAMPLE_ROWS * 5, eager=True) % 7, 7),  # few values, all sampled
        ((pl.int_range(0, SAMPLE_ROWS * 5, eager=True) * 7919) % 200_000, 200_000),
    ],
    ids=["unique", "seven", "200k-each-2.5-times"],
)
def test_sampled_distinct_count_is_estimated_from_repeats(
    con: Engine, values: pl.Series, distinct: int
) -> None:
    """The estimate uses how often sampled values repeat: a key column is not reported as
    having only the sample's distinct values."""
    frame = pl.DataFrame({"x": values})
    assert frame["x"].n_unique() == distinct
    con.register("t", frame)
    stats = feature_stats(con, "t", {"x": "BIGINT"})["x"]
    assert stats["sampled"]
    assert stats["distinct"] == pytest.approx(distinct, rel=0.05)


def test_exact_scalars_of_a_parquet_relation(con: Engine, tmp_path: Path) -> None:
    """Rows, NULLs, min and max come exact from a Parquet-backed view (as a built model is),
    over several row groups and files."""
    n = SAMPLE_ROWS * 3
    frame = pl.DataFrame(
        {
            "x": pl.int_range(0, n, eager=True).cast(pl.Float64) * 1.5 - 7,
            "s": pl.int_range(0, n, eager=True).cast(pl.String),
        }
    ).with_columns(pl.when(pl.col("x") > 1000).then(pl.col("x")).alias("x"))
    for i, part in enumerate(frame.iter_slices(n // 3)):
        part.write_parquet(tmp_path / f"p{i}.parquet", row_group_size=10_000)
    con.execute(f"CREATE VIEW v AS SELECT * FROM read_parquet('{tmp_path}/p*.parquet')")
    stats = feature_stats(con, "v", {"x": "DOUBLE", "s": "VARCHAR"})
    for col in ("x", "s"):
        got, want = stats[col], frame[col]
        assert (got["rows"], got["nulls"]) == (n, want.null_count())
        assert (got["min"], got["max"]) == (want.min(), want.max())


PART_ROWS = [
    "SELECT 1.5::DOUBLE AS x, 'b' AS s, TIMESTAMP '2024-01-02' AS t, 3::BIGINT AS n,"
    " 1.25::DECIMAL(9,2) AS d",
    "SELECT 'nan'::DOUBLE AS x, 'a' AS s, TIMESTAMP '2024-01-01' AS t, -7::BIGINT AS n,"
    " -2.5::DECIMAL(9,2) AS d",
    "SELECT '-inf'::DOUBLE AS x, NULL::VARCHAR AS s, NULL::TIMESTAMP AS t, NULL::BIGINT AS n,"
    " NULL::DECIMAL(9,2) AS d",
    "SELECT NULL::DOUBLE AS x, 'é' AS s, TIMESTAMP '1900-01-01' AS t,"
    " 9223372036854775807::BIGINT AS n, 0::DECIMAL(9,2) AS d",
    "SELECT x, s, t, n, d FROM (SELECT 1.0::DOUBLE AS x, 'z' AS s, TIMESTAMP '2030-01-01' AS t,"
    " 0::BIGINT AS n, 1::DECIMAL(9,2) AS d) WHERE false",  # an empty part
    "SELECT NULL::DOUBLE AS x, NULL::VARCHAR AS s, NULL::TIMESTAMP AS t, NULL::BIGINT AS n,"
    " NULL::DECIMAL(9,2) AS d",
    "SELECT 'inf'::DOUBLE AS x, '' AS s, TIMESTAMP '2024-01-01 00:00:00.000001' AS t,"
    " -1::BIGINT AS n, 99.99::DECIMAL(9,2) AS d",
]


@pytest.mark.parametrize("seed", range(8))
def test_exact_scalars_from_part_metadata_equal_a_scan(
    con: Engine, tmp_path: Path, seed: int
) -> None:
    """Rows, NULLs, min and max read from each part's metadata equal plain DuckDB's scan of
    all the parts, over NaN, ±inf, NULL-only, empty and single-row parts, in any order (a
    NaN bound is reported as None: JSON has no NaN)."""
    rng = random.Random(seed)
    chosen = list(PART_ROWS) if seed == 0 else rng.choices(PART_ROWS, k=rng.randint(1, 6))
    rng.shuffle(chosen)
    paths = []
    for i, select in enumerate(chosen):
        path = tmp_path / f"part{i}.parquet"
        con.execute(f"COPY ({select}) TO '{path}' (FORMAT parquet)")
        paths.append(str(path))
    files = ", ".join(f"'{p}'" for p in paths)
    con.execute(f"CREATE VIEW v AS SELECT * FROM read_parquet([{files}])")
    types = {"x": "DOUBLE", "s": "VARCHAR", "t": "TIMESTAMP", "n": "BIGINT", "d": "DECIMAL(9,2)"}
    got = feature_stats(con, "v", types, parts=paths)
    for col in types:
        want = con.execute(
            f"SELECT count(*), count(*) - count({col}), min({col}), max({col}) FROM v"
        ).fetchall()[0]
        stats = got[col]
        lo, hi = want[2], want[3]
        if col in ("x", "n", "d"):
            lo, hi = (None if v is None or v != v else float(v) for v in (lo, hi))
        elif col == "t":
            lo, hi = (None if v is None else v.isoformat() for v in (lo, hi))
        assert (stats["rows"], stats["nulls"]) == (want[0], want[1]), col
        assert (stats["min"], stats["max"]) == (lo, hi), col


def test_nested_columns_get_categorical_histograms(con: Engine) -> None:
    """LIST, STRUCT and MAP features (their values cannot key a Python dict) are counted by
    value like any other non-numeric column; the build failed on them."""
    frame = pl.DataFrame(
        {
            "l": [[i % 3, 7] if i % 4 else None for i in range(12)],
            "s": [{"a": i % 2, "b": "x"} for i in range(12)],
        }
    )
    con.register("t", frame)
    con.execute("CREATE TEMP TABLE m AS SELECT MAP {'k': i % 2} AS m FROM range(12) r(i)")
    stats = feature_stats(con, "t", {"l": "BIGINT[]", "s": "STRUCT(a BIGINT, b VARCHAR)"})
    stats |= feature_stats(con, "m", {"m": "MAP(VARCHAR, BIGINT)"})
    want = {  # Polars' counts of the present values
        "l": sorted(frame["l"].drop_nulls().value_counts()["count"].to_list(), reverse=True),
        "s": sorted(frame["s"].value_counts()["count"].to_list(), reverse=True),
        "m": [6, 6],
    }
    for name, counts in want.items():
        hist = stats[name]["histogram"]
        assert [t["count"] for t in hist["top"]] == counts and hist["other"] == 0, name
        assert stats[name]["distinct"] == len(counts), name
    assert {t["value"] for t in stats["l"]["histogram"]["top"]} == {"[0, 7]", "[1, 7]", "[2, 7]"}
    assert stats["l"]["nulls"] == 3
