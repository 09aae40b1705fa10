"""The seed's RandomForest example (examples/seed_feature_store.py) runs against sqlops:
the frames it reads from the store are the CSV's rows (checked with plain DuckDB), and the
model loaded back from the registry predicts exactly what the fitted one does."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import numpy as np

import sqlops

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples"))

import seed_feature_store  # noqa: E402


def test_seed_random_forest_example_runs(tmp_path: Path) -> None:
    csv = ROOT / "examples" / "data" / "houses.csv"
    result = seed_feature_store.run(tmp_path / "proj", csv)
    model, loaded, x_test = result["model"], result["loaded"], result["X_test"]
    assert loaded is not model
    assert np.array_equal(loaded.predict(x_test), model.predict(x_test))
    assert np.array_equal(loaded.predict_proba(x_test), model.predict_proba(x_test))
    y_test = result["y_test"].to_numpy()
    assert result["accuracy"] == float(np.mean(result["predictions"] == y_test))
    assert result["accuracy"] > 0.7  # the label is learnable from these features
    expected = duckdb.sql(
        f"""
        SELECT area_m2, bedrooms, age_years, distance_center_km,
               (price > median(price) OVER ())::TINYINT AS expensive
        FROM read_csv('{csv}')
        WHERE area_m2 IS NOT NULL AND bedrooms IS NOT NULL AND age_years IS NOT NULL
          AND distance_center_km IS NOT NULL AND price IS NOT NULL
        QUALIFY house_id % 5 = 0
        ORDER BY house_id
        """
    ).pl()
    assert x_test.equals(expected.drop("expensive"))
    assert y_test.tolist() == expected["expensive"].to_list()
    saved = sqlops.Project(tmp_path / "proj").features.get_model("random_forest_model")
    assert (saved.version, saved.stage) == (1, "candidate")
