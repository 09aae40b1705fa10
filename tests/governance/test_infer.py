"""``infer_contract``: the starter contract validates, in plain pandera, the whole table it was
inferred from (random tables with NULLs, NaN, +-inf, empty strings, decimals, big integers,
time zones), is not vacuous (a planted row outside a bound fails it), and reads as expected."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pandera.errors
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sqlops.execute.engine import Engine
from sqlops.governance.infer import infer_contract


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    engine = Engine.open(":memory:", macros=False)
    yield engine
    engine.close()


def _float_text(value: float) -> str:
    return "nan" if math.isnan(value) else repr(value)


def _blob(value: bytes) -> str:
    return "".join(f"\\x{b:02X}" for b in value)


_NAIVE = st.datetimes(dt.datetime(1700, 1, 1), dt.datetime(2250, 12, 31))
_ZONED = st.datetimes(
    dt.datetime(1950, 1, 1), dt.datetime(2100, 1, 1), timezones=st.timezones()
).map(lambda d: d.isoformat(sep=" "))
# each DuckDB type with a strategy for its values written as text (cast in DuckDB)
TYPES: dict[str, st.SearchStrategy[str]] = {
    "INTEGER": st.integers(-(2**31), 2**31 - 1).map(str),
    "BIGINT": st.integers(-(2**63), 2**63 - 1).map(str),
    "UBIGINT": st.integers(0, 2**64 - 1).map(str),
    "HUGEINT": st.integers(-(2**127), 2**127 - 1).map(str),
    "DOUBLE": st.floats().map(_float_text),
    "FLOAT": st.floats(width=32).map(_float_text),
    "DECIMAL(9,3)": st.decimals(-999999, 999999, places=3, allow_nan=False).map(str),
    "DECIMAL(38,10)": st.decimals(-(10**27), 10**27, places=10, allow_nan=False).map(str),
    "VARCHAR": st.text(max_size=4),
    "CODE": st.sampled_from(["", "a", "B", "ñ"]),
    "BOOLEAN": st.booleans().map(str),
    "DATE": st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)).map(str),
    "TIMESTAMP": _NAIVE.map(str),
    "TIMESTAMP_NS": st.tuples(_NAIVE, st.integers(0, 999)).map(
        lambda p: f"{p[0]:%Y-%m-%d %H:%M:%S}.{p[0].microsecond:06d}{p[1]:03d}"
    ),
    "TIMESTAMPTZ": _ZONED,
    "TIME": st.times().map(str),
    "BLOB": st.binary(max_size=3).map(_blob),
    "INTEGER[]": st.lists(st.integers(-5, 5), max_size=2).map(str),
}


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[tuple[str | None, ...]]]:
    types = draw(st.lists(st.sampled_from(sorted(TYPES)), min_size=1, max_size=5))
    holes = draw(st.lists(st.booleans(), min_size=len(types), max_size=len(types)))
    cells = [
        st.none() | TYPES[t] if hole else TYPES[t] for t, hole in zip(types, holes, strict=True)
    ]
    rows = draw(st.lists(st.tuples(*cells), max_size=45))
    return types, rows


def _load(engine: Engine, types: list[str], rows: list[tuple[str | None, ...]]) -> None:
    names = [f"c{i}" for i in range(len(types))]
    engine.execute(f"CREATE OR REPLACE TABLE raw ({', '.join(f'{n} VARCHAR' for n in names)})")
    if rows:
        marks = ", ".join("?" for _ in names)
        engine.con.executemany(f"INSERT INTO raw VALUES ({marks})", rows)
    casts = [
        f"CAST({n} AS {'VARCHAR' if t == 'CODE' else t}) AS {n}"
        for n, t in zip(names, types, strict=True)
    ]
    engine.execute(f"CREATE OR REPLACE TABLE t AS SELECT {', '.join(casts)} FROM raw")


def _model(source: str) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(source, "<inferred>", "exec", dont_inherit=True), namespace)
    return next(v for k, v in namespace.items() if k == "T")


@pytest.mark.parametrize("zone", ["UTC", "America/Sao_Paulo"])
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(table=tables())
def test_inferred_contract_validates_the_whole_table(
    engine: Engine, zone: str, table: tuple[list[str], list[tuple[str | None, ...]]]
) -> None:
    engine.execute(f"SET TimeZone = '{zone}'")
    _load(engine, *table)
    model = _model(infer_contract(engine, "t", "main.t", class_name="T"))
    model.validate(engine.polars("SELECT * FROM t"), lazy=True)


@settings(max_examples=25, deadline=None)
@given(
    values=st.lists(st.integers(-1000, 1000) | st.none(), min_size=1).filter(
        lambda v: any(x is not None for x in v)
    ),
    kind=st.sampled_from(["INTEGER", "DOUBLE", "DECIMAL(9,2)", "DATE"]),
)
def test_a_planted_row_above_the_maximum_fails(
    engine: Engine, values: list[int | None], kind: str
) -> None:
    as_type = {"DATE": "DATE '2000-01-01' + x::INTEGER"}.get(kind, f"x::{kind}")
    engine.execute("CREATE OR REPLACE TABLE raw (x INTEGER)")
    engine.con.executemany("INSERT INTO raw VALUES (?)", [(v,) for v in values])
    engine.execute(f"CREATE OR REPLACE TABLE t AS SELECT {as_type} AS x FROM raw")
    model = _model(infer_contract(engine, "t", "main.t", class_name="T"))
    top = max(v for v in values if v is not None)
    engine.execute("CREATE OR REPLACE TABLE raw AS SELECT ? AS x", [top + 1])
    engine.execute(f"INSERT INTO t SELECT {as_type} FROM raw")
    with pytest.raises(pandera.errors.SchemaErrors) as failed:
        model.validate(engine.polars("SELECT * FROM t"), lazy=True)
    cases = failed.value.failure_cases
    assert "less_than_or_equal_to" in " ".join(map(str, cases["check"].to_list()))


def test_inferred_source_golden(engine: Engine) -> None:
    engine.execute("SET TimeZone = 'UTC'")
    engine.script(
        "CREATE SCHEMA marts; CREATE TABLE marts.order_items AS SELECT range::INTEGER AS id, "
        "CASE WHEN range % 2 = 0 THEN 'BR' ELSE 'US' END AS country, "
        "CASE WHEN range = 3 THEN NULL ELSE range * 0.5 END AS amount, "
        "CASE WHEN range = 7 THEN 'nan'::DOUBLE ELSE range END AS score, "
        "(range / 4)::DECIMAL(6,2) AS price, DATE '2026-01-01' + range::INTEGER AS day, "
        "TIMESTAMPTZ '2026-01-01 00:00:00+00' AS at, range::HUGEINT AS big, "
        "'item ' || range AS label FROM range(40)"
    )
    source = infer_contract(engine, '"marts"."order_items"', "marts.order_items")
    assert source == GOLDEN
    model = _model(source.replace("class OrderItems", "class T"))
    model.validate(engine.polars("SELECT * FROM marts.order_items"))


def test_low_cardinality_text_gets_a_set_that_rejects_other_values(engine: Engine) -> None:
    engine.execute(
        "CREATE OR REPLACE TABLE t AS SELECT ['', 'a', NULL][1 + range % 3] AS c FROM range(60)"
    )
    model = _model(infer_contract(engine, "t", "main.t", class_name="T"))
    assert model.to_schema().columns["c"].checks[0].statistics == {"allowed_values": ["", "a"]}
    with pytest.raises(pandera.errors.SchemaError):
        model.validate(pl.DataFrame({"c": ["b"]}))


def test_empty_and_columnless_edge_cases(engine: Engine) -> None:
    engine.execute("CREATE OR REPLACE TABLE t (a INTEGER, b VARCHAR)")
    model = _model(infer_contract(engine, "t", "main.t", class_name="T"))
    model.validate(engine.polars("SELECT * FROM t"))
    assert [c.checks for c in model.to_schema().columns.values()] == [[], []]


def test_decimal_bounds_keep_their_scale(engine: Engine) -> None:
    engine.execute(
        "CREATE OR REPLACE TABLE t AS SELECT * FROM (VALUES (1.10::DECIMAL(5,2)), (2.25))"
    )
    schema = _model(infer_contract(engine, "t", "main.t", class_name="T")).to_schema()
    bounds = [c.statistics for c in schema.columns["col0"].checks]
    assert bounds == [{"min_value": Decimal("1.10")}, {"max_value": Decimal("2.25")}]


def test_a_repeated_wall_clock_time_keeps_its_fold(engine: Engine) -> None:
    """In Sao Paulo 23:30 on 2018-02-17 happened twice; the later one is the maximum."""
    engine.execute("SET TimeZone = 'America/Sao_Paulo'")
    engine.execute("CREATE OR REPLACE TABLE t AS SELECT TIMESTAMPTZ '2018-02-18 02:30:00+00' AS at")
    source = infer_contract(engine, "t", "main.t", class_name="T")
    assert "fold=1" in source
    _model(source).validate(engine.polars("SELECT * FROM t"))


GOLDEN = '''\
import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import polars as pl
import pandera.polars as pa


class OrderItems(pa.DataFrameModel):
    """Starter contract inferred from all 40 rows of marts.order_items; review it before use."""

    id: pl.Int32 = pa.Field(ge=0, le=39, unique=True)
    country: pl.String = pa.Field(isin=['BR', 'US'])
    amount: pl.Decimal(21, 1) = pa.Field(
        ge=Decimal('0.0'),
        le=Decimal('19.5'),
        nullable=True,
        unique=True,
    )
    # score holds NaN, which sorts above every number: no le
    score: pl.Float64 = pa.Field(ge=0.0, nullable=True)
    price: pl.Decimal(6, 2) = pa.Field(ge=Decimal('0.00'), le=Decimal('9.75'), unique=True)
    day: pl.Date = pa.Field(ge=datetime.date(2026, 1, 1), le=datetime.date(2026, 2, 9), unique=True)
    at: pl.Datetime('us', 'UTC') = pa.Field(
        ge=datetime.datetime(2026, 1, 1, 0, 0, 0, tzinfo=ZoneInfo('UTC')),
        le=datetime.datetime(2026, 1, 1, 0, 0, 0, tzinfo=ZoneInfo('UTC')),
    )
    # big (Int128) is left out: pandera 0.35 cannot check it
    label: pl.String = pa.Field(unique=True)
'''
