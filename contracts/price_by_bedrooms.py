"""marts.price_by_bedrooms (a Python model): one row per bedroom count."""

import pandera.polars as pa
import polars as pl


class PriceByBedrooms(pa.DataFrameModel):
    bedrooms: int = pa.Field(unique=True, isin=[1, 2, 3, 4, 5, 6])
    median_price_per_m2: float = pa.Field(gt=0)
    sales: pl.UInt32 = pa.Field(ge=1)
