"""The reference project in sql/ reproduces the seed's ETL examples, number for number.

Each seed snippet runs as written (examples/seed_*.py, pandas and numpy) and its result is
compared with what `sqlops build` produced from the SQL models at the repo root.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sqlops import Project

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import seed_numpy  # noqa: E402
import seed_outliers  # noqa: E402
import seed_pandas  # noqa: E402

COLUMNS = ["area_m2", "age_years", "price"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    state = tmp_path_factory.mktemp("state")
    project = Project(ROOT, state_dir=str(state))
    result = project.build()
    assert result.ok, [n.error for n in result.nodes if n.error]
    return project


def _sorted_values(frame: pl.DataFrame) -> np.ndarray:
    return frame.select(COLUMNS).sort(COLUMNS).to_numpy().astype(float)


def test_pandas_seed_equals_staging_houses(project: Project) -> None:
    expected = pl.from_pandas(seed_pandas.run(ROOT / "examples/data/houses.csv"))
    got = project.table("staging.houses")
    assert got.height == expected.height
    np.testing.assert_allclose(_sorted_values(got), _sorted_values(expected))


def test_numpy_seed_equals_house_stats(project: Project) -> None:
    expected = seed_numpy.run(ROOT / "examples/data/houses.csv")
    stats = project.table("marts.house_stats").row(0, named=True)
    got = [
        stats[c]
        for c in (
            "mean_area_m2",
            "mean_age_z",
            "mean_price",
            "std_area_m2",
            "std_age_z",
            "std_price",
        )
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


def test_outlier_seed_equals_houses_normalized(project: Project) -> None:
    expected = seed_outliers.run(ROOT / "examples/data/houses.csv")
    got = project.table("features.houses_normalized")
    for column in COLUMNS:
        want = np.sort(expected[column].dropna().to_numpy())
        have = np.sort(got[column].drop_nulls().to_numpy())
        np.testing.assert_allclose(have, want, rtol=1e-9, atol=1e-9)
        assert got[column].null_count() == expected[column].isna().sum()


def test_python_model_matches_plain_polars(project: Project) -> None:
    raw = pl.read_csv(ROOT / "examples/data/houses.csv").drop_nulls(
        ["bedrooms", "price", "area_m2"]
    )
    expected = (
        raw.group_by("bedrooms")
        .agg((pl.col("price") / pl.col("area_m2")).median().alias("m"), pl.len().alias("n"))
        .sort("bedrooms")
    )
    got = project.table("marts.price_by_bedrooms").sort("bedrooms")
    assert got["bedrooms"].to_list() == expected["bedrooms"].to_list()
    np.testing.assert_allclose(got["median_price_per_m2"].to_numpy(), expected["m"].to_numpy())
    assert got["sales"].to_list() == expected["n"].to_list()


def test_table_macro_model_matches_pandas_remove_outliers(project: Project) -> None:
    df = seed_pandas.run(ROOT / "examples/data/houses.csv")
    kept = df[df["price"] < df["price"].quantile(0.9)]
    got = project.table("features.prices_trimmed")
    assert got.height == len(kept)
    scaled = (kept["price"] - kept["price"].min()) / (kept["price"].max() - kept["price"].min())
    np.testing.assert_allclose(np.sort(got["price_scaled"].to_numpy()), np.sort(scaled.to_numpy()))


def test_data_file_is_reproducible_from_the_generator(tmp_path: Path) -> None:
    import generate_data

    out = tmp_path / "houses.csv"
    generate_data.write_houses_csv(out, 20_000, seed=42)
    assert out.read_bytes() == (ROOT / "examples/data/houses.csv").read_bytes()


def test_single_file_sql_equals_numpy_seed() -> None:
    from sqlops import run_file

    got = run_file(ROOT / "examples/seed_etl.sql", {"csv": str(ROOT / "examples/data/houses.csv")})
    assert got is not None
    expected = seed_numpy.run(ROOT / "examples/data/houses.csv")
    np.testing.assert_allclose(got.row(0), expected, rtol=1e-9, atol=1e-9)
