"""Drift metrics against scipy: the same binned counts give the same numbers, and the raw
rows give numbers within the bins' stated error."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import numpy as np
import polars as pl
import pytest
from scipy import stats
from scipy.spatial import distance

from sqlops.errors import MonitorError
from sqlops.execute.engine import Engine
from sqlops.governance import driftstats
from sqlops.governance.monitor import (
    CategoricalProfile,
    DriftConfig,
    DriftResult,
    NumericProfile,
    Reference,
    drift,
    profile,
)


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = Engine.open()
    engine.execute("CREATE SCHEMA m")
    yield engine
    engine.close()


def _table(engine: Engine, name: str, frame: pl.DataFrame) -> None:
    engine.register("_frame", frame)
    engine.execute(f"CREATE OR REPLACE TABLE m.{name} AS SELECT * FROM _frame")
    engine.unregister("_frame")


def _frame(rng: np.random.Generator, n: int, shift: float = 0.0) -> pl.DataFrame:
    x = rng.normal(10 + shift, 3, n)
    k = rng.integers(0, 30, n) + (3 if shift else 0)
    letters = np.array(list("abcdefg"))
    p = [0.3, 0.2, 0.15, 0.15, 0.1, 0.05, 0.05]
    s = rng.choice(letters, n, p=p[::-1] if shift else p)
    return pl.DataFrame({"x": x, "k": k, "s": s})


def _by(results: list[DriftResult], column: str | None, metric: str) -> DriftResult:
    return next(r for r in results if r.column == column and r.metric == metric)


def _numeric(reference: Reference, name: str) -> NumericProfile:
    column = next(c for c in reference.columns if c.name == name)
    assert isinstance(column, NumericProfile)
    return column


def _bin(values: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    """Counts of (-inf, e0], (e0, e1], ..., (eK, inf), by numpy (independent of DuckDB)."""
    index = np.searchsorted(np.asarray(edges), values, side="left")
    return np.bincount(index, minlength=len(edges) + 1)


def _psi_oracle(ref: np.ndarray, cur: np.ndarray) -> float:
    """PSI over about ten bins of the reference's deciles, grouped from the fine bins."""
    cdf = np.cumsum(ref) / ref.sum()
    cuts = sorted({int(np.argmax(cdf >= j / 10 - 1e-12)) for j in range(1, 10)})
    cuts = [c for c in cuts if c < len(ref) - 2]
    bounds = [0, *(c + 1 for c in cuts), len(ref)]
    group = np.array([[a.sum() for a in np.split(v, bounds[1:-1])] for v in (ref, cur)])
    shares = np.maximum(group / group.sum(axis=1, keepdims=True), 1e-4)
    return float(np.sum((shares[1] - shares[0]) * np.log(shares[1] / shares[0])))


@pytest.mark.parametrize("z", [0.05, 0.3, 0.5, 0.8, 0.99, 1.0, 1.2, 1.36, 2.0, 3.5, 6.0])
def test_kolmogorov_sf_matches_scipy(z: float) -> None:
    assert driftstats.kolmogorov_sf(z) == pytest.approx(stats.kstwobign.sf(z), rel=1e-9)


@pytest.mark.parametrize("df", [1, 2, 3, 6, 9, 29, 49, 200])
@pytest.mark.parametrize("scale", [0.01, 0.3, 1.0, 1.5, 3.0, 6.0])
def test_chi2_sf_matches_scipy(df: int, scale: float) -> None:
    x = df * scale
    assert driftstats.chi2_sf(x, df) == pytest.approx(stats.chi2.sf(x, df), rel=1e-9)


def test_metrics_equal_scipy_on_the_same_bins_and_raw_rows_within_the_bound(
    engine: Engine,
) -> None:
    rng = np.random.default_rng(7)
    ref_frame, cur_frame = _frame(rng, 20_000), _frame(rng, 15_000, shift=0.6)
    _table(engine, "ref", ref_frame)
    _table(engine, "cur", cur_frame)
    reference = profile(engine, "m.ref")
    results = drift(engine, "m.cur", reference)

    x = _numeric(reference, "x")
    ref_x, cur_x = ref_frame["x"].to_numpy(), cur_frame["x"].to_numpy()
    assert not x.exact and len(x.edges) == 1001
    ref_counts, cur_counts = _bin(ref_x, x.edges), _bin(cur_x, x.edges)
    assert list(ref_counts) == list(x.counts)  # DuckDB's binning is numpy's
    assert ref_counts[-1] == 0 and x.edges[0] == ref_x.min() and x.edges[-1] == ref_x.max()
    assert x.std == pytest.approx(np.std(ref_x), rel=1e-12)

    assert _by(results, "x", "psi").value == pytest.approx(
        _psi_oracle(ref_counts, cur_counts), rel=1e-9
    )
    # KS: read at the edges, so at most one bin's share below the true statistic
    ks = _by(results, "x", "ks")
    true = stats.ks_2samp(ref_x, cur_x)
    assert ks.statistic is not None
    share = max(ref_counts.max() / ref_counts.sum(), cur_counts.max() / cur_counts.sum())
    assert ks.statistic <= true.statistic + 1e-12 <= ks.statistic + share + 1e-12
    en = len(ref_x) * len(cur_x) / (len(ref_x) + len(cur_x))
    assert ks.value == pytest.approx(stats.kstwobign.sf(math.sqrt(en) * ks.statistic), rel=1e-9)
    # Wasserstein: within the sum of each bin's width times both sides' shares in it
    widths = np.diff(x.edges)
    bound = np.sum(
        widths * (ref_counts[1:-1] / ref_counts.sum() + cur_counts[1:-1] / cur_counts.sum())
    )
    w = _by(results, "x", "wasserstein")
    assert w.threshold == 0.1 and w.level == "drift"
    raw = stats.wasserstein_distance(ref_x, cur_x) / np.std(ref_x)
    assert abs(w.value - raw) <= bound / np.std(ref_x)
    assert abs(w.value - raw) < 0.01

    s = next(c for c in reference.columns if c.name == "s")
    assert isinstance(s, CategoricalProfile) and s.other == 0
    ref_s = np.array([np.sum(ref_frame["s"].to_numpy() == v) for v in s.categories] + [0])
    cur_s = np.array([np.sum(cur_frame["s"].to_numpy() == v) for v in s.categories] + [0])
    assert list(ref_s[:-1]) == list(s.counts)
    js = _by(results, "s", "jensen_shannon")
    assert js.value == pytest.approx(distance.jensenshannon(ref_s, cur_s), rel=1e-9)
    expected = ref_s[:-1] / ref_s.sum() * cur_s.sum()
    chi = stats.chisquare(cur_s[:-1], expected)
    square = _by(results, "s", "chi_square")
    assert square.statistic == pytest.approx(chi.statistic, rel=1e-9)
    assert square.value == pytest.approx(chi.pvalue, rel=1e-9, abs=1e-300)
    shares = np.maximum(ref_s / ref_s.sum(), 1e-4), np.maximum(cur_s / cur_s.sum(), 1e-4)
    psi = float(np.sum((shares[1] - shares[0]) * np.log(shares[1] / shares[0])))
    assert _by(results, "s", "psi").value == pytest.approx(psi, rel=1e-9)


def test_ks_is_exact_when_every_value_is_an_edge(engine: Engine) -> None:
    rng = np.random.default_rng(3)
    ref, cur = rng.integers(0, 40, 800), rng.integers(2, 40, 600)
    _table(engine, "ref", pl.DataFrame({"k": ref}))
    _table(engine, "cur", pl.DataFrame({"k": cur}))
    reference = profile(engine, "m.ref")
    assert _numeric(reference, "k").exact
    ks = _by(drift(engine, "m.cur", reference), "k", "ks")
    assert ks.statistic == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=1e-12)
    assert ks.threshold == 0.05  # a small reference: the test decides
    en = 800 * 600 / 1400
    assert ks.value == pytest.approx(stats.kstwobign.sf(math.sqrt(en) * ks.statistic), rel=1e-9)
    wasserstein = _by(drift(engine, "m.cur", reference), "k", "wasserstein").value
    exact = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert wasserstein == pytest.approx(exact, rel=1e-12)
    # the asymptotic p-value is near scipy's default (exact at this size)
    assert ks.value == pytest.approx(stats.ks_2samp(ref, cur).pvalue, rel=0.15)


def test_values_beyond_the_reference_count_exactly_in_wasserstein(engine: Engine) -> None:
    rng = np.random.default_rng(5)
    ref, cur = rng.uniform(0, 1, 5000), rng.uniform(0.5, 3, 5000)
    _table(engine, "ref", pl.DataFrame({"x": ref}))
    _table(engine, "cur", pl.DataFrame({"x": cur}))
    results = drift(engine, "m.cur", profile(engine, "m.ref"))
    raw = stats.wasserstein_distance(ref, cur) / np.std(ref)
    assert _by(results, "x", "wasserstein").value == pytest.approx(raw, rel=2e-3)
    assert _by(results, "x", "ks").statistic == pytest.approx(
        stats.ks_2samp(ref, cur).statistic, abs=2e-3
    )


@pytest.mark.parametrize("rows", [500, 20_000])
def test_identical_table_is_ok_everywhere(engine: Engine, rows: int) -> None:
    _table(engine, "ref", _frame(np.random.default_rng(1), rows))
    results = drift(engine, "m.ref", profile(engine, "m.ref"))
    assert {r.level for r in results} == {"ok"}
    assert all(r.value == 0 or r.metric in ("ks", "chi_square") for r in results)
    assert all(r.value == 1 for r in results if r.metric in ("ks", "chi_square"))


@pytest.mark.parametrize(
    ("rows", "deciding"),
    [(500, {"x": "ks", "s": "chi_square"}), (20_000, {"x": "wasserstein", "s": "jensen_shannon"})],
)
def test_shifted_distribution_drifts_by_evidentlys_rule(
    engine: Engine, rows: int, deciding: dict[str, str]
) -> None:
    rng = np.random.default_rng(2)
    _table(engine, "ref", _frame(rng, rows))
    _table(engine, "cur", _frame(rng, rows, shift=3.0))
    results = drift(engine, "m.cur", profile(engine, "m.ref"))
    for column, metric in deciding.items():
        decided = _by(results, column, metric)
        assert decided.level == "drift" and decided.threshold is not None
        other = {"ks", "wasserstein", "chi_square", "jensen_shannon"} - {metric}
        for result in results:
            if result.column == column and result.metric in other:
                assert result.threshold is None and result.level == "ok"
        assert _by(results, column, "psi").level == "drift"
    assert _by(results, None, "row_count").value == 0


def test_nulls_and_non_finite_values_are_missing(engine: Engine) -> None:
    values = [float(i % 50) for i in range(2000)]
    _table(engine, "ref", pl.DataFrame({"x": values}))
    broken = [
        math.nan if i % 4 == 0 else math.inf if i % 4 == 1 else v for i, v in enumerate(values)
    ]
    _table(engine, "cur", pl.DataFrame({"x": broken}))
    results = drift(engine, "m.cur", profile(engine, "m.ref"))
    null = _by(results, "x", "null_rate")
    assert null.value == pytest.approx(0.5) and null.level == "drift"


def test_new_categories_fall_in_other_and_drift(engine: Engine) -> None:
    _table(engine, "ref", pl.DataFrame({"s": ["a", "b"] * 300}))
    _table(engine, "cur", pl.DataFrame({"s": ["a", "b", "zz"] * 200}))
    reference = profile(engine, "m.ref")
    results = drift(engine, "m.cur", reference)
    square = _by(results, "s", "chi_square")
    assert square.value == 0.0 and square.level == "drift"
    assert square.to_dict()["statistic"] is None  # inf is not JSON


def test_reference_round_trips_through_json(engine: Engine) -> None:
    _table(engine, "ref", _frame(np.random.default_rng(4), 3000))
    reference = profile(engine, "m.ref", top=3)
    text = json.dumps(reference.to_dict(), allow_nan=False)
    again = Reference.from_dict(json.loads(text))
    assert again == reference
    s = next(c for c in again.columns if c.name == "s")
    assert isinstance(s, CategoricalProfile) and len(s.categories) == 3 and s.other > 0
    assert drift(engine, "m.ref", again) == drift(engine, "m.ref", reference)


def test_results_have_the_cli_shape(engine: Engine) -> None:
    _table(engine, "ref", _frame(np.random.default_rng(4), 300))
    results = drift(engine, "m.ref", profile(engine, "m.ref"))
    payload = json.dumps({"columns": [r.to_dict() for r in results]}, allow_nan=False)
    row = json.loads(payload)["columns"][0]
    assert {"column", "metric", "value", "threshold", "level"} <= set(row)


def test_config_thresholds_are_used(engine: Engine) -> None:
    rng = np.random.default_rng(9)
    _table(engine, "ref", _frame(rng, 5000))
    _table(engine, "cur", _frame(rng, 5000, shift=0.3))
    reference = profile(engine, "m.ref")
    strict = drift(engine, "m.cur", reference, config=DriftConfig(distance_threshold=0.01))
    lax = drift(engine, "m.cur", reference, config=DriftConfig(distance_threshold=5.0))
    assert _by(strict, "x", "wasserstein").level == "drift"
    assert _by(lax, "x", "wasserstein").level == "ok"


def test_table_missing_a_reference_column_is_refused(engine: Engine) -> None:
    _table(engine, "ref", pl.DataFrame({"x": [1.0, 2.0], "y": [1.0, 2.0]}))
    _table(engine, "cur", pl.DataFrame({"x": [1.0, 2.0]}))
    with pytest.raises(MonitorError, match=r"m\.cur lacks column y of the drift reference"):
        drift(engine, "m.cur", profile(engine, "m.ref"))


def test_numeric_column_turned_text_is_refused(engine: Engine) -> None:
    _table(engine, "ref", pl.DataFrame({"x": [float(i) for i in range(100)]}))
    reference = profile(engine, "m.ref")
    _table(engine, "ref", pl.DataFrame({"x": [str(i) for i in range(100)]}))
    with pytest.raises(MonitorError, match=r"m\.ref\.x is VARCHAR now; its reference is numeric"):
        drift(engine, "m.ref", reference)


def test_unsupported_or_unknown_named_columns_are_refused(engine: Engine) -> None:
    engine.execute("CREATE TABLE m.t AS SELECT DATE '2026-01-01' AS d, 1.5 AS x")
    assert [c.name for c in profile(engine, "m.t").columns] == ["x"]
    with pytest.raises(MonitorError, match=r"m.t.d is DATE"):
        profile(engine, "m.t", ["d"])
    with pytest.raises(MonitorError, match=r"m\.t has no column nope"):
        profile(engine, "m.t", ["nope"])


@pytest.mark.parametrize(
    "data",
    [
        {"rows": 1, "columns": []},
        {"version": 2, "rows": 1, "columns": []},
        {"version": 1, "rows": 1, "columns": [{"kind": "numeric", "name": "x"}]},
        {
            "version": 1,
            "rows": 1,
            "columns": [{"kind": "blob", "name": "x", "values": 1, "nulls": 0}],
        },
    ],
)
def test_malformed_reference_is_a_monitor_error(data: dict[str, object]) -> None:
    with pytest.raises(MonitorError, match="not a drift reference"):
        Reference.from_dict(data)
