"""Contract stub for staging.orders (a pandera DataFrameModel).

The header line `-- contract: staging_orders` in sql/staging/orders.sql binds it to the
model. Fill in the checks you need; sqlops' governance module enforces them.
"""

import pandera.polars as pa


class StagingOrders(pa.DataFrameModel):
    order_id: int = pa.Field(unique=True)
    customer_id: int = pa.Field(nullable=False)
    amount: float = pa.Field(ge=0)
