"""The seed's governance steps that need Python, on the reference project: a training set
of the house_prices feature view saved with its data version, a price model trained on it
and saved to the registry with its metric. The README's walkthrough then approves and
promotes it from the command line, where the promotion checks the training data's contracts
at that version, the metric thresholds of [approval] and the approvers.

    python examples/seed_governance.py [PROJECT_DIR]   # default: the repo root
"""

from __future__ import annotations

import sys
from pathlib import Path

FEATURES = ["house_prices:area_m2", "house_prices:age_years"]


def run(root: Path | str = Path(__file__).resolve().parents[1]) -> dict[str, object]:
    import polars as pl
    from sklearn.linear_model import LinearRegression

    import sqlops

    project = sqlops.Project(root)
    project.build().raise_on_error()
    entity = project.sql(
        "select house_id, price, timestamp '2026-06-01' as event_timestamp "
        "from features.house_listing order by house_id"
    )
    training = project.features.get_historical_features(entity, FEATURES)
    project.features.save_training_set("house_prices", training)
    test = (pl.col("house_id") % 5) == 0
    fit, held_out = training.filter(~test), training.filter(test)
    columns = ["area_m2", "age_years"]
    model = LinearRegression().fit(fit.select(columns).to_numpy(), fit["price"].to_numpy())
    r2 = float(model.score(held_out.select(columns).to_numpy(), held_out["price"].to_numpy()))
    saved = project.models.save(
        "house_price",
        model,
        training_set="house_prices",
        metrics={"r2": r2},
        owner="data-team",
    )
    print(f"saved house_price version {saved.version} (r2 {r2:.3f}, data {saved.data_version})")
    return {"model": saved, "r2": r2}


if __name__ == "__main__":
    run(*sys.argv[1:2])
