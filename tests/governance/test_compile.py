"""sqlops' verdicts and counts against plain pandera's on the same rows.

The oracle is plain pandera-polars itself: ``DataFrameSchema.validate(frame, lazy=True)`` on
an eager frame of at most 25 rows, counting the rows of ``SchemaErrors.failure_cases`` for
the check (no ``n_failure_cases`` is set, so pandera lists every failing row; the frames are
small). It never sees sqlops' SQL: it evaluates the same Check objects with Polars
expressions, so a wrong translation to DuckDB shows up as a different count.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandera.errors
import pandera.polars as pa
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandera.api.checks import Check

from sqlops import checks
from sqlops.execute.engine import Engine
from sqlops.governance.contracts import Contract
from sqlops.governance.validate import validate

NAN, INF = math.nan, math.inf
FLOATS = [0.0, 1.5, -2.0, 3.0, NAN, INF, -INF, None]
INTS = [0, 1, 2, -5, 7, None]
TEXTS = ["a", "ab", "", "N/A", "b1", "xyz", "ba", None]
T0 = dt.datetime(2024, 1, 10)
TIMES = [T0, T0 - dt.timedelta(days=3), None]
NOW = "2024-01-10T12:00:00"

# (column, check) pairs: every built-in pandera check sqlops compiles, and sqlops' own.
COLUMN_CHECKS = [
    ("f", Check.ge(0)), ("f", Check.gt(0)), ("f", Check.le(1.5)), ("f", Check.lt(1.5)),
    ("f", Check.eq(1.5)), ("f", Check.ne(1.5)), ("i", Check.ge(0)), ("i", Check.eq(2)),
    ("f", Check.in_range(-2, 1.5)), ("i", Check.between(0, 2, include_min=False)),
    ("f", Check.isin([1.5, NAN, 3.0])), ("i", Check.isin([0, 1, None])),
    ("s", Check.isin(["a", ""])), ("s", Check.notin(["a", "N/A"])), ("i", Check.notin([7])),
    ("s", Check.str_matches(r"[ab]")), ("s", Check.str_contains(r"b\d?$")),
    ("s", Check.str_startswith("a")), ("s", Check.str_endswith("b")),
    ("s", Check.str_length(1, 2)), ("s", Check.str_length(exact_value=2)),
    ("s", Check.str_length(max_value=1)), ("f", Check.ge(0, ignore_na=False)),
    ("s", checks.not_missing()), ("f", checks.not_missing()), ("i", checks.not_missing()),
    ("i", Check(lambda d: d.lazyframe.select(pl.col(d.key) > 0), name="custom_positive")),
]  # fmt: skip
TABLE_CHECKS = [
    checks.row_count(3, 10), checks.freshness("t", "1d", now=NOW),
    checks.mostly("f", Check.ge(0), 0.6), checks.mostly("s", Check.str_length(1, 1), 0.5),
    *(checks.aggregate(c, stat, -1, 2) for c in ("f", "i") for stat in ("mean", "min", "max", "sum", "std")),  # noqa: E501
    checks.quantile("f", 0.5, 0, 2), checks.quantile("i", 0.25, 0, 1),
    Check(lambda d: d.lazyframe.select(pl.col("i") < pl.col("f")), name="i_below_f"),
]  # fmt: skip

rows = st.lists(
    st.tuples(st.sampled_from(FLOATS), st.sampled_from(INTS), st.sampled_from(TEXTS),
              st.sampled_from(TIMES)),
    max_size=25,
)  # fmt: skip
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def engine() -> Engine:
    engine = Engine.open(threads=1)
    engine.execute("CREATE SCHEMA m")
    return engine


def frame(data: list[tuple[Any, ...]]) -> pl.DataFrame:
    schema = {"f": pl.Float64, "i": pl.Int64, "s": pl.String, "t": pl.Datetime("us")}
    return pl.DataFrame(data, schema=schema, orient="row")


def load(engine: Engine, df: pl.DataFrame) -> None:
    engine.register("_frame", df)
    engine.execute("CREATE OR REPLACE TABLE m.t AS SELECT * FROM _frame")
    engine.unregister("_frame")


def columns(**overrides: Any) -> dict[str, pa.Column]:
    out = {c: pa.Column(nullable=True) for c in "fist"}
    out.update(overrides)
    return out


def oracle(schema: pa.DataFrameSchema, df: pl.DataFrame) -> tuple[bool, int]:
    """Plain pandera's verdict and failing-row count for a one-check schema."""
    try:
        schema.validate(df, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        return False, cases.filter(pl.col("index").is_not_null()).height
    return True, 0


def only(results: list[Any]) -> Any:
    [r] = [r for r in results if not r.check.startswith("dtype")]
    return r


@pytest.mark.parametrize("polars", [False, True], ids=["sql", "polars"])
@pytest.mark.parametrize(("column", "check"), COLUMN_CHECKS, ids=lambda v: getattr(v, "error", v))
def test_column_check_matches_pandera(
    engine: Engine, column: str, check: Check, polars: bool
) -> None:
    schema = pa.DataFrameSchema(columns(**{column: pa.Column(nullable=True, checks=[check])}))

    @SETTINGS
    @given(rows)
    def run(data: list[tuple[Any, ...]]) -> None:
        df = frame(data)
        load(engine, df)
        passed, count = oracle(schema, df)
        got = only(validate(engine, "m.t", "m.t", Contract("t", schema), polars=polars))
        assert (got.outcome == "passed", got.failures) == (passed, count), (df, got)

    run()


@pytest.mark.parametrize("polars", [False, True], ids=["sql", "polars"])
@pytest.mark.parametrize("check", TABLE_CHECKS, ids=lambda c: str(c.error))
def test_table_check_matches_pandera(engine: Engine, check: Check, polars: bool) -> None:
    schema = pa.DataFrameSchema(columns(), checks=[check])

    @SETTINGS
    @given(rows)
    def run(data: list[tuple[Any, ...]]) -> None:
        df = frame(data)
        load(engine, df)
        passed, _ = oracle(schema, df)
        got = only(validate(engine, "m.t", "m.t", Contract("t", schema), polars=polars))
        assert got.outcome == ("passed" if passed else "failed"), (df, got)

    run()


@pytest.mark.parametrize(
    "schema",
    [
        pa.DataFrameSchema(columns(f=pa.Column(nullable=False))),
        pa.DataFrameSchema(columns(s=pa.Column(nullable=False))),
        pa.DataFrameSchema(columns(f=pa.Column(nullable=True, unique=True))),
        pa.DataFrameSchema(columns(s=pa.Column(nullable=True, unique=True))),
        pa.DataFrameSchema(columns(), unique=["i", "s"]),
    ],
    ids=["nullable-float", "nullable-text", "unique-float", "unique-text", "unique-i-s"],
)
def test_nullability_and_uniqueness_match_pandera(engine: Engine, schema: Any) -> None:
    @SETTINGS
    @given(rows)
    def run(data: list[tuple[Any, ...]]) -> None:
        df = frame(data)
        load(engine, df)
        passed, count = oracle(schema, df)
        got = only(validate(engine, "m.t", "m.t", Contract("t", schema)))
        assert (got.outcome == "passed", got.failures) == (passed, count), (df, got)

    run()


@pytest.mark.parametrize(
    ("dtype", "column", "ok"),
    [(pl.Int64, "i", True), (pl.Int32, "i", False), (pl.Float64, "f", True), (str, "s", True),
     (pl.Int64, "s", False), (pl.Datetime("us"), "t", True), (pl.Date, "t", False)],
)  # fmt: skip
def test_dtype_matches_pandera(engine: Engine, dtype: Any, column: str, ok: bool) -> None:
    df = frame([(1.5, 1, "a", T0)])
    load(engine, df)
    schema = pa.DataFrameSchema(columns(**{column: pa.Column(dtype, nullable=True)}))
    assert oracle(schema, df)[0] is ok
    [got] = validate(engine, "m.t", "m.t", Contract("t", schema))
    assert (got.outcome, got.reason) == ("passed" if ok else "failed", "dtype")


CLEAN = [(1.0, 1, "ab", T0), (0.5, 2, "ab", T0), (1.5, 1, "ab", T0), (1.0, 2, "ab", T0)] * 2
# check -> (a bad row that fails it once, whether it judges rows or the table)
MUTATIONS: list[tuple[str, Any, tuple[Any, ...], int | None]] = [
    ("f", Check.ge(0), (-1.0, 1, "ab", T0), 1), ("f", Check.le(1.5), (INF, 1, "ab", T0), 1),
    ("f", Check.le(1.5), (NAN, 1, "ab", T0), 1), ("i", Check.isin([1, 2]), (1.0, 7, "ab", T0), 1),
    ("i", Check.notin([3]), (1.0, 3, "ab", T0), 1), ("f", Check.in_range(0, 2), (9.0, 1, "ab", T0), 1),  # noqa: E501
    ("s", Check.str_matches("a"), (1.0, 1, "ba", T0), 1), ("s", Check.str_contains("b$"), (1.0, 1, "a", T0), 1),  # noqa: E501
    ("s", Check.str_startswith("a"), (1.0, 1, "b", T0), 1), ("s", Check.str_endswith("b"), (1.0, 1, "a", T0), 1),  # noqa: E501
    ("s", Check.str_length(2, 2), (1.0, 1, "", T0), 1), ("s", checks.not_missing(), (1.0, 1, "N/A", T0), 1),  # noqa: E501
    ("s", checks.not_missing(), (1.0, 1, "", T0), 1), ("s", checks.not_missing(), (1.0, 1, None, T0), 1),  # noqa: E501
    ("i", Check(lambda d: d.lazyframe.select(pl.col(d.key) < 5), name="lt5"), (1.0, 9, "ab", T0), 1),  # noqa: E501
]  # fmt: skip
TABLE_MUTATIONS = [
    (checks.row_count(max_value=8), (1.0, 1, "ab", T0)),
    (checks.aggregate("i", "max", 0, 2), (1.0, 3, "ab", T0)),
    (checks.aggregate("f", "mean", 0, 2), (1000.0, 1, "ab", T0)),
    (checks.quantile("f", 1.0, 0, 2), (5.0, 1, "ab", T0)),
    (checks.mostly("f", Check.ge(0), 1.0), (-1.0, 1, "ab", T0)),
]


@pytest.mark.parametrize("polars", [False, True], ids=["sql", "polars"])
@pytest.mark.parametrize(
    ("column", "check", "bad", "count"), MUTATIONS, ids=lambda v: getattr(v, "error", None)
)
def test_planted_bad_row_is_counted_once(
    engine: Engine, column: str, check: Check, bad: Any, count: int, polars: bool
) -> None:
    schema = pa.DataFrameSchema(columns(**{column: pa.Column(nullable=True, checks=[check])}))
    contract = Contract("t", schema)
    load(engine, frame(CLEAN))
    assert only(validate(engine, "m.t", "m.t", contract, polars=polars)).failures == 0
    load(engine, frame([*CLEAN, bad]))
    got = only(validate(engine, "m.t", "m.t", contract, polars=polars))
    assert (got.outcome, got.failures, got.rows) == ("failed", count, len(CLEAN) + 1)


@pytest.mark.parametrize("polars", [False, True], ids=["sql", "polars"])
@pytest.mark.parametrize(("check", "bad"), TABLE_MUTATIONS, ids=lambda v: getattr(v, "error", None))
def test_planted_bad_row_flips_a_table_check(
    engine: Engine, check: Check, bad: Any, polars: bool
) -> None:
    contract = Contract("t", pa.DataFrameSchema(columns(), checks=[check]))
    load(engine, frame(CLEAN))
    assert only(validate(engine, "m.t", "m.t", contract, polars=polars)).outcome == "passed"
    load(engine, frame([*CLEAN, bad]))
    assert only(validate(engine, "m.t", "m.t", contract, polars=polars)).outcome == "failed"


@pytest.mark.parametrize(
    ("schema", "bad", "count"),
    [
        (pa.DataFrameSchema(columns(f=pa.Column(nullable=False))), (NAN, 1, "ab", T0), 1),
        (pa.DataFrameSchema(columns(s=pa.Column(nullable=False))), (1.0, 1, None, T0), 1),
        (
            pa.DataFrameSchema(columns(f=pa.Column(nullable=True, unique=True))),
            (2.0, 1, "ab", T0),
            2,
        ),
        (pa.DataFrameSchema(columns(), unique=["f", "i"]), (2.0, 2, "ab", T0), 2),
    ],
    ids=["nullable-nan", "nullable-null", "unique", "unique-pair"],
)
def test_planted_null_or_duplicate_is_counted(
    engine: Engine, schema: Any, bad: Any, count: int
) -> None:
    clean = [(float(n), n, "ab", T0) for n in range(2, 9)]
    load(engine, frame(clean))
    assert only(validate(engine, "m.t", "m.t", Contract("t", schema))).failures == 0
    load(engine, frame([*clean, bad]))
    assert only(validate(engine, "m.t", "m.t", Contract("t", schema))).failures == count


def test_references_count_every_orphan_and_ignore_nulls(engine: Engine) -> None:
    engine.execute(
        "CREATE OR REPLACE TABLE m.parent AS SELECT * FROM (VALUES (1), (2), (NULL)) v(id)"
    )
    load(
        engine,
        frame([(1.0, 1, "a", T0), (1.0, 2, "a", T0), (1.0, None, "a", T0), (1.0, 7, "a", T0)]),
    )
    contract = Contract(
        "t", pa.DataFrameSchema(columns(), checks=[checks.references("i", "m.parent", "id")])
    )
    [got] = validate(engine, "m.t", "m.t", contract)
    assert (got.outcome, got.failures, got.samples) == ("failed", 1, [7])


def test_row_count_against_another_table(engine: Engine) -> None:
    engine.execute("CREATE OR REPLACE TABLE m.parent AS SELECT range AS id FROM range(4)")
    load(engine, frame(CLEAN))
    within = checks.row_count_vs("m.parent", min_ratio=1.5, max_ratio=2.0)
    outside = checks.row_count_vs("m.parent", max_ratio=1.0)
    contract = Contract("t", pa.DataFrameSchema(columns(), checks=[within, outside]))
    assert [r.outcome for r in validate(engine, "m.t", "m.t", contract)] == ["passed", "failed"]
