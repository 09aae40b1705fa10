"""marts.house_stats: one row of means and standard deviations."""

import pandera.polars as pa


class HouseStats(pa.DataFrameModel):
    mean_area_m2: float = pa.Field(gt=0)
    mean_age_z: float = pa.Field(ge=-1e-9, le=1e-9)
    mean_price: float = pa.Field(gt=0)
    std_area_m2: float = pa.Field(gt=0)
    std_age_z: float = pa.Field(ge=0.999, le=1.001)
    std_price: float = pa.Field(gt=0)
    n_rows: int = pa.Field(ge=1_000)

    class Config:
        strict = True
        row_count = {"min_value": 1, "max_value": 1}
