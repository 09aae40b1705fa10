"""The built-in SQL macros, checked against independent numpy / pandas / Polars computations."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

from sqlops.macros import MACRO_NAMES, MACRO_SQL, TABLE_MACROS, register_macros

# Full-row duplicates (ids 2 and 8), id 4 twice differing only by a NULL, NULLs in every
# column, ties in qty and amount.
ORDERS = pl.DataFrame(
    {
        "id": [1, 2, 2, 3, 4, 4, 5, 6, 7, 8, 8, 9],
        "customer": ["a", "b", "b", None, "c", "c", "a", "d", None, "e", "e", "a"],
        "amount": [10.0, 20.5, 20.5, 3.0, None, 12.0, 10.0, 250.0, 7.5, None, None, 10.0],
        "qty": [1, 2, 2, None, 3, 3, 1, 40, 2, 5, 5, None],
    }
)

# One row per rn, for per-row (windowed) macros; price is amount as DECIMAL(10, 2).
FEATS = pl.DataFrame(
    {
        "rn": list(range(10)),
        "amount": [10.0, 20.55, 20.55, 3.1, None, 12.0, 250.0, 7.45, None, -4.25],
        "qty": [1, 2, 2, None, 3, 1, 40, 2, 5, 5],
    }
)

Rows = list[tuple[Any, ...]]


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    register_macros(connection)
    connection.register("orders_df", ORDERS)
    connection.register("feats_df", FEATS)
    connection.execute(
        """
        CREATE SCHEMA raw;
        CREATE TABLE raw.orders AS FROM orders_df;
        CREATE TABLE feats AS
            SELECT rn, amount, qty, amount::DECIMAL(10, 2) AS price FROM feats_df;
        """
    )
    connection.unregister("orders_df")
    connection.unregister("feats_df")
    yield connection
    connection.close()


def rows(con: duckdb.DuckDBPyConnection, sql: str) -> Rows:
    return con.execute(sql).fetchall()


def floats_or_nan(values: Sequence[Any]) -> list[float]:
    """SQL NULL -> NaN, everything else -> float; a NaN computed by SQL is a failure."""
    assert not any(isinstance(v, float) and math.isnan(v) for v in values), "NaN, not NULL"
    return [math.nan if v is None else float(v) for v in values]


def column(con: duckdb.DuckDBPyConnection, expr: str, where: str = "TRUE") -> list[float]:
    return floats_or_nan(
        [v for (v,) in rows(con, f"SELECT {expr} FROM feats WHERE {where} ORDER BY rn")]
    )


def feats_series(col: str) -> pd.Series:
    return FEATS.to_pandas()["amount" if col == "price" else col].astype("float64")


def np_zscore(s: pd.Series) -> pd.Series:
    values = s.to_numpy(dtype="float64")
    return pd.Series((values - np.nanmean(values)) / np.nanstd(values))


WINDOW_CASES: list[tuple[str, Callable[[pd.Series], pd.Series]]] = [
    ("zscore({c})", np_zscore),
    ("zscore_samp({c})", lambda s: (s - s.mean()) / s.std()),
    ("minmax({c})", lambda s: (s - s.min()) / (s.max() - s.min())),
    ("clip({c}, 2, 15)", lambda s: s.clip(2, 15)),
    ("clip_quantile({c}, 0.1, 0.9)", lambda s: s.clip(s.quantile(0.1), s.quantile(0.9))),
    ("clip_quantile({c}, 0.25, 0.5)", lambda s: s.clip(s.quantile(0.25), s.quantile(0.5))),
    ("fill_null_mean({c})", lambda s: s.fillna(s.mean())),
    ("fill_null_median({c})", lambda s: s.fillna(s.median())),
]


@pytest.mark.parametrize("col", ["amount", "qty", "price"])
@pytest.mark.parametrize(("template", "expected"), WINDOW_CASES, ids=[t for t, _ in WINDOW_CASES])
def test_scalar_macro_matches_pandas_per_row(
    con: duckdb.DuckDBPyConnection,
    template: str,
    expected: Callable[[pd.Series], pd.Series],
    col: str,
) -> None:
    want = expected(feats_series(col)).to_list()
    assert column(con, template.format(c=col)) == pytest.approx(want, nan_ok=True)


@pytest.mark.parametrize(("template", "expected"), WINDOW_CASES, ids=[t for t, _ in WINDOW_CASES])
def test_scalar_macro_matches_pandas_over_a_frame_and_after_group_by(
    con: duckdb.DuckDBPyConnection,
    template: str,
    expected: Callable[[pd.Series], pd.Series],
) -> None:
    # Over a table, grouped or not, DuckDB plans the window as an aggregate joined back to the
    # rows; over an Arrow scan, which it reads only once, it keeps the Window operator.
    con.register("feats_frame", FEATS)
    sql = f"SELECT {template.format(c='amount')} FROM feats_frame ORDER BY rn"
    want = expected(feats_series("amount")).to_list()
    assert floats_or_nan([v for (v,) in rows(con, sql)]) == pytest.approx(want, nan_ok=True)

    sql = f"SELECT {template.format(c='sum(amount)')} FROM feats GROUP BY rn % 3 ORDER BY rn % 3"
    sums = FEATS.to_pandas().groupby(FEATS["rn"].to_numpy() % 3)["amount"].sum(min_count=1)
    want = expected(sums.reset_index(drop=True)).to_list()
    assert floats_or_nan([v for (v,) in rows(con, sql)]) == pytest.approx(want, nan_ok=True)


def test_window_statistics_cover_only_the_rows_the_query_keeps(
    con: duckdb.DuckDBPyConnection,
) -> None:
    train = feats_series("amount")[FEATS["rn"].to_numpy() < 6].reset_index(drop=True)
    got = column(con, "zscore(amount)", where="rn < 6")
    assert got == pytest.approx(np_zscore(train).to_list(), nan_ok=True)


@pytest.mark.parametrize("macro", ["zscore", "zscore_samp", "minmax"])
@pytest.mark.parametrize(
    "values", [[4.0, 4.0, None], [7.5, None, None]], ids=["constant", "single"]
)
def test_scale_of_degenerate_column_is_null_not_nan_or_inf(
    con: duckdb.DuckDBPyConnection, macro: str, values: list[float | None]
) -> None:
    con.execute("CREATE TABLE c AS SELECT unnest($1::DOUBLE[]) AS x", [values])
    assert rows(con, f"SELECT {macro}(x) FROM c") == [(None,)] * len(values)


def test_deduplicate_equals_polars_unique(con: duckdb.DuckDBPyConnection) -> None:
    got = rows(con, "SELECT * FROM deduplicate('raw.orders')")
    assert Counter(got) == Counter(ORDERS.unique().rows())


@pytest.mark.parametrize(
    ("keys", "polars_keys"),
    [
        (["id"], ["id"]),
        (["customer"], ["customer"]),
        (["customer", "qty"], ["customer", "qty"]),
        (["CUSTOMER"], ["customer"]),
    ],
)
def test_deduplicate_on_keys_keeps_first_row_in_sorted_order(
    con: duckdb.DuckDBPyConnection, keys: list[str], polars_keys: list[str]
) -> None:
    expected = ORDERS.sort(ORDERS.columns, nulls_last=True, maintain_order=True).unique(
        subset=polars_keys, keep="first", maintain_order=True
    )
    got = rows(con, f"SELECT * FROM deduplicate('raw.orders', {keys})")
    assert got == expected.rows()


@pytest.mark.parametrize(
    "cols",
    [None, ["amount"], ["customer", "qty"], ["Amount", "QTY"], []],
    ids=["any-column", "one", "two", "case-insensitive", "empty-list"],
)
def test_drop_nulls_equals_polars_drop_nulls(
    con: duckdb.DuckDBPyConnection, cols: list[str] | None
) -> None:
    call = "drop_nulls('raw.orders')" if cols is None else f"drop_nulls('raw.orders', {cols})"
    subset = None if cols is None else [c.lower() for c in cols]
    assert Counter(rows(con, f"SELECT * FROM {call}")) == Counter(ORDERS.drop_nulls(subset).rows())


def test_drop_nulls_keeps_nan_like_polars(con: duckdb.DuckDBPyConnection) -> None:
    frame = pl.DataFrame({"k": [1, 2, 3], "x": [float("nan"), None, 1.0]})
    con.register("nan_df", frame)
    con.execute("CREATE TABLE with_nan AS FROM nan_df")
    got = rows(con, "SELECT k FROM drop_nulls('with_nan', ['x']) ORDER BY k")
    assert got == [(k,) for k in frame.drop_nulls(["x"])["k"].to_list()] == [(1,), (3,)]


def pandas_filter(mask: pd.Series) -> Rows:
    return ORDERS.filter(pl.Series(mask.to_list())).rows()


@pytest.mark.parametrize(
    ("col", "q"), [("amount", 0.5), ("amount", 0.9), ("qty", 0.5), ("qty", 0.75), ("QTY", 0.3)]
)
def test_remove_outliers_equals_pandas_quantile_filter(
    con: duckdb.DuckDBPyConnection, col: str, q: float
) -> None:
    s = ORDERS.to_pandas()[col.lower()]
    expected = pandas_filter(s < s.quantile(q))
    got = rows(con, f"SELECT * FROM remove_outliers('raw.orders', '{col}', {q})")
    assert Counter(got) == Counter(expected)


@pytest.mark.parametrize(
    ("col", "lo", "hi"),
    [("amount", 0.1, 0.9), ("amount", 0.25, 0.5), ("qty", 0.2, 0.8), ("QTY", 0.2, 0.8)],
)
def test_trim_quantiles_equals_pandas_between(
    con: duckdb.DuckDBPyConnection, col: str, lo: float, hi: float
) -> None:
    s = ORDERS.to_pandas()[col.lower()]
    expected = pandas_filter(s.between(s.quantile(lo), s.quantile(hi)))
    got = rows(con, f"SELECT * FROM trim_quantiles('raw.orders', '{col}', {lo}, {hi})")
    assert Counter(got) == Counter(expected)


def test_summary_stats_match_pandas_describe(con: duckdb.DuckDBPyConnection) -> None:
    result = con.execute("SELECT * FROM summary_stats('raw.orders')")
    names = [d[0] for d in result.description]
    stats = {r[0]: dict(zip(names, r, strict=True)) for r in result.fetchall()}
    frame = ORDERS.to_pandas()
    assert list(stats) == ORDERS.columns
    assert {c: s["column_type"] for c, s in stats.items()} == {
        "id": "BIGINT",
        "customer": "VARCHAR",
        "amount": "DOUBLE",
        "qty": "BIGINT",
    }
    for col in ORDERS.columns:
        assert stats[col]["count"] == frame[col].count()
        assert stats[col]["null_count"] == frame[col].isna().sum()
    for col in ["id", "amount", "qty"]:
        d = frame[col].astype("float64").describe()
        got = [stats[col][k] for k in ["mean", "std", "min", "q25", "median", "q75", "max"]]
        assert got == pytest.approx(
            [d[k] for k in ["mean", "std", "min", "25%", "50%", "75%", "max"]]
        )
    assert all(stats["customer"][k] is None for k in ["mean", "std", "min", "median", "max"])


def test_macros_compose_in_one_query(con: duckdb.DuckDBPyConnection) -> None:
    got = rows(
        con,
        "SELECT id, zscore_samp(amount) FROM drop_nulls('raw.orders', ['amount']) ORDER BY id",
    )
    frame = ORDERS.to_pandas().dropna(subset=["amount"]).sort_values("id", kind="stable")
    expected = (frame["amount"] - frame["amount"].mean()) / frame["amount"].std()
    assert [i for i, _ in got] == frame["id"].to_list()
    assert [z for _, z in got] == pytest.approx(expected.to_list())


@pytest.fixture
def elsewhere(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    con.execute(
        """
        ATTACH ':memory:' AS other_db;
        CREATE SCHEMA other_db.sales;
        CREATE TABLE other_db.sales.orders AS FROM raw.orders;
        CREATE TABLE raw."order lines" AS FROM raw.orders;
        CREATE VIEW raw.orders_view AS FROM raw.orders;
        """
    )
    return con


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM deduplicate('RAW.Orders')",
        "SELECT * FROM deduplicate('memory.raw.orders')",
        "SELECT * FROM deduplicate('raw.orders_view')",
        "SELECT * FROM deduplicate('raw.\"order lines\"')",
        "SELECT * FROM deduplicate('other_db.sales.orders')",
        "WITH recent AS (FROM raw.orders) SELECT * FROM deduplicate('recent')",
        "USE other_db.sales; SELECT * FROM deduplicate('orders')",
    ],
    ids=["case", "catalog", "view", "quoted", "attached", "cte", "use"],
)
def test_table_name_argument_resolves_like_a_from_clause(
    elsewhere: duckdb.DuckDBPyConnection, sql: str
) -> None:
    assert Counter(rows(elsewhere, sql)) == Counter(ORDERS.unique().rows())


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM deduplicate('nope')", r"\bnope\b"),
        ("SELECT * FROM summary_stats('raw.nope')", r"\bnope\b"),
        ("SELECT * FROM drop_nulls('nope.orders')", r"\bnope\b"),
        (
            "SELECT * FROM drop_nulls('raw.orders', ['amount', 'nope'])",
            r"drop_nulls: column\(s\) \[nope\] not found in table raw\.orders",
        ),
        (
            "SELECT * FROM deduplicate('raw.orders', ['id', 'nope'])",
            r"deduplicate: column\(s\) \[nope\] not found in table raw\.orders",
        ),
        ("SELECT * FROM deduplicate('raw.orders', ['nope'])", r"'nope'"),
        ("SELECT * FROM remove_outliers('raw.orders', 'nope', 0.5)", r"'nope'"),
        ("SELECT * FROM trim_quantiles('raw.orders', 'nope', 0.1, 0.9)", r"'nope'"),
    ],
)
def test_bad_table_or_column_name_is_named_in_the_error(
    con: duckdb.DuckDBPyConnection, sql: str, message: str
) -> None:
    with pytest.raises(duckdb.Error, match=message):
        con.execute(sql)


def test_registered_macros_are_exactly_the_declared_ones(
    con: duckdb.DuckDBPyConnection,
) -> None:
    register_macros(con)  # registering twice replaces, never duplicates
    declared = rows(
        con,
        "SELECT function_name, function_type, parameters FROM duckdb_functions() "
        "WHERE database_name = 'temp'",
    )
    assert {name for name, _, _ in declared} == MACRO_NAMES
    table_args = {
        (name, tuple(i for i, p in enumerate(params) if p == "tbl"))
        for name, kind, params in declared
        if kind == "table_macro"
    }
    assert table_args == set(TABLE_MACROS.items())


def test_every_macro_statement_has_a_comment_line_above() -> None:
    lines = MACRO_SQL.splitlines()
    creates = [i for i, line in enumerate(lines) if line.startswith("CREATE")]
    assert len(creates) == len(MACRO_NAMES)
    for i in creates:
        name = re.match(r"CREATE OR REPLACE MACRO (\w+)\(", lines[i])
        assert name is not None and name.group(1) in MACRO_NAMES
        assert lines[i - 1].startswith("-- ")


def test_macros_are_temporary_and_work_on_read_only_databases(tmp_path: Path) -> None:
    path = str(tmp_path / "w.duckdb")
    with duckdb.connect(path) as rw:
        rw.execute("CREATE TABLE t AS SELECT * FROM (VALUES (1), (1), (NULL)) v(x)")
    with duckdb.connect(path, read_only=True) as ro:
        register_macros(ro)
        assert rows(ro, "SELECT x FROM deduplicate('t') ORDER BY x") == [(1,), (None,)]
    with duckdb.connect(path) as reopened:
        names = {n for (n,) in rows(reopened, "SELECT function_name FROM duckdb_functions()")}
    assert names.isdisjoint(MACRO_NAMES)
