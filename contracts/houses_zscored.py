"""clean.houses_zscored: age as a z-score, the other columns as staged."""

import pandera.polars as pa


class HousesZscored(pa.DataFrameModel):
    house_id: int = pa.Field(unique=True)
    area_m2: float = pa.Field(gt=0)
    age_years: float = pa.Field(ge=-10, le=10)
    price: int = pa.Field(gt=0)

    class Config:
        strict = True
        aggregate_in_range = {"column": "age_years", "stat": "mean", "min_value": -1e-9, "max_value": 1e-9}
