"""Every known way out of a role's views, each a named regression test, tried on both
layers: the sqlglot allow-list (``role_query``) refuses it, and the same SQL sent straight
to the sandbox's DuckDB connection (the allow-list bypassed) fails or sees only the role's
own data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from policywarehouse import (
    CUSTOMERS,
    ORDERS,
    RAW_EMAILS,
    Warehouse,
    build_warehouse,
    materialize,
    plan_for,
)

from sqlops.errors import ExecutionError, PolicyDenied
from sqlops.governance import sandbox as sandbox_module
from sqlops.governance.sandbox import LOCKDOWN, Sandbox, open_sandbox, role_query


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Warehouse, Path]:
    wh = build_warehouse(tmp_path_factory.mktemp("policy"))
    return wh, materialize(wh, plan_for(wh))


@pytest.fixture
def sandbox(built: tuple[Warehouse, Path]) -> Iterator[Sandbox]:
    box = open_sandbox(built[1], "analyst", threads=1)
    yield box
    box.close()


def _paths(wh: Warehouse, role_db: Path) -> dict[str, str]:
    return {
        "warehouse": str(wh.warehouse),
        "object": str(wh.object_file),
        "objects": f"{wh.objects}/**/*.parquet",
        "csv": str(wh.source_csv),
        "role_db": str(role_db),
        "out": str(wh.root / "out.csv"),
    }


def _raises(_rows: list[tuple[Any, ...]]) -> None:
    raise AssertionError(f"DuckDB's lock-down let it through: {_rows[:3]}")


def _nothing(rows: list[tuple[Any, ...]]) -> None:
    assert rows == []


def _role_data_only(rows: list[tuple[Any, ...]]) -> None:
    """Only what the role's file holds: no raw e-mail, no CPF (the denied column's name
    may appear, in the list of denied columns; its values never)."""
    text = repr(rows)
    assert not any(raw in text for raw in [*RAW_EMAILS, *CUSTOMERS["cpf"]])


def _in_memory_only(rows: list[tuple[Any, ...]]) -> None:
    """A TEMP table lives in the connection's memory: nothing written, nothing read."""


def _settings_only(rows: list[tuple[Any, ...]]) -> None:
    """DuckDB has no switch for reading a setting's value: only the allow-list stops it."""
    assert rows


# name -> (SQL with {paths}, what the sandbox connection does with it when sent directly)
BYPASSES: dict[str, tuple[str, Callable[[list[tuple[Any, ...]]], None]]] = {
    "read_csv_source": ("select * from read_csv('{csv}')", _raises),
    "read_parquet_object": ("select * from read_parquet('{object}')", _raises),
    "read_parquet_objects_folder": ("select * from read_parquet('{objects}')", _raises),
    "read_json": ("select * from read_json('{csv}')", _raises),
    "read_text_warehouse": ("select * from read_text('{warehouse}')", _raises),
    "read_blob_warehouse": ("select * from read_blob('{warehouse}')", _raises),
    # DuckDB lets a connection read the files it has attached: the role's own file only
    "read_blob_role_file": ("select content from read_blob('{role_db}')", _role_data_only),
    "glob_objects": ("select * from glob('{objects}')", _raises),
    "sniff_csv": ("select * from sniff_csv('{csv}')", _raises),
    "parquet_metadata": ("select * from parquet_metadata('{object}')", _raises),
    "parquet_schema": ("select * from parquet_schema('{object}')", _raises),
    "query_file": ("select * from query('select * from read_parquet(''{object}'')')", _raises),
    "query_table_source": ("select * from query_table('raw.orders')", _raises),
    "query_table_own": ("select * from query_table('marts.customers')", _role_data_only),
    "read_parquet_in_select_list": (
        "select (select count(*) from read_parquet('{object}'))",
        _raises,
    ),
    "attach_warehouse": ("attach '{warehouse}' as w (read_only)", _raises),
    "copy_out": ("copy marts.customers to '{out}'", _raises),
    "export_database": ("export database '{root}/export'", _raises),
    "set_external_access": ("set enable_external_access = true", _raises),
    "set_lock": ("set lock_configuration = false", _raises),
    "reset_allowed_paths": ("reset allowed_paths", _raises),
    "pragma_threads": ("pragma threads = 1", _raises),
    "install": ("install httpfs", _raises),
    "load": ("load httpfs", _raises),
    "getenv": ("select getenv('HOME')", _raises),
    "current_setting": ("select current_setting('secret_directory')", _settings_only),
    "duckdb_secrets": ("select * from duckdb_secrets()", _nothing),
    "duckdb_settings": ("select name, value from duckdb_settings()", _settings_only),
    "bare_path_object": ("select * from '{object}'", _raises),
    "bare_path_csv": ("from '{csv}'", _raises),
    "bare_path_warehouse": ("select * from '{warehouse}'", _raises),
    "base_table_source": ("select * from raw.orders", _raises),
    "catalog_qualified": ("select * from sqlops_role._sqlops.role_meta", _role_data_only),
    "whole_row": ("select c from marts.customers c", _role_data_only),
    "whole_row_to_json": ("select to_json(c) from marts.customers as c", _role_data_only),
    "describe": ("describe marts.customers", _role_data_only),
    "summarize": ("summarize marts.customers", _role_data_only),
    "two_statements": ("select 1; attach '{warehouse}' as w", _raises),
    "create_temp_table": ("create temp table x as select 1", _in_memory_only),
    "detach": ("detach sqlops_role", _raises),
}


@pytest.mark.parametrize("name", sorted(BYPASSES))
def test_the_allow_list_refuses(name: str, sandbox: Sandbox, built: tuple[Warehouse, Path]) -> None:
    sql = BYPASSES[name][0].format(**_paths(*built), root=built[0].root)
    with pytest.raises(PolicyDenied) as caught:
        role_query(sandbox, sql)
    message = str(caught.value)
    assert message.startswith("role analyst: ") and "\n" not in message


@pytest.mark.parametrize("name", sorted(BYPASSES))
def test_duckdb_lock_down_holds_without_the_allow_list(
    name: str, sandbox: Sandbox, built: tuple[Warehouse, Path]
) -> None:
    sql, check = BYPASSES[name]
    sql = sql.format(**_paths(*built), root=built[0].root)
    try:
        rows = sandbox.engine.con.execute(sql).fetchall()
    except duckdb.Error:
        assert not (built[0].root / "out.csv").exists()
        return
    check(rows)


def test_python_replacement_scans_are_off(sandbox: Sandbox) -> None:
    customers = pl.DataFrame({"secret": ["from the caller's scope"]})
    orders_frame = customers  # noqa: F841
    for sql in ("select * from customers", "select * from orders_frame"):
        with pytest.raises(PolicyDenied):
            role_query(sandbox, sql)
        with pytest.raises(duckdb.CatalogException):
            sandbox.engine.con.execute(sql).fetchall()


def test_star_and_columns_give_only_visible_columns(sandbox: Sandbox) -> None:
    for sql in ("select * from marts.customers", "select columns(*) from marts.customers"):
        frame = role_query(sandbox, sql)
        assert frame.columns == ["customer_id", "email", "city"]
        assert not set(frame["email"]) & set(RAW_EMAILS)
    direct = sandbox.engine.con.execute("select columns('cpf|email') from marts.customers")
    assert [d[0] for d in direct.description or ()] == ["email"]


def test_a_denied_column_by_name_is_denied(sandbox: Sandbox) -> None:
    with pytest.raises(PolicyDenied, match=r"marts\.customers\.cpf is denied"):
        role_query(sandbox, "select cpf from marts.customers")


def test_a_cast_error_echoes_no_value(sandbox: Sandbox) -> None:
    with pytest.raises(ExecutionError) as caught:
        role_query(sandbox, "select cast(email as int) from marts.customers")
    message = str(caught.value)
    assert "role analyst" in message and "'…'" in message
    visible = role_query(sandbox, "select email from marts.customers")["email"].to_list()
    assert not any(v in message for v in [*RAW_EMAILS, *visible])
    # straight to DuckDB, the error can echo only a value the role's file holds (masked)
    with pytest.raises(duckdb.ConversionException) as direct:
        sandbox.engine.con.execute("select cast(email as int) from marts.customers").fetchall()
    assert not any(raw in str(direct.value) for raw in RAW_EMAILS)


def test_the_role_reads_filtered_rows_and_visible_columns(sandbox: Sandbox) -> None:
    """Against an independent computation over the owner's data (the test's own filter)."""
    got = role_query(
        sandbox,
        "select customer_id, count(*) as n, sum(amount) as total from marts.orders "
        "where amount > $least group by all order by customer_id",
        {"least": 15},
    )
    expected = (
        ORDERS.filter((pl.col("country") == "BR") & (pl.col("amount") > 15))
        .group_by("customer_id")
        .agg(pl.len().cast(pl.Int64).alias("n"), pl.col("amount").sum().alias("total"))
        .sort("customer_id")
    )
    assert_frame_equal(got, expected)
    joined = role_query(
        sandbox,
        "with o as (select * from marts.orders) select c.city, count(*) as n "
        "from o join marts.customers c using (customer_id) group by all order by all",
    )
    assert joined["n"].sum() == ORDERS.filter(pl.col("country") == "BR").height
    assert set(joined["city"]) <= {"***" + c[-2:] for c in CUSTOMERS["city"]}


def test_the_settings_read_back_or_the_sandbox_refuses(
    built: tuple[Warehouse, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    box = open_sandbox(built[1], "analyst")
    try:
        settings = dict(
            box.engine.con.execute("select name, value from duckdb_settings()").fetchall()
        )
        assert all(settings[n].lower() == v for n, v in LOCKDOWN if not n.startswith("allowed_"))
        assert settings["allowed_directories"] == f"[{box.scratch}/]"
        assert str(built[1].resolve()) in settings["allowed_paths"]
        assert settings["allowed_configs"] == "[]"
    finally:
        box.close()
    assert box.scratch is not None and not box.scratch.exists()
    # a setting that does not read back as written (DuckDB normalizes it) refuses
    odd = ("memory_limit", "'1000000000B'")
    monkeypatch.setattr(sandbox_module, "LOCKDOWN", (*LOCKDOWN[:-1], odd, LOCKDOWN[-1]))
    with pytest.raises(PolicyDenied, match="the sandbox setting memory_limit reads '"):
        open_sandbox(built[1], "analyst")


def test_a_role_file_of_another_role_or_none_refuses(built: tuple[Warehouse, Path]) -> None:
    with pytest.raises(PolicyDenied, match="role auditor: no role file"):
        open_sandbox(built[1], "auditor")
    with pytest.raises(PolicyDenied):
        open_sandbox(built[0].root / "nothing.duckdb", "analyst")


@pytest.mark.parametrize(
    "sql",
    [
        "select 1 -- ; attach 'x'",
        "select 1 /* ; */",
        "select $$a;b$$ as s",
    ],
)
def test_duckdb_must_read_one_select_too(sandbox: Sandbox, sql: str) -> None:
    """Texts that both parsers read as one SELECT run; the check is DuckDB's own parser."""
    assert role_query(sandbox, sql).height == 1
