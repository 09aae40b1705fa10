"""``sqlops contract infer``: a starter pandera contract read off a whole table.

pandera can infer a schema from a Polars frame, but only from the rows it is handed; a
starter contract guessed from a sample fails on the first row outside it. Here every
statistic is one DuckDB aggregate over the whole table, and each rule is chosen so the
contract validates the table it came from in plain pandera:

- dtype: the exact Polars dtype sqlops hands pandera for that column (read from a
  zero-row query through the engine, so time zones, decimal scales and nested types agree);
  (U)Int128 columns are left out with a comment, as pandera 0.35 cannot check that dtype;
- nullable: when the column holds a NULL, or a NaN (pandera's nullable check counts NaN as
  missing, though DuckDB and Polars both call it a value);
- ``ge``/``le``: the observed minimum and maximum of numbers, decimals, dates, times and
  timestamps; a float column holding NaN gets no upper bound (NaN sorts above every number
  in DuckDB and in Polars, so ``le`` would fail it), infinite bounds are left out (they bound
  nothing), and nanosecond timestamps are rounded out to whole microseconds (Python's
  datetime cannot hold nanoseconds);
- ``isin``: text columns with at most 20 distinct values that are also at most 5% of the
  rows (a code list, not free text);
- ``unique``: when every non-NULL value is distinct, there are at least two of them and at
  most one NULL (pandera counts repeated NULLs as duplicates); never for floats or booleans,
  which are not keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlops.execute.materialize import quote
from sqlops.governance.modelsource import UNCHECKABLE, model_source
from sqlops.governance.modelsource import class_name as default_class_name

if TYPE_CHECKING:
    import polars as pl

    from sqlops.execute.engine import Engine

MAX_SET = 20  # at most this many distinct values for an ``isin`` set ...
MAX_SET_SHARE = 0.05  # ... and at most this share of the rows


@dataclass(frozen=True)
class ColumnProfile:
    """What the whole table says about one column (from one aggregate query)."""

    name: str
    dtype: Any
    rows: int
    nulls: int
    distinct: int
    low: Any = None
    high: Any = None
    has_nan: bool = False


def infer_contract(
    engine: Engine, relation: str, table: str, *, class_name: str | None = None
) -> str:
    """The Python source of a starter ``pandera.polars`` DataFrameModel for ``table``.

    ``relation`` is what to read, as SQL after ``FROM`` (``"marts"."orders"``); ``table``
    names it for the user (the docstring and the default class name).
    """
    profiles = profile(engine, relation)
    sets = _value_sets(engine, relation, [p for p in profiles if _wants_set(p)])
    schema, comments = _schema(profiles, sets)
    rows = profiles[0].rows if profiles else 0  # a DuckDB relation has at least one column
    name = class_name or default_class_name(table)
    doc = f"Starter contract inferred from all {rows} rows of {table}; review it before use."
    return model_source(schema, name, doc=doc, comments=comments)


def profile(engine: Engine, relation: str) -> list[ColumnProfile]:
    """Counts, distinct counts and bounds of every column, in one pass over the table."""
    dtypes = engine.polars(f"SELECT * FROM {relation} LIMIT 0").schema
    parts = ["count(*) AS n"]
    for i, (name, dtype) in enumerate(dtypes.items()):
        parts += _aggregates(i, quote(name), dtype)
    stats = engine.polars(f"SELECT {', '.join(parts)} FROM {relation}")
    rows = int(stats["n"][0])
    return [_profile(i, name, dtype, stats, rows) for i, (name, dtype) in enumerate(dtypes.items())]


def _aggregates(i: int, col: str, dtype: Any) -> list[str]:
    import polars as pl

    parts = [f"count({col}) AS nn{i}"]
    if dtype.is_nested() or str(dtype) in UNCHECKABLE:
        return parts
    text = dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum)
    parts.append(f"count(DISTINCT {col + '::VARCHAR' if text else col}) AS nd{i}")
    if dtype.is_float():
        keep = f"FILTER (WHERE NOT isnan({col}))"
        parts += [f"min({col}) {keep} AS lo{i}", f"max({col}) {keep} AS hi{i}"]
        parts.append(f"coalesce(bool_or(isnan({col})), false) AS nan{i}")
    elif _ranged(dtype):
        parts += [f"min({col}) AS lo{i}", f"max({col}) AS hi{i}"]
    return parts


def _ranged(dtype: Any) -> bool:
    import polars as pl

    return dtype.is_numeric() or isinstance(dtype, pl.Date | pl.Datetime | pl.Time)


def _profile(i: int, name: str, dtype: Any, stats: pl.DataFrame, rows: int) -> ColumnProfile:
    present = int(stats[f"nn{i}"][0])
    distinct = int(stats[f"nd{i}"][0]) if f"nd{i}" in stats.columns else 0
    low, high = _bounds(stats, i, dtype)
    has_nan = bool(stats[f"nan{i}"][0]) if f"nan{i}" in stats.columns else False
    return ColumnProfile(name, dtype, rows, rows - present, distinct, low, high, has_nan)


def _bounds(stats: pl.DataFrame, i: int, dtype: Any) -> tuple[Any, Any]:
    """The minimum and maximum as Python values; nanosecond timestamps rounded outwards
    to whole microseconds, which a Python ``datetime`` can hold."""
    import polars as pl

    if f"lo{i}" not in stats.columns:
        return None, None
    low, high = stats[f"lo{i}"], stats[f"hi{i}"]
    if isinstance(dtype, pl.Datetime) and dtype.time_unit == "ns":
        low, down = low.dt.truncate("1us"), high.dt.truncate("1us")
        high = down.zip_with(down >= high, down.dt.offset_by("1us"))
    return low[0], high[0]


def _wants_set(column: ColumnProfile) -> bool:
    import polars as pl

    text = column.dtype in (pl.String, pl.Categorical)
    small = 0 < column.distinct <= MAX_SET and column.distinct <= MAX_SET_SHARE * column.rows
    return text and small


def _value_sets(
    engine: Engine, relation: str, columns: list[ColumnProfile]
) -> dict[str, list[str]]:
    """The distinct values of the low-cardinality text columns, sorted, in one query."""
    if not columns:
        return {}
    lists = [f"list(DISTINCT {quote(c.name)}::VARCHAR) AS s{i}" for i, c in enumerate(columns)]
    found = engine.polars(f"SELECT {', '.join(lists)} FROM {relation}")
    return {
        c.name: sorted(v for v in found[f"s{i}"][0].to_list() if v is not None)
        for i, c in enumerate(columns)
    }


def _schema(
    profiles: list[ColumnProfile], sets: dict[str, list[str]]
) -> tuple[Any, dict[str, str]]:
    import pandera.polars as pa

    columns: dict[str, Any] = {}
    comments: dict[str, str] = {}
    for p in profiles:
        if str(p.dtype) in UNCHECKABLE:
            comments[p.name] = f"{p.name} ({p.dtype}) is left out: pandera 0.35 cannot check it"
            columns[p.name] = pa.Column(None, name=p.name, nullable=True)
            continue
        if p.has_nan:
            comments[p.name] = f"{p.name} holds NaN, which sorts above every number: no le"
        checks = _checks(p, sets.get(p.name))
        columns[p.name] = pa.Column(
            p.dtype,
            checks=checks,
            nullable=p.nulls > 0 or p.has_nan,
            unique=_unique(p),
            name=p.name,
        )
    return pa.DataFrameSchema(columns), comments


def _checks(column: ColumnProfile, values: list[str] | None) -> list[Any]:
    import math

    import pandera.polars as pa

    if values is not None:
        return [pa.Check.isin(values)]
    checks = []
    finite = [
        b is not None and not (isinstance(b, float) and math.isinf(b))
        for b in (column.low, column.high)
    ]
    if finite[0]:
        checks.append(pa.Check.ge(column.low))
    if finite[1] and not column.has_nan:
        checks.append(pa.Check.le(column.high))
    return checks


def _unique(column: ColumnProfile) -> bool:
    import polars as pl

    dtype = column.dtype
    if dtype.is_float() or dtype == pl.Boolean or dtype.is_nested():
        return False
    present = column.rows - column.nulls
    return present >= 2 and column.distinct == present and column.nulls <= 1
