"""features.houses_normalized: values under each column's 90th percentile, standardized;
the values removed are NULL (about 10% of each column)."""

import pandera.polars as pa


class HousesNormalized(pa.DataFrameModel):
    house_id: int = pa.Field(unique=True)
    area_m2: float = pa.Field(nullable=True, ge=-6, le=6)
    age_years: float = pa.Field(nullable=True, ge=-6, le=6)
    price: float = pa.Field(nullable=True, ge=-6, le=6)
