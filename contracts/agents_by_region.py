"""marts.agents_by_region: one row per region; every agent counted."""

import pandera.polars as pa


class AgentsByRegion(pa.DataFrameModel):
    region: str = pa.Field(unique=True)
    agents: int = pa.Field(ge=1)
    mean_commission: float = pa.Field(ge=0.01, le=0.06)

    class Config:
        references = {"column": "region", "table": "staging.agents", "to_column": "region"}
