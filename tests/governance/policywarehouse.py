"""A small warehouse laid out as sqlops stores one (views over content-addressed Parquet
objects, plus a base table and a CSV source), a role over it and a stand-in mask."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from sqlops.config.governance import ColumnPolicy, RoleConfig
from sqlops.execute.engine import Engine
from sqlops.governance.policy import RolePlan, compile_role, materialize_role

RAW_EMAILS = ["alice@example.com", "bob@example.org", "carla@example.net", "dan@example.com"]
CUSTOMERS = pl.DataFrame(
    {
        "customer_id": [1, 2, 3, 4],
        "email": RAW_EMAILS,
        "cpf": ["52998224725", "11144477735", "39053344705", "74682489070"],
        "city": ["Recife", "Lisboa", "Recife", "Porto"],
    }
)
ORDERS = pl.DataFrame(
    {
        "order_id": list(range(1, 9)),
        "customer_id": [1, 2, 3, 4, 1, 2, 3, 4],
        "country": ["BR", "PT", "BR", "PT", "BR", "BR", "PT", "BR"],
        "amount": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0],
    }
)
PARAMS = {"sqlops_hmac_ipad": "pad"}
ROLE = RoleConfig(
    name="analyst",
    tables=("marts.*",),
    deny_columns=("marts.customers.cpf",),
    anonymized=True,
    row_filters={"marts.orders": "country = 'BR'"},
)
COLUMNS = {
    "marts.customers": {
        "email": ColumnPolicy("marts.customers", "email", pii="email", anonymize="hash"),
        "city": ColumnPolicy("marts.customers", "city", anonymize="mask"),
    }
}


def stand_in_mask(policy: ColumnPolicy, column: str, dtype: str) -> str | None:
    """What anonymize.column_expression will do, roughly: a keyed hash, a mask, a drop."""
    if policy.anonymize == "hash":
        return f"sha256($sqlops_hmac_ipad || {column})"
    if policy.anonymize == "mask":
        return f"'***' || right({column}, 2)"
    return None


def masked_email(raw: str) -> str:
    return hashlib.sha256(("pad" + raw).encode()).hexdigest()


@dataclass(frozen=True)
class Warehouse:
    root: Path
    warehouse: Path
    objects: Path
    source_csv: Path
    object_file: Path

    def owner(self) -> Engine:
        return Engine.open(self.warehouse, read_only=True, macros=False)

    def relations(self) -> dict[str, list[tuple[str, str]]]:
        engine = self.owner()
        try:
            return {n: list(c) for n, c in engine.all_columns().items()}
        finally:
            engine.close()


def build_warehouse(root: Path) -> Warehouse:
    state = root / ".sqlops"
    objects = state / "versions" / "objects"
    data = root / "data"
    data.mkdir(parents=True)
    csv = data / "orders.csv"
    ORDERS.write_csv(csv)
    files: dict[str, Path] = {}
    for name, frame in (("customers", CUSTOMERS), ("orders", ORDERS)):
        scratch = root / f"{name}.parquet"
        frame.write_parquet(scratch)
        digest = hashlib.sha256(scratch.read_bytes()).hexdigest()
        files[name] = objects / digest[:2] / f"{digest[2:]}.parquet"
        files[name].parent.mkdir(parents=True, exist_ok=True)
        scratch.rename(files[name])
    warehouse = state / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("CREATE SCHEMA marts; CREATE SCHEMA raw")
    for name, path in files.items():
        con.execute(f"CREATE VIEW marts.{name} AS SELECT * FROM read_parquet('{path}')")
    con.execute(f"CREATE TABLE raw.orders AS SELECT * FROM read_csv('{csv}')")
    con.close()
    return Warehouse(root, warehouse, objects, csv, files["customers"])


def plan_for(wh: Warehouse, role: RoleConfig = ROLE) -> RolePlan:
    return compile_role(role, wh.relations(), COLUMNS, stand_in_mask)


def materialize(wh: Warehouse, plan: RolePlan, sources: dict[str, str] | None = None) -> Path:
    target = wh.root / ".sqlops" / "roles" / f"{plan.role}.duckdb"
    owner = wh.owner()
    try:
        materialize_role(owner, plan, target, PARAMS, sources or {"marts.orders": "v1"})
    finally:
        owner.close()
    return target
