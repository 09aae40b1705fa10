"""Compiling a role into its plan, and materializing the plan into the role's file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from policywarehouse import (
    CUSTOMERS,
    ORDERS,
    PARAMS,
    RAW_EMAILS,
    ROLE,
    Warehouse,
    build_warehouse,
    masked_email,
    materialize,
    plan_for,
)

from sqlops.errors import PolicyError
from sqlops.governance.policy import refresh_role, role_is_current, role_meta, role_signature


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    return build_warehouse(tmp_path)


def test_plan_grants_the_globs_and_drops_denied_columns(wh: Warehouse) -> None:
    plan = plan_for(wh)
    assert [t.name for t in plan.tables] == ["marts.customers", "marts.orders"]
    customers = plan.table("marts.customers")
    assert customers is not None and customers.columns == ("customer_id", "email", "city")
    assert "cpf" not in customers.select and plan.denied == ("marts.customers.cpf",)
    orders = plan.table("marts.orders")
    assert orders is not None and orders.row_filter == "country = 'BR'"
    assert plan.digest == plan_for(wh).digest
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.role = "x"  # type: ignore[misc]


def test_not_anonymized_reads_tagged_columns_as_they_are(wh: Warehouse) -> None:
    plan = plan_for(wh, dataclasses.replace(ROLE, anonymized=False))
    customers = plan.table("marts.customers")
    assert customers is not None and "sha256" not in customers.select


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"tables": ("mart.*",)}, ["'mart.*' matches no table", "analyst"]),
        (
            {"deny_columns": ("marts.customer.cpf",)},
            ["unknown table marts.customer", "did you mean marts.customers"],
        ),
        (
            {"deny_columns": ("marts.customers.cpff",)},
            ["unknown column marts.customers.cpff", "did you mean cpf"],
        ),
        (
            {"row_filters": {"marts.order": "country = 'BR'"}},
            ["unknown table marts.order", "did you mean marts.orders"],
        ),
        ({"row_filters": {"raw.orders": "country = 'BR'"}}, ["do not grant"]),
        ({"row_filters": {"marts.orders": "contry = 'BR'"}}, ["unknown column contry"]),
        ({"row_filters": {"marts.orders": "order_id in (select 1)"}}, ["SUBQUERY"]),
        ({"row_filters": {"marts.orders": "exists (from read_csv('x'))"}}, ["may not hold"]),
        ({"row_filters": {"marts.orders": "country = 'BR'; drop table x"}}, ["one condition"]),
        ({"row_filters": {"marts.orders": "country"}}, ["not a condition"]),
        ({"row_filters": {"marts.orders": "country = ("}}, ["does not parse"]),
    ],
    ids=lambda v: str(v)[:40],
)
def test_a_malformed_role_is_one_policy_error(
    wh: Warehouse, change: dict[str, object], words: list[str]
) -> None:
    with pytest.raises(PolicyError) as caught:
        plan_for(wh, dataclasses.replace(ROLE, **change))  # type: ignore[arg-type]
    message = str(caught.value)
    assert "roles.analyst" in message and "\n" not in message
    assert all(w in message for w in words), message


def test_materialized_tables_equal_a_hand_written_filter_and_projection(wh: Warehouse) -> None:
    target = materialize(wh, plan_for(wh))
    con = duckdb.connect(str(target), read_only=True)
    try:
        orders = pl.from_arrow(
            con.sql("SELECT * FROM marts.orders ORDER BY order_id").to_arrow_table()
        )
        customers = pl.from_arrow(
            con.sql("SELECT * FROM marts.customers ORDER BY customer_id").to_arrow_table()
        )
    finally:
        con.close()
    assert_frame_equal(orders, ORDERS.filter(pl.col("country") == "BR"))
    expected = CUSTOMERS.select(
        "customer_id",
        pl.col("email").map_elements(masked_email, return_dtype=pl.String),
        (pl.lit("***") + pl.col("city").str.slice(-2)).alias("city"),
    )
    assert_frame_equal(customers, expected)
    assert not any(e.encode() in target.read_bytes() for e in RAW_EMAILS)
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temp file left


def test_the_signature_says_when_the_role_file_is_stale(wh: Warehouse) -> None:
    plan = plan_for(wh)
    target = materialize(wh, plan, {"marts.orders": "v1"})
    assert role_meta(target)["role"] == "analyst"
    assert role_is_current(target, role_signature(plan, {"marts.orders": "v1"}, PARAMS))
    assert not role_is_current(target, role_signature(plan, {"marts.orders": "v2"}, PARAMS))
    assert not role_is_current(target, role_signature(plan, {"marts.orders": "v1"}, {"k": "x"}))
    other = plan_for(wh, dataclasses.replace(ROLE, deny_columns=()))
    assert not role_is_current(target, role_signature(other, {"marts.orders": "v1"}, PARAMS))
    assert not role_is_current(wh.root / "missing.duckdb", "x")


def test_a_failed_materialization_keeps_the_old_file(wh: Warehouse) -> None:
    plan = plan_for(wh)
    target = materialize(wh, plan)
    before = target.read_bytes()
    broken = dataclasses.replace(
        plan,
        tables=(dataclasses.replace(plan.tables[0], select="SELECT nope FROM marts.customers"),),
    )
    with pytest.raises(Exception, match="nope"):
        materialize(wh, broken)
    assert target.read_bytes() == before
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_refresh_writes_only_when_stale(wh: Warehouse) -> None:
    plan = plan_for(wh)
    target = wh.root / ".sqlops" / "roles" / "analyst.duckdb"
    owner = wh.owner()
    try:
        assert refresh_role(owner, plan, target, PARAMS, {"marts.orders": "v1"})
        stamp = target.stat().st_mtime_ns
        assert not refresh_role(owner, plan, target, PARAMS, {"marts.orders": "v1"})
        assert target.stat().st_mtime_ns == stamp
        assert refresh_role(owner, plan, target, PARAMS, {"marts.orders": "v2"})
    finally:
        owner.close()
