"""features.prices_trimmed: houses priced under the 90th percentile, price scaled to 0..1."""

import pandera.polars as pa


class PricesTrimmed(pa.DataFrameModel):
    house_id: int = pa.Field(unique=True)
    area_m2: float = pa.Field(gt=0)
    age_years: int = pa.Field(ge=0)
    price_scaled: float = pa.Field(ge=0, le=1)
