"""Feature statistics against Polars: exact on small relations, exact scalars and labelled
estimates on large ones, histograms on given edges, NULLs never binned."""

from __future__ import annotations

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
    assert stats["mean"] == pytest.approx(x.mean()) and stats["std"] == pytest.approx(x.std())
    assert not stats["distinct_exact"]
    assert stats["distinct"] == pytest.approx(x.n_unique() - 1, rel=0.05)
    assert stats["sample_rows"] < n
    assert stats["p50"] == pytest.approx(x.quantile(0.5, "linear"), rel=0.05)
    assert sum(stats["histogram"]["counts"]) <= stats["sample_rows"]
