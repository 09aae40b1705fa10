"""Run a table model in Polars when its SQL is in a small subset that Polars computes the
way DuckDB does: one SELECT over one input (a CSV scan, or a table built earlier in the
same build), with WHERE, column arithmetic, CASE, comparisons, the ``zscore`` /
``zscore_samp`` / ``minmax`` macros, and whole-table aggregates.

Why: a model that reads a CSV through Polars otherwise copies every row into DuckDB and
stages its result there before writing parts, and each of those passes costs about as much
as the computation itself (the seed ETL's build went from 1.8x of hand-written Polars to
1.4x, most of the rest being start-up; ``tests/bench/test_seed_etl.py``).

Safety comes from four rules:
- DuckDB parses the SQL (``json_serialize_sql``), so names, precedence and literals mean
  what they mean to DuckDB;
- every key of DuckDB's parse tree is on an allow-list (``_read``): a key this module does not
  know, or a known one holding something it does not translate, refuses the SQL, so a
  clause DuckDB renames or adds can never be silently dropped;
- anything outside the subset, or whose semantics differ between the engines (integer
  arithmetic that DuckDB checks for overflow and Polars wraps, float-to-integer casts that
  DuckDB rounds and Polars truncates, DECIMAL arithmetic, ``sum`` of integers, which
  DuckDB widens to HUGEINT), is refused: the model then runs in DuckDB as before;
- the result's column names and types must equal what DuckDB binds the same SQL to.

Floating-point sums, means and standard deviations can differ from DuckDB's in the last
bits (the engines add in different orders; Polars compensates rounding), except where the
difference would show: a constant column's spread is exactly 0 in both (``_spread``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

NUMERIC = frozenset({"int", "float", "decimal"})
_INTS = (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64)
# DuckDB's type names (as ``relation.types`` prints them) and the Polars dtype each reads as
DUCKDB_TYPES: Mapping[str, pl.DataType] = {
    "BOOLEAN": pl.Boolean(),
    "TINYINT": pl.Int8(),
    "SMALLINT": pl.Int16(),
    "INTEGER": pl.Int32(),
    "BIGINT": pl.Int64(),
    "UTINYINT": pl.UInt8(),
    "USMALLINT": pl.UInt16(),
    "UINTEGER": pl.UInt32(),
    "UBIGINT": pl.UInt64(),
    "FLOAT": pl.Float32(),
    "DOUBLE": pl.Float64(),
    "VARCHAR": pl.String(),
    "DATE": pl.Date(),
}
_CASTS: Mapping[str, pl.DataType] = {
    "DOUBLE": pl.Float64(),
    "FLOAT8": pl.Float64(),
    "BIGINT": pl.Int64(),
    "INT8": pl.Int64(),
    "LONG": pl.Int64(),
}
_COMPARE: Mapping[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
    "COMPARE_EQUAL": lambda a, b: a == b,
    "COMPARE_NOTEQUAL": lambda a, b: a != b,
    "COMPARE_LESSTHAN": lambda a, b: a < b,
    "COMPARE_GREATERTHAN": lambda a, b: a > b,
    "COMPARE_LESSTHANOREQUALTO": lambda a, b: a <= b,
    "COMPARE_GREATERTHANOREQUALTO": lambda a, b: a >= b,
    "COMPARE_DISTINCT_FROM": lambda a, b: a.ne_missing(b),
    "COMPARE_NOT_DISTINCT_FROM": lambda a, b: a.eq_missing(b),
}


GUARD = "__sqlops_guard"  # a column that is true where Polars cannot give DuckDB's answer


class Unsupported(Exception):
    """The SQL is outside the subset: DuckDB runs the model."""


_WHERE_IN_TEXT = frozenset({"query_location", "query_location_length"})  # positions only
_EXPR = frozenset({"class", "type", "alias"}) | _WHERE_IN_TEXT


def _read(node: Any, known: frozenset[str], blank: frozenset[str] = frozenset()) -> Any:
    """``node`` if it is a JSON object whose keys are all ``known`` or ``blank`` and whose
    ``blank`` keys hold nothing (None, false, empty, or objects of those); else Unsupported."""
    if not isinstance(node, dict):
        raise Unsupported("not an object")
    unknown = set(node) - known - blank
    if unknown:
        raise Unsupported(f"parse-tree keys {sorted(unknown)}")
    filled = [key for key in blank & set(node) if not _empty(node[key])]
    if filled:
        raise Unsupported(f"parse-tree keys {sorted(filled)}")
    return node


def _empty(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_empty(v) for v in value.values())
    return value in (None, False, "", [], 0)


@dataclass(frozen=True)
class Typed:
    """A translated expression: its Polars form, a coarse type (``int``, ``float``,
    ``decimal`` (a DuckDB DECIMAL literal), ``str``, ``bool``, ``null``), and whether it
    holds an aggregate or a whole-table window, or reads row values outside them.
    ``guards``: conditions under which Polars' answer may differ from DuckDB's (``GUARD``)."""

    expr: pl.Expr
    kind: str
    agg: bool = False
    window: bool = False
    rows: bool = False
    guards: tuple[pl.Expr, ...] = ()


def plan(tree: Mapping[str, Any], inputs: Mapping[str, pl.LazyFrame]) -> pl.LazyFrame | None:
    """The model as a LazyFrame over ``inputs`` (keyed by the table names the SQL uses),
    its columns named ``__c0``, ``__c1``, ... in order; None if outside the subset."""
    try:
        statements = _read(tree, frozenset({"statements"}), frozenset({"error"}))["statements"]
        if len(statements) != 1:
            return None
        statement = _read(statements[0], frozenset({"node"}), frozenset({"named_param_map"}))
        return _select(statement["node"], inputs)[0]
    except (Unsupported, KeyError, TypeError, ValueError, IndexError):
        return None


def named(query: pl.LazyFrame, columns: Sequence[tuple[str, str]]) -> pl.LazyFrame | None:
    """``plan``'s query with the names DuckDB binds the SQL to (``(name, type)`` pairs),
    or None unless Polars computes exactly those types."""
    wanted = [DUCKDB_TYPES.get(kind) for _, kind in columns]
    schema = query.collect_schema()
    schema.pop(GUARD, None)
    if len(schema) != len(columns) or list(schema.dtypes()) != wanted:
        return None
    return query.rename({f"__c{i}": name for i, (name, _) in enumerate(columns)})


def finish(frame: pl.DataFrame) -> pl.DataFrame | None:
    """The collected result without its ``GUARD`` column, or None (DuckDB must compute it)
    if a guard fired: a standard deviation over NaN or infinities, which DuckDB's running
    update gives in an order-dependent way (0, NaN or inf) that Polars cannot reproduce."""
    if GUARD not in frame.columns:
        return frame
    if frame.height and frame[GUARD].any():
        return None
    return frame.drop(GUARD)


def _select(
    node: Mapping[str, Any], inputs: Mapping[str, pl.LazyFrame]
) -> tuple[pl.LazyFrame, list[str | None]]:
    """One SELECT: its frame, columns named ``__c0, __c1, ...``, and the name each column
    has in SQL (None for an unaliased expression, which only DuckDB knows how to name)."""
    _read(node, _SELECT, _SELECT_BLANK)
    if node["type"] != "SELECT_NODE":
        raise Unsupported("not a plain SELECT")
    if node["aggregate_handling"] != "STANDARD_HANDLING":
        raise Unsupported("GROUP BY ALL")
    frame, alias = _from(node["from_table"], inputs)
    scope = _Scope(list(frame.collect_schema().items()), alias)
    if node.get("where_clause") is not None:  # .get: DuckDB leaves out an absent WHERE
        where = scope.expr(node["where_clause"])
        if where.kind not in ("bool", "null") or where.agg or where.window:
            raise Unsupported("WHERE")
        frame = frame.filter(where.expr)
    items: list[Typed] = []
    names: list[str | None] = []
    for item in node["select_list"]:
        if item["class"] == "STAR":
            scope.check_star(item)
            items.extend(scope.column([c]) for c, _ in scope.columns)
            names.extend(c for c, _ in scope.columns)
            continue
        items.append(scope.expr(item))
        plain = item["class"] == "COLUMN_REF"
        names.append(item["alias"] or (str(item["column_names"][-1]) if plain else None))
    if any(t.agg for t in items):
        if any(t.rows or t.window for t in items):
            raise Unsupported("aggregates mixed with row values")
    elif not any(t.rows or t.window for t in items):
        raise Unsupported("only constants")  # one row in Polars, one per input row in SQL
    known = [n.lower() for n in names if n is not None]
    if len(set(known)) != len(known):
        raise Unsupported("duplicate output names")
    columns = [t.expr.alias(f"__c{i}") for i, t in enumerate(items)]
    guards = [g for t in items for g in t.guards]
    if guards:
        columns.append(pl.any_horizontal(guards).alias(GUARD))
    return frame.select(columns), names


def _from(table: Mapping[str, Any], inputs: Mapping[str, pl.LazyFrame]) -> tuple[pl.LazyFrame, str]:
    if not isinstance(table, dict):
        raise Unsupported("FROM")
    if table["type"] == "BASE_TABLE":
        _read(table, _BASE_TABLE, _BASE_TABLE_BLANK)
        name = table["table_name"]
        if name not in inputs:
            raise Unsupported(f"table {name}")
        return inputs[name], table.get("alias") or name
    if table["type"] == "SUBQUERY":
        _read(table, _SUBQUERY, _FROM_BLANK)
        subquery = _read(table["subquery"], frozenset({"node"}), frozenset({"named_param_map"}))
        frame, names = _select(subquery["node"], inputs)
        if GUARD in frame.collect_schema():
            raise Unsupported("a guarded subquery")
        if None in names:
            raise Unsupported("unaliased expression in a subquery")
        return frame.rename({f"__c{i}": str(n) for i, n in enumerate(names)}), table["alias"]
    raise Unsupported(f"FROM {table['type']}")


class _Scope:
    """The columns a SELECT can see, and the translation of its expressions."""

    def __init__(self, columns: list[tuple[str, pl.DataType]], alias: str) -> None:
        self.columns = columns
        self.alias = alias.lower()

    def check_star(self, item: Mapping[str, Any]) -> None:
        _read(item, _EXPR | {"relation_name"}, _STAR_BLANK)
        if item.get("relation_name") and item["relation_name"].lower() != self.alias:
            raise Unsupported("qualified *")

    def column(self, parts: Sequence[str]) -> Typed:
        """A column by name, matched as DuckDB does: exactly, else case-insensitively."""
        if len(parts) == 2 and parts[0].lower() == self.alias:
            parts = parts[1:]
        if len(parts) != 1:
            raise Unsupported("qualified column")
        wanted = parts[0]
        found = [(c, t) for c, t in self.columns if c == wanted]
        found = found or [(c, t) for c, t in self.columns if c.lower() == wanted.lower()]
        if len(found) != 1:
            raise Unsupported(f"column {wanted}")
        name, dtype = found[0]
        return Typed(pl.col(name), _kind(dtype), rows=True)

    def expr(self, node: Mapping[str, Any]) -> Typed:
        if not isinstance(node, dict) or node.get("class") not in _HANDLERS:
            raise Unsupported(str(node.get("class") if isinstance(node, dict) else node))
        handler, known, blank = _HANDLERS[node["class"]]
        return handler(self, _read(node, _EXPR | known, blank))

    def args(self, node: Mapping[str, Any]) -> list[Typed]:
        arguments = [
            _read(a, frozenset({"expression"}), frozenset({"name"})) for a in node["arguments"]
        ]
        return [self.expr(a["expression"]) for a in arguments]


def _kind(dtype: pl.DataType) -> str:
    if dtype in _INTS:
        return "int"
    if dtype == pl.Float64:
        return "float"  # FLOAT arithmetic rounds differently: "other", left to DuckDB
    if dtype == pl.String:
        return "str"
    if dtype == pl.Boolean:
        return "bool"
    return "other"


def _merge(parts: Sequence[Typed], expr: pl.Expr, kind: str) -> Typed:
    return Typed(
        expr,
        kind,
        agg=any(p.agg for p in parts),
        window=any(p.window for p in parts),
        rows=any(p.rows for p in parts),
        guards=tuple(g for p in parts for g in p.guards),
    )


def _constant(scope: _Scope, node: Mapping[str, Any]) -> Typed:
    literal = _read(node["literal"], frozenset({"kind", "text"}))
    kind, text = literal["kind"], literal["text"]
    if kind == "INTEGER":
        value = int(text)
        if not -(2**31) <= value < 2**31:
            raise Unsupported("wide integer literal")
        return Typed(pl.lit(value, pl.Int32), "int")
    if kind == "NUMERIC":
        value_kind = "float" if "e" in text.lower() else "decimal"
        return Typed(pl.lit(float(text), pl.Float64), value_kind)
    if kind == "STRING":
        return Typed(pl.lit(text, pl.String), "str")
    if kind == "BOOLEAN":
        return Typed(pl.lit(text.lower() == "true", pl.Boolean), "bool")
    if kind == "NULL_LITERAL":
        return Typed(pl.lit(None), "null")
    raise Unsupported(f"{kind} literal")


def _cast(scope: _Scope, node: Mapping[str, Any]) -> Typed:
    target = _read(node["type_expr"], _EXPR | {"type_name", "qualified_name"}, _TYPE_BLANK)
    name = str(target["type_name"]).upper()
    if name not in _CASTS:
        raise Unsupported(f"cast to {name}")
    child = scope.expr(node["child"])
    dtype = _CASTS[name]
    if dtype in _INTS and child.kind != "int":
        raise Unsupported("cast to an integer")  # DuckDB rounds floats, Polars truncates
    if child.kind not in NUMERIC:
        raise Unsupported("cast of a non-number")
    return _merge([child], child.expr.cast(dtype), "int" if dtype in _INTS else "float")


def _comparison(scope: _Scope, node: Mapping[str, Any]) -> Typed:
    compare = _COMPARE.get(node["type"])
    if compare is None:
        raise Unsupported(node["type"])
    left, right = scope.expr(node["left"]), scope.expr(node["right"])
    kinds = {left.kind, right.kind} - {"null"}
    if not (kinds <= NUMERIC or kinds in ({"str"}, {"bool"})):
        raise Unsupported("comparison of different types")
    return _merge([left, right], compare(left.expr, right.expr), "bool")


def _conjunction(scope: _Scope, node: Mapping[str, Any]) -> Typed:
    parts = [scope.expr(c) for c in node["children"]]
    if any(p.kind not in ("bool", "null") for p in parts):
        raise Unsupported("AND/OR of non-booleans")
    if node["type"] not in ("CONJUNCTION_AND", "CONJUNCTION_OR"):
        raise Unsupported(node["type"])
    expr = parts[0].expr
    for part in parts[1:]:
        expr = expr & part.expr if node["type"] == "CONJUNCTION_AND" else expr | part.expr
    return _merge(parts, expr, "bool")


def _operator(scope: _Scope, node: Mapping[str, Any]) -> Typed:
    kind = node["type"]
    children = [scope.expr(c) for c in node["children"]]
    if len(children) != 1:
        raise Unsupported(kind)
    child = children[0]
    if kind == "OPERATOR_IS_NULL":
        return _merge(children, child.expr.is_null(), "bool")
    if kind == "OPERATOR_IS_NOT_NULL":
        return _merge(children, child.expr.is_not_null(), "bool")
    if kind == "OPERATOR_NOT" and child.kind in ("bool", "null"):
        return _merge(children, ~child.expr, "bool")
    raise Unsupported(kind)


def _case(scope: _Scope, node: Mapping[str, Any]) -> Typed:
    parts: list[Typed] = []
    chain: Any = pl
    for check in node["case_checks"]:
        _read(check, frozenset({"when_expr", "then_expr"}))
        when, then = scope.expr(check["when_expr"]), scope.expr(check["then_expr"])
        if when.kind not in ("bool", "null"):
            raise Unsupported("CASE WHEN of a non-boolean")
        chain = chain.when(when.expr).then(then.expr)
        parts += [when, then]
    other = scope.expr(node["else_expr"])
    results = {p.kind for p in parts[1::2]} | {other.kind}
    kinds = results - {"null"}
    if len(kinds) > 1 and not kinds <= {"int", "float"}:
        raise Unsupported("CASE of different types")
    kind = "float" if len(kinds) > 1 else next(iter(kinds), "null")
    return _merge([*parts, other], chain.otherwise(other.expr), kind)


def _function(scope: _Scope, node: Mapping[str, Any]) -> Typed:
    if node.get("order_bys") is not None:
        _read(node["order_bys"], frozenset({"type"}), frozenset({"orders"}))
    name = str(node["function_name"]).lower()
    args = scope.args(node)
    if node.get("is_operator"):
        return _arithmetic(name, args)
    if name in _WINDOWS:
        return _windowed(name, args)
    if name in _AGGREGATES or name in ("count_star", "count", "min", "max"):
        return _aggregate(name, args)
    raise Unsupported(f"function {name}")


def _arithmetic(op: str, args: list[Typed]) -> Typed:
    kinds = [a.kind for a in args]
    if any(k not in NUMERIC for k in kinds):
        raise Unsupported("arithmetic on non-numbers")
    if len(args) == 1 and op == "-" and kinds[0] == "float":
        return _merge(args, -args[0].expr, "float")
    if len(args) != 2 or op not in ("+", "-", "*", "/"):
        raise Unsupported(f"operator {op}")
    a, b = args
    if op == "/" and set(kinds) == {"int"}:
        return _merge(args, a.expr / b.expr, "float")  # DuckDB's / divides as DOUBLE too
    if "float" not in kinds:
        raise Unsupported("integer or DECIMAL arithmetic")  # DuckDB checks overflow
    ops = {"+": a.expr + b.expr, "-": a.expr - b.expr, "*": a.expr * b.expr, "/": a.expr / b.expr}
    return _merge(args, ops[op].cast(pl.Float64), "float")


def _one_number(name: str, args: list[Typed]) -> pl.Expr:
    if len(args) != 1 or args[0].kind not in NUMERIC or args[0].agg or args[0].window:
        raise Unsupported(f"{name} arguments")
    return args[0].expr.cast(pl.Float64)


def _windowed(name: str, args: list[Typed]) -> Typed:
    """The macros of ``macros.sql`` that take statistics over all rows of the SELECT."""
    x = _one_number(name, args)
    if name == "minmax":
        low = x.min()
        span = _max(x) - low
        expr = (x - low) / pl.when(span != 0).then(span)
    else:
        std = _spread(x, "std", 0 if name == "zscore" else 1)
        expr = (x - x.mean()) / pl.when(std != 0).then(std)
        return Typed(expr, "float", window=True, guards=(_non_finite(x),))
    return Typed(expr, "float", window=True)


def _non_finite(x: pl.Expr) -> pl.Expr:
    return (~x.is_finite()).any()


def _spread(x: pl.Expr, how: str, ddof: int) -> pl.Expr:
    """``x.std(ddof)`` or ``x.var(ddof)`` as DuckDB computes it for a constant column:
    exactly 0 (its running update never moves off 0), where Polars' two passes can leave a
    rounding residue (1.4e-17 for three 0.1s) that would turn ``zscore``'s NULL into noise."""
    spread = getattr(x, how)(ddof=ddof)
    return pl.when(x.min() == x.max()).then(spread * 0).otherwise(spread)


def _max(x: pl.Expr) -> pl.Expr:
    """DuckDB's max over DOUBLE: NaN sorts above everything, so any NaN is the max."""
    return x.nan_max()


def _aggregate(name: str, args: list[Typed]) -> Typed:
    if name == "count_star":
        if args:
            raise Unsupported("count(*) arguments")
        return Typed(pl.len().cast(pl.Int64), "int", agg=True)
    if len(args) != 1 or args[0].agg or args[0].window:
        raise Unsupported(f"{name} arguments")
    arg = args[0]
    if name == "count":
        return Typed(arg.expr.count().cast(pl.Int64), "int", agg=True)
    if name in ("min", "max"):
        if arg.kind not in ("int", "float", "str"):
            raise Unsupported(f"{name} of {arg.kind}")
        use_nan = name == "max" and arg.kind == "float"
        expr = _max(arg.expr) if use_nan else getattr(arg.expr, name)()
        return Typed(expr, arg.kind, agg=True)
    if arg.kind not in NUMERIC or (name == "sum" and arg.kind != "float"):
        raise Unsupported(f"{name} of {arg.kind}")  # sum of integers is HUGEINT in DuckDB
    # Polars averages and spreads integers as Float64 itself: casting first would copy them
    x = arg.expr if arg.kind == "int" else arg.expr.cast(pl.Float64)
    guards = (_non_finite(x),) if name.startswith(("std", "var")) else ()
    return Typed(_AGGREGATES[name](x).cast(pl.Float64), "float", agg=True, guards=guards)


_AGGREGATES: Mapping[str, Callable[[pl.Expr], pl.Expr]] = {
    "avg": lambda x: x.mean(),
    "mean": lambda x: x.mean(),
    "sum": lambda x: pl.when(x.count() > 0).then(x.sum()),
    "stddev_pop": lambda x: _spread(x, "std", 0),
    "stddev_samp": lambda x: _spread(x, "std", 1),
    "stddev": lambda x: _spread(x, "std", 1),
    "var_pop": lambda x: _spread(x, "var", 0),
    "var_samp": lambda x: _spread(x, "var", 1),
    "variance": lambda x: _spread(x, "var", 1),
}  # count, min and max keep their argument's type: ``_aggregate`` handles them first
_WINDOWS = frozenset({"zscore", "zscore_samp", "minmax"})
_Handler = Callable[[_Scope, Mapping[str, Any]], Typed]
_NONE: frozenset[str] = frozenset()
# expression class -> (its translation, keys it reads besides _EXPR, keys that must be blank)
_HANDLERS: Mapping[str, tuple[_Handler, frozenset[str], frozenset[str]]] = {
    "COLUMN_REF": (
        lambda scope, node: scope.column(node["column_names"]),
        frozenset({"column_names"}),
        _NONE,
    ),
    "CONSTANT": (_constant, frozenset({"literal"}), _NONE),
    "CAST": (_cast, frozenset({"child", "type_expr"}), frozenset({"try_cast"})),
    "COMPARISON": (_comparison, frozenset({"left", "right"}), _NONE),
    "CONJUNCTION": (_conjunction, frozenset({"children"}), _NONE),
    "OPERATOR": (_operator, frozenset({"children"}), _NONE),
    "CASE": (_case, frozenset({"case_checks", "else_expr"}), _NONE),
    "FUNCTION": (
        _function,
        # qualified_name repeats function_name, schema and catalog (blank: unqualified)
        frozenset({"function_name", "arguments", "is_operator", "qualified_name", "order_bys"}),
        frozenset(
            {"catalog", "schema", "distinct", "export_state", "filter", "is_legacy_function_call"}
        ),
    ),
}
_SELECT = frozenset({"type", "select_list", "from_table", "where_clause", "aggregate_handling"})
_SELECT_BLANK = frozenset(
    {"modifiers", "cte_map", "group_expressions", "group_sets", "having", "qualify", "sample"}
)
_FROM_BLANK = frozenset({"sample", "column_name_alias"})
_SUBQUERY = frozenset({"type", "alias", "subquery"}) | _WHERE_IN_TEXT
# qualified_name repeats table_name, schema_name and catalog_name (blank: unqualified)
_BASE_TABLE = frozenset({"type", "alias", "table_name", "qualified_name"}) | _WHERE_IN_TEXT
_BASE_TABLE_BLANK = _FROM_BLANK | {"schema_name", "catalog_name", "at_clause"}
_STAR_BLANK = frozenset(
    {"columns", "expr", "exclude_list", "replace_list", "qualified_exclude_list", "rename_list"}
)
_TYPE_BLANK = frozenset({"catalog", "schema", "children"})
