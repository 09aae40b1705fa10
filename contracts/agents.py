"""staging.agents: one row per agent; the personal columns are tagged in pyproject.toml."""

import pandera.polars as pa
import polars as pl


class Agents(pa.DataFrameModel):
    agent_id: int = pa.Field(unique=True, ge=1)
    full_name: str = pa.Field(str_length={"min_value": 3})
    email: str = pa.Field(unique=True, str_matches=r"^[^@\s]+@[^@\s]+\.[a-z]+$")
    cpf: str = pa.Field(str_matches=r"^\d{3}\.\d{3}\.\d{3}-\d{2}$")
    phone: str = pa.Field(str_startswith="+55 ")
    birth_date: pl.Date = pa.Field()
    region: str = pa.Field(isin=["Centro", "Norte", "Sul", "Leste", "Oeste"])
    commission: float = pa.Field(ge=0.01, le=0.06)

    class Config:
        strict = True
