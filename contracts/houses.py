"""staging.houses: complete house sales, one row per house.

Bound with ``-- contract_severity: warn``: the generated data holds a few listed buildings
of 100-150 years, which the age check reports without blocking the build.
"""

import pandera.polars as pa


class Houses(pa.DataFrameModel):
    house_id: int = pa.Field(unique=True, ge=1)
    area_m2: float = pa.Field(gt=0, le=2_000)
    age_years: int = pa.Field(ge=0, le=120)
    price: int = pa.Field(gt=0)

    class Config:
        strict = True
        row_count = {"min_value": 1_000}
