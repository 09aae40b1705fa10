"""The table-level checks pandera lacks, registered as pandera checks so a contract stays an
ordinary pandera schema (it survives ``to_yaml`` and runs in plain pandera on Polars).

Great Expectations and Soda users rely on these: row counts, freshness, foreign keys,
missing-value sentinels, thresholds (GX's ``mostly``), aggregates and quantiles in bounds.
sqlops compiles each to SQL (``compile.py``); the Polars functions here are their meaning in
plain pandera, and the oracle of the differential tests. Names are stable: the ODCS exporter
writes ``type: custom, engine: sqlops, name, statistics`` and reads a check back as
``pandera.Check.<name>(**statistics)``.

Two checks need another table (``row_count_vs``, ``references``) and so run only in sqlops;
plain pandera reports them as a check error, never a silent pass.

``not_missing`` is a column check (``Field(not_missing={})``); the others judge the table
(those about one column name it in ``column``) and go in a
``DataFrameModel``'s ``Config`` (``freshness = {"column": "updated_at", "max_age": "1d"}``) or
in ``DataFrameSchema(checks=[sqlops.checks.freshness("updated_at", "1d")])``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

import pandera.polars  # noqa: F401  (registers the Polars backend the checks run on)
import polars as pl
from pandera.api.checks import Check
from pandera.api.extensions import register_check_method

from sqlops.errors import ContractError

AGGREGATES = ("mean", "min", "max", "sum", "std")
DEFAULT_SENTINELS = ("", "N/A")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
SQLOPS_ONLY = frozenset({"row_count_vs", "references"})


class NeedsSqlops(RuntimeError):
    """Raised by a check that needs another table when it runs in plain pandera."""


def parse_duration(text: str) -> dt.timedelta:
    """``"1d"``, ``"12h"``, ``"30m"``, ``"90s"``, ``"2w"`` as a timedelta.

    >>> parse_duration("36h")
    datetime.timedelta(days=1, seconds=43200)
    """
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"bad duration {text!r}: write a number and a unit s, m, h, d or w")
    return dt.timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def freshness_cutoff(max_age: str, time_zone: str | None, now: str | None = None) -> dt.datetime:
    """The oldest allowed maximum: ``now - max_age``, aware when the column is (UTC else)."""
    current = dt.datetime.fromisoformat(now) if now else dt.datetime.now(dt.UTC)
    if current.tzinfo is None:
        current = current.replace(tzinfo=dt.UTC)
    cutoff = current - parse_duration(max_age)
    return cutoff if time_zone else cutoff.astimezone(dt.UTC).replace(tzinfo=None)


def mostly_passes(failures: int, rows: int, fraction: float) -> bool:
    """GX's ``mostly``: at least ``fraction`` of the rows pass (one rule for every path)."""
    return rows - failures >= fraction * rows


def _frame(data: Any) -> pl.DataFrame:
    frame: pl.DataFrame = data.lazyframe.collect()
    return frame


def _verdict(passed: bool) -> pl.LazyFrame:
    """A table-level verdict as a one-row frame: pandera-polars cannot report a check that
    returns a plain bool beside other failures (concatenating its failure cases breaks)."""
    return pl.LazyFrame({"passed": [bool(passed)]})


def row_count(
    data: Any, *, min_value: int | None = None, max_value: int | None = None
) -> pl.LazyFrame:
    """The table has between ``min_value`` and ``max_value`` rows (either may be None)."""
    rows = _frame(data).height
    return _verdict(within(rows, min_value, max_value))


def row_count_vs(
    data: Any, *, table: str, min_ratio: float | None = None, max_ratio: float | None = None
) -> pl.LazyFrame:
    """Rows relative to another table's: ``min_ratio <= rows / rows(table) <= max_ratio``.

    sqlops-only (it reads ``table``): plain pandera reports a check error, never a pass.
    """
    raise NeedsSqlops(f"row_count_vs reads table {table}: it runs only in sqlops (sqlops check)")


def freshness(data: Any, *, column: str, max_age: str, now: str | None = None) -> pl.LazyFrame:
    """The newest ``column`` value is younger than ``max_age`` (``now`` pins the clock)."""
    series = _frame(data).get_column(column)
    newest: Any = series.max()
    zone = getattr(series.dtype, "time_zone", None)
    return _verdict(newest is not None and bool(newest >= freshness_cutoff(max_age, zone, now)))


def references(data: Any, *, column: str, table: str, to_column: str) -> pl.LazyFrame:
    """Every non-null ``column`` value exists in ``table.to_column`` (a foreign key).

    sqlops-only (it reads ``table``): plain pandera reports a check error, never a pass.
    """
    raise NeedsSqlops(f"references reads table {table}: it runs only in sqlops (sqlops check)")


def not_missing(data: Any, *, sentinels: Sequence[str] = DEFAULT_SENTINELS) -> pl.LazyFrame:
    """No null, no NaN and, in text columns, none of ``sentinels`` (``''``, ``'N/A'``)."""
    column = pl.col(data.key)
    dtype = data.lazyframe.collect_schema()[data.key]
    ok = column.is_not_null()
    if dtype.is_float():
        ok = ok & column.is_not_nan()
    if dtype == pl.String:
        ok = ok & column.is_in(list(sentinels)).not_()
    out: pl.LazyFrame = data.lazyframe.select(ok.fill_null(False))
    return out


def mostly(
    data: Any, *, column: str, check: str, statistics: dict[str, Any], fraction: float
) -> pl.LazyFrame:
    """At least ``fraction`` of the rows pass the built-in or sqlops column ``check`` (GX's
    ``mostly``): ``Check.mostly(column="x", check="greater_than_or_equal_to",
    statistics={"min_value": 0}, fraction=0.99)``."""
    from pandera.api.polars.types import PolarsData

    inner = getattr(Check, check)(**statistics)
    out = inner._check_fn(PolarsData(data.lazyframe, column), **inner._check_kwargs)
    passed = out.select(pl.all().fill_null(inner.ignore_na)).collect().to_series()
    return _verdict(mostly_passes(int((~passed).sum()), passed.len(), fraction))


def _aggregate(series: pl.Series, stat: str) -> Any:
    if stat not in AGGREGATES:
        raise ValueError(f"unknown aggregate {stat!r}: use one of {', '.join(AGGREGATES)}")
    return getattr(series, stat)()


def within(value: Any, min_value: Any, max_value: Any) -> bool:
    """Whether ``value`` lies in the bounds (None: unbounded), on the Polars and SQL paths
    alike; a value of None (nothing to measure: an empty column) fails."""
    if value is None:
        return False  # nothing to measure is not a pass
    return bool(
        (min_value is None or value >= min_value) and (max_value is None or value <= max_value)
    )


def aggregate_in_range(
    data: Any,
    *,
    column: str,
    stat: str,
    min_value: float | None = None,
    max_value: float | None = None,
) -> pl.LazyFrame:
    """The column's ``stat`` (mean, min, max, sum, std: sample std) lies in the bounds."""
    return _verdict(within(_aggregate(_frame(data).get_column(column), stat), min_value, max_value))


def quantile_in_range(
    data: Any,
    *,
    column: str,
    q: float,
    min_value: float | None = None,
    max_value: float | None = None,
) -> pl.LazyFrame:
    """The column's ``q`` quantile (linear interpolation, DuckDB's ``quantile_cont``) lies in
    the bounds."""
    series = _frame(data).get_column(column)
    return _verdict(within(series.quantile(q, interpolation="linear"), min_value, max_value))


# name -> (function, statistics, whole table?)
REGISTERED: dict[str, tuple[Any, list[str], bool]] = {
    "row_count": (row_count, ["min_value", "max_value"], True),
    "row_count_vs": (row_count_vs, ["table", "min_ratio", "max_ratio"], True),
    "freshness": (freshness, ["column", "max_age", "now"], True),
    "references": (references, ["column", "table", "to_column"], True),
    "not_missing": (not_missing, ["sentinels"], False),
    "mostly": (mostly, ["column", "check", "statistics", "fraction"], True),
    "aggregate_in_range": (aggregate_in_range, ["column", "stat", "min_value", "max_value"], True),
    "quantile_in_range": (quantile_in_range, ["column", "q", "min_value", "max_value"], True),
}


MISSING_PANDAS = (
    "sqlops' pandera checks need pandas installed (pandera 0.35 imports it to register a "
    "check): pip install 'sqlops[pandas]'"
)
_unregistered: list[str] = []


def _register() -> None:
    """Register each check once per process (pandera refuses a second registration).

    pandera's ``register_check_method`` imports its pandas strategies, so without pandas
    nothing registers; the contracts that name a sqlops check then fail saying so.
    """
    for name, (function, statistics, _) in REGISTERED.items():
        if not hasattr(Check, name):
            try:
                register_check_method(function, statistics=statistics)
            except ImportError:
                _unregistered.append(name)


_register()


def _check(name: str, **statistics: Any) -> Check:
    if name in _unregistered:
        raise ContractError(f"check {name} is not registered", hint=MISSING_PANDAS)
    made: Check = getattr(Check, name)(**{k: v for k, v in statistics.items() if v is not None})
    return made


def row_count_check(min_value: int | None = None, max_value: int | None = None) -> Check:
    """``row_count``: a table-level check for ``DataFrameSchema(checks=[...])``."""
    return _check("row_count", min_value=min_value, max_value=max_value)


def row_count_vs_check(
    table: str, min_ratio: float | None = None, max_ratio: float | None = None
) -> Check:
    """``row_count_vs`` (sqlops-only): rows within ratios of another table's rows."""
    return _check("row_count_vs", table=table, min_ratio=min_ratio, max_ratio=max_ratio)


def freshness_check(column: str, max_age: str, now: str | None = None) -> Check:
    """``freshness``: ``sqlops.checks.freshness("updated_at", "1d")``."""
    parse_duration(max_age)
    return _check("freshness", column=column, max_age=max_age, now=now)


def references_check(column: str, table: str, to_column: str) -> Check:
    """``references`` (sqlops-only): ``column``'s values exist in ``table.to_column``."""
    return _check("references", column=column, table=table, to_column=to_column)


def not_missing_check(sentinels: Sequence[str] = DEFAULT_SENTINELS) -> Check:
    """``not_missing``: a column check counting nulls, NaN and sentinels as missing."""
    return _check("not_missing", sentinels=list(sentinels))


def mostly_check(column: str, check: Check, fraction: float) -> Check:
    """``mostly``: ``column`` passes a built-in or sqlops column check on ``fraction`` of rows.

    Table-level, like the aggregates: pandera-polars cannot report a column check that
    returns one boolean beside element-wise failures (its failure-case concat breaks).
    """
    stats = dict(check.statistics or {})
    return _check("mostly", column=column, check=check.name, statistics=stats, fraction=fraction)


def aggregate_check(
    column: str, stat: str, min_value: float | None = None, max_value: float | None = None
) -> Check:
    """``aggregate_in_range``: a column's mean/min/max/sum/std within bounds."""
    return _check(
        "aggregate_in_range", column=column, stat=stat, min_value=min_value, max_value=max_value
    )


def quantile_check(
    column: str, q: float, min_value: float | None = None, max_value: float | None = None
) -> Check:
    """``quantile_in_range``: a column's ``q`` quantile within bounds."""
    return _check("quantile_in_range", column=column, q=q, min_value=min_value, max_value=max_value)
