"""sqlglot's allow-list for SQL a role runs and for the row filters a role is given.

The first of two layers (the second is DuckDB's own lock-down, ``governance/sandbox.py``):
a role's query must be one SELECT over the role's relations and call only scalar, aggregate
and window functions DuckDB lists as such. Anything this module cannot classify is refused,
so a construct sqlglot does not know fails closed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

from sqlglot import exp, parse
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, traverse_scope

_DIALECT = "duckdb"
# functions whose value is the environment or the settings, or that write a log or move a
# sequence: scalar in DuckDB's catalog, yet nothing a role's query needs
DENIED_FUNCTIONS = frozenset(
    {
        "current_setting",
        "getenv",
        "write_log",
        "nextval",
        "currval",
        "setval",
        "json_deserialize_sql",
    }
)
# heads sqlglot writes that are syntax in DuckDB, not catalog functions
_SYNTAX = frozenset({"cast", "try_cast", "extract", "columns", "unnest", "coalesce", "interval"})
_HEAD = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def role_sql_violations(
    sql: str, relations: Mapping[str, Collection[str]], functions: Collection[str]
) -> list[str]:
    """Why ``sql`` may not run for a role reading ``relations`` (``{"schema.table":
    columns}``) with ``functions`` (the scalar, aggregate and window function names the
    sandbox's catalog lists), one reason each; empty when it may run."""
    try:
        trees = [t for t in parse(sql, read=_DIALECT) if t is not None]
    except SqlglotError:
        return ["the query does not parse as DuckDB SQL"]
    if len(trees) != 1:
        return [f"one statement is allowed, found {len(trees)}"]
    tree = trees[0]
    if not isinstance(tree, exp.Query):
        return [f"only a SELECT is allowed, found {tree.key.upper()}"]
    found: list[str] = []
    found += _source_violations(tree)
    found += _function_violations(tree, functions)
    try:
        scopes = traverse_scope(tree)
    except SqlglotError:
        return [*found, "the query's scopes cannot be resolved"]
    for scope in scopes:
        found += _table_violations(scope, relations)
        found += _whole_rows(scope, relations)
    return list(dict.fromkeys(found))


def condition_violations(condition: str, columns: Collection[str]) -> list[str]:
    """Why a row filter is not one condition over ``columns`` (no subquery, no table, no
    table function); empty when it is."""
    try:
        trees = [t for t in parse(condition, read=_DIALECT) if t is not None]
    except SqlglotError:
        return ["it does not parse as a DuckDB condition"]
    if len(trees) != 1 or isinstance(trees[0], exp.Query | exp.Command):
        return ["it must be one condition, e.g. country = 'BR'"]
    tree = trees[0]
    found = [
        f"it may not hold {node.key.upper()}"
        for node in tree.walk()
        if isinstance(node, exp.Query | exp.Subquery | exp.Table | exp.Lateral | exp.Unnest)
    ]
    known = {c.lower() for c in columns}
    found += [
        f"it names the unknown column {col.name}"
        for col in tree.find_all(exp.Column)
        if not isinstance(col.this, exp.Star) and col.name.lower() not in known
    ]
    if isinstance(tree.unnest(), exp.Literal | exp.Column | exp.Star):
        found.append("it is a value, not a condition")
    return list(dict.fromkeys(found))


def _source_violations(tree: exp.Expr) -> list[str]:
    """FROM and JOIN read tables and subqueries only: no table function, VALUES, UNNEST,
    LATERAL or string path there."""
    found = []
    for node in tree.find_all(exp.From, exp.Join):
        source = node.this
        if isinstance(source, exp.Subquery):
            continue
        if not isinstance(source, exp.Table) or not isinstance(source.this, exp.Identifier):
            inner = source.this if isinstance(source, exp.Table) else source
            name = _head(inner) or inner.key.upper()
            found.append(f"the table function or construct {name} is not allowed")
    found += [f"{n.key.upper()} is not allowed" for n in tree.find_all(exp.Lateral, exp.Values)]
    return found


def _function_violations(tree: exp.Expr, functions: Collection[str]) -> list[str]:
    allowed = {f.lower() for f in functions} - DENIED_FUNCTIONS
    found = []
    for func in tree.find_all(exp.Func):
        if isinstance(func.parent, exp.Table) and func.parent.this is func:
            continue  # a table function in FROM, reported by _source_violations
        name = _head(func)
        if name is None or name in _SYNTAX:
            continue
        if name not in allowed:
            found.append(f"the function {name}() is not allowed")
    return found


def _head(node: exp.Expr) -> str | None:
    """The function name DuckDB reads for ``node`` (as sqlglot writes it), or None for an
    operator form (CASE, ``::``, ``||``)."""
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    match = _HEAD.match(node.sql(dialect=_DIALECT))
    return match.group(1).lower() if match else None


def _table_name(table: exp.Table) -> str:
    schema = table.db or "main"
    return f"{schema}.{table.name}".lower()


def _table_violations(scope: Scope, relations: Mapping[str, Collection[str]]) -> list[str]:
    found = []
    for table in scope.tables:
        if not isinstance(table.this, exp.Identifier):
            continue
        if table.catalog:
            found.append(f"{table.sql(dialect=_DIALECT)}: name a table as schema.table")
        elif not table.db and table.name in scope.cte_sources:
            continue
        elif table.this.quoted and re.search(r"[./\\]", table.name):
            found.append(f"reading the file {table.name!r} is not allowed")
        elif _table_name(table) not in relations:
            found.append(f"the table {_table_name(table)} is not one the role may read")
    return found


def _whole_rows(scope: Scope, relations: Mapping[str, Collection[str]]) -> list[str]:
    """A bare name that is a table alias and no column (``select t from t``, ``to_json(t)``)
    is the whole row: refused, even though the row holds only what the role may see."""
    columns: set[str] = set()
    for source in scope.sources.values():
        if isinstance(source, exp.Table):
            columns |= {c.lower() for c in relations.get(_table_name(source), ())}
        elif isinstance(source, Scope) and isinstance(source.expression, exp.Query):
            columns |= {c.lower() for c in _selects(source.expression)}
    aliases = {a.lower() for a in scope.sources}
    return [
        f"the whole-row reference {col.name} is not allowed; name its columns"
        for col in scope.columns
        if not col.table and col.name.lower() in aliases and col.name.lower() not in columns
    ]


def _selects(query: exp.Query) -> Sequence[str]:
    return [str(s) for s in query.named_selects]
