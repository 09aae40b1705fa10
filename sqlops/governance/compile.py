"""A contract compiled to one DuckDB aggregate query per table.

Each check pandera or sqlops defines exactly becomes a select-list item of one
``SELECT ... FROM relation``: ``count(*) FILTER (WHERE fails)`` gives exact counts, and
uniqueness and foreign keys become scalar subqueries of the same statement. Samples come from
a second statement, only for the checks that failed: ``(SELECT list(v) FROM (SELECT col FROM
relation WHERE fails LIMIT 5))`` per check, which stops at the fifth failure. Measured on 10M
rows: sampling inside the aggregate (``min(col, 5) FILTER``) evaluated every predicate twice
and cost +35%; the separate statement costs a few percent, nothing on a clean table. What cannot be
compiled exactly (custom Python checks, cross-column lambdas) is left for ``validate.py`` to
run in pandera-polars. Values go in as parameters, never as SQL text.

Semantics follow pandera-polars 0.35 (the differential tests hold them to it): a check's
null output passes when ``ignore_na`` (the default) and fails otherwise; NaN is null for a
float column's nullability; NaN compares greater than every number and equal to itself (as
in both Polars and DuckDB); uniqueness counts every row of a repeated value, NULLs and NaNs
repeat like any value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlops.errors import ContractError, did_you_mean
from sqlops.execute.materialize import qualified, quote

DEFAULT_SENTINELS = ("", "N/A")  # as sqlops.governance.checks (not imported: pandera-free)

Kind = Literal["row", "table", "rows", "group"]
FLOAT_TYPES = ("FLOAT", "DOUBLE", "REAL")
SAMPLES = 5
# pandera check name -> how its statistics become a SQL predicate that holds for a good value
COMPARISONS = {
    "equal_to": ("=", "value"),
    "not_equal_to": ("<>", "value"),
    "greater_than": (">", "min_value"),
    "greater_than_or_equal_to": (">=", "min_value"),
    "less_than": ("<", "max_value"),
    "less_than_or_equal_to": ("<=", "max_value"),
}
STRING_CHECKS = ("str_matches", "str_contains", "str_startswith", "str_endswith", "str_length")
COMPILABLE = frozenset(
    {*COMPARISONS, *STRING_CHECKS, "in_range", "isin", "notin", "not_missing", "row_count",
     "row_count_vs", "freshness", "references", "mostly", "aggregate_in_range",
     "quantile_in_range"}
)  # fmt: skip
SQL_AGGREGATES = {"mean": "avg", "min": "min", "max": "max", "sum": "sum", "std": "stddev_samp"}


@dataclass(frozen=True)
class Item:
    """One compiled check: ``kind`` says how its columns in the result row are read.

    ``row``: ``f{i}`` counts failing rows, ``s{i}`` samples them; ``group``: ``u{i}`` is a
    ``{n, s}`` struct (rows in repeated groups, sample keys); ``table``: ``p{i}`` is whether
    the table passes (or the value ``decide`` judges); ``rows``: judged from the row count.
    """

    index: int
    check: str
    column: str | None
    reason: str
    kind: Kind
    select: tuple[str, ...] = ()
    sample: str | None = None  # the value a failing row shows, and when it fails
    fails: str | None = None
    fraction: float | None = None  # mostly: the share of rows that must pass
    decide: Any = None  # table checks judged in Python: value -> passed


@dataclass
class Query:
    """The growing statement: select-list items and their named parameters."""

    relation: str
    items: list[Item] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def param(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def sql(self) -> str:
        parts = ['count(*) AS "rows"'] + [s for item in self.items for s in item.select]
        return f"SELECT {', '.join(parts)} FROM {qualified(self.relation)}"

    def samples_sql(self, items: list[Item]) -> str:
        """Up to 5 failing values of each of ``items``, one list column per item."""
        rel = qualified(self.relation)
        parts = [
            f"(SELECT list(v) FROM (SELECT {i.sample} AS v FROM {rel} WHERE {i.fails} "
            f'LIMIT {SAMPLES})) AS "s{i.index}"'
            for i in items
        ]
        return f"SELECT {', '.join(parts)}"

    def bind(self, sql: str) -> dict[str, Any]:
        """The parameters ``sql`` names (DuckDB refuses unused ones)."""
        return {k: v for k, v in self.params.items() if f"${k}" in sql}


def is_float(duck_type: str) -> bool:
    return duck_type.upper() in FLOAT_TYPES


def null_predicate(column: str, duck_type: str) -> str:
    """pandera-polars' nullability: NULL, and NaN in a float column."""
    col = quote(column)
    return f"({col} IS NULL OR isnan({col}))" if is_float(duck_type) else f"{col} IS NULL"


def element_predicate(q: Query, name: str, stats: Mapping[str, Any], col: str, duck: str) -> str:
    """SQL that is true for a value the built-in or sqlops column check accepts."""
    if name in COMPARISONS:
        op, key = COMPARISONS[name]
        return f"{col} {op} {q.param(stats[key])}"
    if name == "in_range":
        low = ">=" if stats.get("include_min", True) else ">"
        high = "<=" if stats.get("include_max", True) else "<"
        lo, hi = q.param(stats["min_value"]), q.param(stats["max_value"])
        return f"({col} {low} {lo} AND {col} {high} {hi})"
    if name in ("isin", "notin"):
        values = stats["allowed_values" if name == "isin" else "forbidden_values"]
        listed = [q.param(v) for v in values if v is not None]
        inside = f"{col} IN ({', '.join(listed)})" if listed else f"({col} IS NULL AND NULL)"
        return inside if name == "isin" else f"NOT ({inside})"
    if name in ("str_matches", "str_contains"):
        pattern = str(getattr(stats["pattern"], "pattern", stats["pattern"]))
        if name == "str_matches" and not pattern.startswith("^"):
            pattern = "^" + pattern
        return f"regexp_matches({col}, {q.param(pattern)})"
    if name == "str_startswith":
        return f"starts_with({col}, {q.param(stats['string'])})"
    if name == "str_endswith":
        return f"ends_with({col}, {q.param(stats['string'])})"
    if name == "str_length":
        return _length(q, stats, col)
    if name == "not_missing":
        missing = [null_predicate(col.strip('"').replace('""', '"'), duck)]
        given = stats.get("sentinels")
        marks: Any = DEFAULT_SENTINELS if given is None else given
        if duck.upper() == "VARCHAR" and marks:
            sentinels = [q.param(s) for s in marks]
            missing.append(f"{col} IN ({', '.join(sentinels)})")
        return f"NOT coalesce({' OR '.join(missing)}, FALSE)"
    raise KeyError(name)


def _length(q: Query, stats: Mapping[str, Any], col: str) -> str:
    n = f"length({col})"
    if stats.get("exact_value") is not None:
        return f"{n} = {q.param(stats['exact_value'])}"
    low, high = stats.get("min_value"), stats.get("max_value")
    parts = ([f"{n} >= {q.param(low)}"] if low is not None else []) + (
        [f"{n} <= {q.param(high)}"] if high is not None else []
    )
    return " AND ".join(parts) or "TRUE"


def add_row_check(
    q: Query,
    check: str,
    column: str | None,
    reason: str,
    good: str,
    sample: str,
    ignore_na: bool = True,
    fraction: float | None = None,
) -> None:
    """A check judged row by row: ``good`` holds for a passing row (NULL: ``ignore_na``)."""
    i = len(q.items)
    fails = f"NOT coalesce({good}, {'TRUE' if ignore_na else 'FALSE'})"
    select = (f'count(*) FILTER (WHERE {fails}) AS "f{i}"',)
    q.items.append(Item(i, check, column, reason, "row", select, sample, fails, fraction))


def add_nullable(q: Query, column: str, duck: str) -> None:
    """NULLs (and NaNs) carry no value worth showing: no samples."""
    i = len(q.items)
    fails = null_predicate(column, duck)
    select = (f'count(*) FILTER (WHERE {fails}) AS "f{i}"',)
    q.items.append(Item(i, "not_nullable", column, "nullable", "row", select))


def add_unique(q: Query, columns: list[str], check: str, column: str | None) -> None:
    """Every row whose value (or tuple of values) occurs more than once, as pandera counts."""
    i = len(q.items)
    cols = ", ".join(quote(c) for c in columns)
    key = quote(columns[0]) if len(columns) == 1 else f"struct_pack({cols})"
    select = (
        f"(SELECT {{'n': coalesce(sum(c), 0)::BIGINT, 's': min(k, {SAMPLES})}} FROM "
        f"(SELECT {key} AS k, count(*) AS c FROM {qualified(q.relation)} "
        f'GROUP BY ALL HAVING count(*) > 1)) AS "u{i}"',
    )
    q.items.append(Item(i, check, column, "unique", "group", select))


def add_table_check(
    q: Query, check: str, column: str | None, value_sql: str, decide: Any, reason: str = "check"
) -> None:
    """A check judged once for the table: ``decide(value)`` says whether it passes."""
    i = len(q.items)
    select = (f'{value_sql} AS "p{i}"',)
    q.items.append(Item(i, check, column, reason, "table", select, decide=decide))


def add_rows_check(q: Query, check: str, decide: Any) -> None:
    q.items.append(Item(len(q.items), check, None, "row_count", "rows", decide=decide))


def aggregate_sql(stat: str, column: str, duck: str) -> str:
    """DuckDB's aggregate as Polars computes it: Polars' min/max skip NaN unless all are."""
    col = quote(column)
    sql = f"{SQL_AGGREGATES[stat]}({col})"
    if stat in ("min", "max") and is_float(duck):
        return f"coalesce({stat}({col}) FILTER (WHERE NOT isnan({col})), {sql})"
    if stat == "sum":  # Polars sums nothing to 0, DuckDB to NULL
        return f"coalesce({sql}, 0)"
    return sql


@dataclass(frozen=True)
class Static:
    """A check decided from the relation's types alone (dtype, a strict schema's extras)."""

    check: str
    column: str | None
    reason: str
    passed: bool | None  # None: cannot be evaluated (a missing optional column)
    message: str = ""


@dataclass(frozen=True)
class PythonCheck:
    """A check run in pandera-polars on the columns it needs (None: every schema column)."""

    check: Any
    column: str | None
    columns: tuple[str, ...] | None


@dataclass
class Plan:
    """A contract split by path: types, one SQL query, and the checks left to Polars."""

    query: Query
    polars: bool = False
    static: list[Static] = field(default_factory=list)
    python: list[PythonCheck] = field(default_factory=list)


def check_label(check: Any) -> str:
    """The name a result shows: pandera's error text (``greater_than_or_equal_to(0)``)."""
    return str(check.error or check.name)


def plan_contract(
    schema: Any,
    relation: str,
    duck_types: Mapping[str, str],
    others: Mapping[str, Mapping[str, str]],
    now: str | None = None,
    polars: bool = False,
) -> Plan:
    """Split ``schema``'s checks over ``relation`` (columns ``duck_types``) into a plan.

    ``others`` holds the columns of every table a check reads besides ``relation``; the
    caller has already refused a schema with a missing required column. ``polars`` sends
    every check (not nullability, uniqueness or types) to pandera-polars: the tests hold
    both paths to the same counts.
    """
    plan = Plan(Query(relation), polars=polars)
    for name, column in schema.columns.items():
        if name not in duck_types:
            for check in [*(["dtype"] if column.dtype else []), *column.checks]:
                label = check if isinstance(check, str) else check_label(check)
                plan.static.append(
                    Static(label, name, "column_missing", None, "optional column absent")
                )
            continue
        _plan_column(plan, name, column, duck_types[name])
    for columns in _unique_sets(schema):
        present = [c for c in columns if c in duck_types]
        if len(present) == len(columns):
            add_unique(plan.query, columns, "multiple_fields_uniqueness", None)
    for check in schema.checks:
        _plan_table_check(plan, check, duck_types, others, now)
    return plan


def _unique_sets(schema: Any) -> list[list[str]]:
    unique = schema.unique
    if not unique:
        return []
    return [[unique]] if isinstance(unique, str) else [[str(c) for c in unique]]


def _plan_column(plan: Plan, name: str, column: Any, duck: str) -> None:
    q, col = plan.query, quote(name)
    if not column.nullable:
        add_nullable(q, name, duck)
    if column.unique:
        add_unique(q, [name], "field_uniqueness", name)
    for check in column.checks:
        if _compilable(check) and not _table_level(check.name) and not plan.polars:
            good = element_predicate(q, check.name, check.statistics, col, duck)
            add_row_check(q, check_label(check), name, "check", good, col, check.ignore_na)
        else:
            plan.python.append(PythonCheck(check, name, (name,)))


def _compilable(check: Any) -> bool:
    return (
        check.name in COMPILABLE
        and not check.element_wise
        and check.groupby is None
        and check.statistics is not None
    )


def _table_level(name: str) -> bool:
    from sqlops.governance.checks import REGISTERED

    return name in REGISTERED and REGISTERED[name][2]


def _plan_table_check(
    plan: Plan,
    check: Any,
    duck_types: Mapping[str, str],
    others: Mapping[str, Mapping[str, str]],
    now: str | None,
) -> None:
    """One branch per sqlops table check (long on purpose: each is a two-line rule, and the
    rules read best side by side)."""
    from pandera.api.checks import Check

    from sqlops.governance import checks as sq

    q, stats, label = plan.query, dict(check.statistics or {}), check_label(check)
    if not _compilable(check) or not _table_level(check.name) or plan.polars:
        plan.python.append(PythonCheck(check, None, None))
        return
    column: str = stats.get("column") or ""
    if check.name in ("references", "row_count_vs"):
        other, to = stats["table"], stats.get("to_column")
        if other not in others or (to and to not in others[other]):
            where = f"{other}.{to}" if to and other in others else other
            plan.static.append(Static(label, column, "table_missing", None, f"{where} not found"))
            return
    duck = duck_types.get(column, "")
    if check.name == "row_count":
        lo, hi = stats.get("min_value"), stats.get("max_value")
        add_rows_check(q, label, lambda rows: sq.within(rows, lo, hi))
    elif check.name == "row_count_vs":
        lo, hi = stats.get("min_ratio"), stats.get("max_ratio")
        other = f"(SELECT count(*) FROM {qualified(stats['table'])})"
        add_table_check(
            q, label, None, f"[count(*), {other}]", lambda v: _ratio(v, lo, hi), "row_count"
        )
    elif check.name == "freshness":
        zone = "UTC" if "TIME ZONE" in duck.upper() else None
        cutoff = q.param(sq.freshness_cutoff(stats["max_age"], zone, stats.get("now") or now))
        add_table_check(
            q,
            label,
            column,
            f"coalesce(max({quote(column)}) >= {cutoff}, FALSE)",
            bool,
            "freshness",
        )
    elif check.name == "references":
        target = f"SELECT {quote(stats['to_column'])} FROM {qualified(stats['table'])}"
        col = quote(column)
        good = f"{col} IS NULL OR {col} IN ({target} WHERE {quote(stats['to_column'])} IS NOT NULL)"
        add_row_check(q, label, column, "references", good, col)
    elif check.name == "mostly":
        if not hasattr(Check, stats["check"]):
            hint = did_you_mean(stats["check"], [n for n in dir(Check) if not n.startswith("_")])
            raise ContractError(f"{label}: unknown check {stats['check']}", hint=hint)
        inner = getattr(Check, stats["check"])(**stats["statistics"])
        good = element_predicate(q, inner.name, inner.statistics, quote(column), duck)
        add_row_check(
            q, label, column, "mostly", good, quote(column), inner.ignore_na, stats["fraction"]
        )
    elif check.name == "aggregate_in_range":
        if stats["stat"] not in SQL_AGGREGATES:
            hint = (
                did_you_mean(stats["stat"], SQL_AGGREGATES)
                or f"use one of {', '.join(SQL_AGGREGATES)}"
            )
            raise ContractError(f"{label}: unknown aggregate {stats['stat']}", hint=hint)
        lo, hi = stats.get("min_value"), stats.get("max_value")
        value = aggregate_sql(stats["stat"], column, duck)
        add_table_check(q, label, column, value, lambda v: sq.within(v, lo, hi), "aggregate")
    elif check.name == "quantile_in_range":
        lo, hi = stats.get("min_value"), stats.get("max_value")
        value = f"quantile_cont({quote(column)}, {q.param(float(stats['q']))})"
        add_table_check(q, label, column, value, lambda v: sq.within(v, lo, hi), "quantile")


def _ratio(value: list[int], lo: float | None, hi: float | None) -> bool:
    from sqlops.governance.checks import within

    rows, other = value
    return bool(other) and within(rows / other, lo, hi)


def table_columns(schema: Any) -> dict[str, str]:
    """``{column: check}`` of every column a table-level sqlops check names (for errors)."""
    out = {}
    for check in schema.checks:
        column = (check.statistics or {}).get("column")
        if column is not None and _table_level(check.name):
            out[column] = check.name
    return out


def other_tables(schema: Any) -> dict[str, str]:
    """``{table: column or ""}`` of every other table a check reads (foreign keys, ratios)."""
    out = {}
    for check in schema.checks:
        stats = check.statistics or {}
        if check.name in ("references", "row_count_vs"):
            out[stats["table"]] = stats.get("to_column", "")
    return out
