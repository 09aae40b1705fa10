"""A Python model: the same DAG, written with Polars instead of SQL."""

import polars as pl

import sqlops


@sqlops.model(
    inputs=["raw.houses"],
    materialized="table",
    tags=["daily"],
    contract="price_by_bedrooms",
    owner="data-team",
)
def price_by_bedrooms(houses: pl.LazyFrame) -> pl.LazyFrame:
    """Median price per square metre and number of sales for each bedroom count."""
    return (
        houses.drop_nulls(["bedrooms", "price", "area_m2"])
        .group_by("bedrooms")
        .agg(
            (pl.col("price") / pl.col("area_m2")).median().alias("median_price_per_m2"),
            pl.len().alias("sales"),
        )
        .sort("bedrooms")
    )
