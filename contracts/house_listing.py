"""features.house_listing: one row per house, with a listing time, for the feature view."""

import pandera.polars as pa
import polars as pl


class HouseListing(pa.DataFrameModel):
    house_id: int = pa.Field(unique=True)
    area_m2: float = pa.Field(gt=0)
    age_years: int = pa.Field(ge=0)
    price: int = pa.Field(gt=0)
    listed_at: pl.Datetime = pa.Field()

    class Config:
        strict = True
        row_count = {"min_value": 1_000}
