"""sqlglot's only boundary: parse model SQL into the facts the planner needs.

Dependencies are the tables a query reads, found in the syntax tree, so models need no
``ref()`` templating. A name is a CTE only in the scopes that see that CTE; string
arguments of the built-in table macros (``deduplicate('raw.orders')``) are tables; file
reads (``read_csv('x.csv')``, ``'x.csv'``) are recorded as files so their content can
version the input data. Also here: the SQL fingerprint (tokens as written) and one hop of
column lineage.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.scope import Scope, traverse_scope
from sqlglot.tokenizer_core import Token, TokenType

from sqlops.errors import ModelParseError
from sqlops.project.model import TableRef

DIALECT = "duckdb"
_DIALECT = Dialect.get_or_raise(DIALECT)
_FILE_SUFFIXES = (".csv", ".tsv", ".parquet", ".json", ".ndjson", ".jsonl", ".gz", ".zst")
_FILE_FUNCTIONS = {
    "read_csv",
    "read_csv_auto",
    "read_parquet",
    "parquet_scan",
    "read_json",
    "read_json_auto",
    "read_ndjson",
    "read_ndjson_auto",
}


@dataclass(frozen=True)
class SqlInfo:
    """What the planner needs from a model's SQL.

    ``fingerprint`` hashes the statement's tokens exactly as written (comments and layout
    between tokens do not count); ``end`` is where the statement ends in the body, so a
    trailing ``;`` and comments after it can be cut before the SQL is embedded elsewhere.
    """

    tables: tuple[TableRef, ...]
    files: tuple[str, ...]
    fingerprint: str
    end: int


def analyze(
    sql: str,
    *,
    path: Path,
    body_line: int = 1,
    table_macros: Mapping[str, Sequence[int]] | None = None,
) -> SqlInfo:
    """Parse one SELECT and list the tables and files it reads.

    >>> info = analyze("with a as (select * from stg.orders) select * from a join raw.c using (id)",
    ...                path=Path("m.sql"))
    >>> [t.name for t in info.tables]
    ['raw.c', 'stg.orders']
    """
    tokens = _statement_tokens(sql, path, body_line)
    tree = _parse_tokens(tokens, sql, path, body_line)
    if not isinstance(tree, exp.Query):
        raise ModelParseError(
            f"a model must be one SELECT (WITH allowed), found {tree.key.upper()}",
            path=path,
            line=body_line,
            hint="move other statements out of the model, or use `sqlops run` for scripts",
        )
    found = [(t, _mention(t, body_line)) for t in tree.find_all(exp.Table)]
    ctes = _cte_references(tree)
    tables: dict[str, TableRef] = {}
    files: set[str] = set()
    spans: dict[str, list[tuple[int, int] | None]] = {}
    aliased: dict[str, list[bool]] = {}
    macros = table_macros or {}
    for table, (name, line, col, span) in found:
        if isinstance(table.this, exp.Identifier):
            if id(table) in ctes:
                continue
            if not table.db and name.lower().endswith(_FILE_SUFFIXES):
                files.add(name)
                continue
            name = name.lower()
            spans.setdefault(name, []).append(span)
            aliased.setdefault(name, []).append(bool(table.alias))
            tables.setdefault(name, TableRef(name, line, col))
        elif isinstance(table.this, exp.Func):
            fname = _func_name(table.this)
            args = _string_args(table.this)
            if fname in macros:
                for i in macros[fname]:
                    arg = args[i] if i < len(args) else None
                    if arg is not None:
                        tables.setdefault(arg.lower(), TableRef(arg.lower(), line, col))
            elif fname in _FILE_FUNCTIONS and args and args[0] is not None:
                files.add(args[0])
    for name, mentions in spans.items():
        known = tuple(s for s in mentions if s is not None)
        if len(known) == len(mentions):
            tables[name] = dataclasses.replace(
                tables[name], spans=known, aliased=all(aliased[name])
            )
    return SqlInfo(
        tables=tuple(sorted(tables.values(), key=lambda t: t.name)),
        files=tuple(sorted(files)),
        fingerprint=_token_digest(tokens, sql),
        end=tokens[-1].end + 1,
    )


def _statement_tokens(sql: str, path: Path, body_line: int) -> list[Token]:
    """The tokens of the one statement in ``sql``; empty statements (a trailing ``;``, a
    ``;`` followed by comments) are dropped, as DuckDB drops them."""
    try:
        tokens = _DIALECT.tokenize(sql)
    except SqlglotError as exc:  # TokenError: an unterminated string or comment
        reason = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise ModelParseError(
            f"SQL syntax error: {reason}", path=path, line=body_line, hint="fix the SQL"
        ) from exc
    statements: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            statements.append([])
        else:
            statements[-1].append(token)
    found = [s for s in statements if s]
    if not found:
        raise ModelParseError(
            "the model has no SQL", path=path, line=body_line, hint="write one SELECT statement"
        )
    if len(found) > 1:
        raise ModelParseError(
            f"a model must be one SELECT, found {len(found)} statements",
            path=path,
            line=body_line + found[1][0].line - 1,
            hint="remove the extra statements (and any trailing ';' followed by more SQL)",
        )
    if not statements[0]:
        raise ModelParseError(
            "a model must start with its SELECT, found ';' before it",
            path=path,
            line=body_line + tokens[0].line - 1,
            hint="remove the ';' before the SELECT",
        )
    return found[0]


def _parse_tokens(tokens: list[Token], sql: str, path: Path, body_line: int) -> Any:
    try:
        statements = [s for s in _DIALECT.parser().parse(tokens, sql) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        line = first.get("line")
        description = re.sub(
            r"<class '(?:\w+\.)*(\w+)'>", r"\1", str(first.get("description", exc))
        ).splitlines()[0]
        raise ModelParseError(
            f"SQL syntax error near {first.get('highlight', '')!r}: {description}",
            path=path,
            line=(body_line + line - 1) if line else body_line,
            col=first.get("col"),
            hint="fix the SQL",
        ) from exc
    except SqlglotError as exc:
        reason = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise ModelParseError(
            f"SQL syntax error: {reason}",
            path=path,
            line=body_line,
            hint="fix the SQL",
        ) from exc
    return statements[0]


def _mention(table: exp.Table, body_line: int) -> tuple[str, int | None, int | None, Any]:
    """A table's dotted name as written, where it starts and its span in the text (taken
    before identifiers are case-folded for the scope analysis)."""
    name = ".".join(part.name for part in table.parts)
    line, col = _position(table, body_line)
    return name, line, col, _span(table)


def _cte_references(tree: exp.Expr) -> set[int]:
    """Ids of the table nodes that name a CTE visible in their own scope.

    CTE-ness is per scope: ``(with region as (...) select * from region) a, region b``
    reads the CTE once and the table once. Identifiers are case-folded first (in place)
    because DuckDB resolves names case-insensitively, quoted or not.
    """
    normalize_identifiers(tree, dialect=DIALECT)
    try:
        scopes = traverse_scope(tree)
    except SqlglotError:  # a shape sqlglot cannot scope: any CTE name counts, anywhere
        names = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
        return {id(t) for t in tree.find_all(exp.Table) if not t.db and t.name in names}
    decided: dict[int, bool] = {}
    for scope in scopes:  # innermost first
        for table in scope.tables:
            if id(table) not in decided:
                decided[id(table)] = not table.db and table.name in scope.cte_sources
    return {key for key, is_cte in decided.items() if is_cte}


_GAP_TEXT = re.compile(r"\s+|--[^\n]*|/\*.*?\*/", re.S)


def _token_digest(tokens: Sequence[Token], sql: str) -> str:
    """Hash the statement as DuckDB sees it: every token exactly as written (case, quotes,
    escapes), without the comments and layout between tokens.

    Where two tokens could read differently to DuckDB's lexer once joined (``x'ff'`` vs
    ``x 'ff'``, ``+-`` vs ``+ -``), whether something separates them is kept; anything
    between tokens that is not whitespace or a simple comment is kept verbatim.
    """
    parts: list[Any] = []
    previous = ""
    last_end = 0
    for token in tokens:
        lexeme = sql[token.start : token.end + 1]
        if parts:
            gap = sql[last_end : token.start]
            rest = _GAP_TEXT.sub("", gap)
            if rest:
                parts.append([rest])
            elif gap:
                separator = _separator(previous, lexeme, gap)
                if separator:
                    parts.append([separator])
        parts.append(lexeme)
        previous = lexeme
        last_end = token.end + 1
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _char_class(char: str) -> str:
    if char.isalnum() or char in "_$" or ord(char) > 127:
        return "word"
    if char in "'\"":
        return "quote"
    if char == ".":
        return "dot"
    return "op" if char in "+-*/<>=~!@#%^&|`?:" else "punct"


_JOINABLE = {
    ("op", "op"),
    ("word", "word"),
    ("word", "quote"),
    ("quote", "word"),
    ("quote", "quote"),
    ("dot", "word"),
    ("word", "dot"),
    ("dot", "dot"),
}


def _separator(left: str, right: str, gap: str) -> str:
    """What to record for whitespace between two lexemes: nothing where joining them
    cannot change how DuckDB lexes them; a newline between two string literals (which
    continue each other across a newline only)."""
    pair = (_char_class(left[-1]), _char_class(right[0]))
    if pair not in _JOINABLE:
        return ""
    return "\n" if pair == ("quote", "quote") and "\n" in gap else " "


def _position(table: exp.Table, body_line: int) -> tuple[int | None, int | None]:
    """Where the (possibly qualified) table name starts; sqlglot records token ends."""
    first = next((p for p in table.parts if isinstance(p, exp.Identifier)), table.this)
    meta = first.meta if first is not None else {}
    if meta.get("line") is None:
        return None, None
    col = meta.get("col")
    if col is not None and isinstance(first, exp.Identifier):
        col = col - len(first.name) + 1 - (2 if first.quoted else 0)
    return body_line + int(meta["line"]) - 1, col


def _span(table: exp.Table) -> tuple[int, int] | None:
    """Where the table's (possibly qualified) name is in the text, if sqlglot recorded it."""
    parts = [p for p in table.parts if isinstance(p, exp.Identifier)]
    if not parts or "start" not in parts[0].meta or "end" not in parts[-1].meta:
        return None
    return int(parts[0].meta["start"]), int(parts[-1].meta["end"]) + 1


def _func_name(func: exp.Func) -> str:
    if isinstance(func, exp.Anonymous):
        return str(func.name).lower()
    return str(func.sql_name()).lower()


def _string_args(func: exp.Func) -> list[str | None]:
    if isinstance(func, exp.Anonymous):
        args: list[Any] = list(func.expressions)
    else:
        args = [a for a in (func.this, *func.expressions) if a is not None]
    return [a.name if isinstance(a, exp.Literal) and a.is_string else None for a in args]


@dataclass(frozen=True)
class ColumnHop:
    """One hop of column lineage through one SELECT.

    ``values``: each output column -> the input columns its values are computed from.
    ``filters``: input columns that decide which rows or groups come out (WHERE, JOIN,
    GROUP BY, HAVING, QUALIFY, a sub-query's columns, ORDER BY under LIMIT), so a change
    to them can reach every output column.
    """

    values: dict[str, list[tuple[str, str]]]
    filters: list[tuple[str, str]]


def column_sources(
    sql: str,
    *,
    targets: Mapping[str, str],
    schema: Mapping[str, Mapping[str, str]],
    path: Path = Path("<model>"),
    table_macros: Mapping[str, Sequence[int]] | None = None,
) -> ColumnHop:
    """One hop of column lineage: for every output column of one SELECT, the columns of
    the tables it reads that the column is computed from, as ``(table, column)`` pairs.

    ``targets`` maps table names as written (lower-cased) to the source or model they
    resolve to, so results name nodes; ``schema`` gives the columns of those nodes, so
    ``SELECT *`` expands. Names are case-folded as DuckDB folds them. A table macro
    (``deduplicate('raw.t')``) is traced as the table it names, and any column of that
    table may decide its rows (``("raw.t", "*")`` in ``filters``).

    >>> hop = column_sources("select o.a + 1 as x from orders o where o.b > 0",
    ...                      targets={"orders": "main.orders"},
    ...                      schema={"main.orders": {"a": "INT", "b": "INT"}})
    >>> hop.values, hop.filters
    ({'x': [('main.orders', 'a')]}, [('main.orders', 'b')])
    """
    from sqlglot.lineage import lineage

    tree = _parse_tokens(_statement_tokens(sql, path, 1), sql, path, 1)
    ctes = _cte_references(tree)
    macros = table_macros or {}
    through_macros: set[tuple[str, str]] = set()
    for table in list(tree.find_all(exp.Table)):
        if id(table) in ctes:
            continue
        if isinstance(table.this, exp.Identifier):
            target = targets.get(".".join(part.name for part in table.parts))
        elif isinstance(table.this, exp.Func) and _func_name(table.this) in macros:
            args = _string_args(table.this)
            arg = next((args[i] for i in macros[_func_name(table.this)] if i < len(args)), None)
            target = targets.get(arg.lower()) if arg else None
            if target is not None:
                through_macros.add((target, "*"))
        else:
            continue
        if target is not None:
            db, name = target.split(".", 1)
            table.set("catalog", None)
            table.set("db", exp.to_identifier(db))
            table.set("this", exp.to_identifier(name))
    nested: dict[str, dict[str, dict[str, str]]] = {}
    for node, columns in schema.items():
        db, name = node.split(".", 1)
        nested.setdefault(db, {})[name] = {c.lower(): t for c, t in columns.items()}
    try:
        roots = lineage(None, tree, schema=nested, dialect=DIALECT, copy=False)
        filters, aliases = _filter_columns(tree, nested)
    except SqlglotError as exc:
        raise ModelParseError(
            f"cannot trace the columns: {exc}",
            path=path,
            hint="build the project first, so SELECT * can be expanded",
        ) from exc
    values = {column: sorted(_leaves(root)) for column, root in roots.items()}
    for alias in aliases & values.keys():
        filters.update(values[alias])
    return ColumnHop(values=values, filters=sorted(filters | through_macros))


def _leaves(root: Any) -> set[tuple[str, str]]:
    """The table columns at the ends of a sqlglot lineage node (a file read stands for its
    file; a table function such as ``range(3)`` for nothing)."""
    found: set[tuple[str, str]] = set()
    for node in root.walk():
        if node.downstream or not isinstance(node.expression, exp.Table):
            continue
        table = node.expression
        if isinstance(table.this, exp.Func):
            args = _string_args(table.this) if _func_name(table.this) in _FILE_FUNCTIONS else []
            names = [args[0] or ""] if args else []
        else:
            names = [".".join(p.name for p in table.parts)]
        found.update((name, node.name.split(".")[-1]) for name in names if name)
    return found


_FILTER_CLAUSES = (exp.Where, exp.Join, exp.Group, exp.Having, exp.Qualify)


def _filter_columns(
    tree: exp.Expr, schema: dict[str, Any]
) -> tuple[set[tuple[str, str]], set[str]]:
    """Input columns that decide which rows come out of a qualified query (any scope), and
    the output aliases such clauses refer to (``QUALIFY rn = 1``)."""
    from sqlglot.lineage import lineage

    found: set[tuple[str, str]] = set()
    aliases: set[str] = set()
    for scope in traverse_scope(tree):
        parent = scope.parent
        whole = False  # a sub-query filtering its parent (x IN (...)): all its columns count
        if scope.is_subquery and parent is not None:
            whole = _inside(scope.expression, _clauses(parent), parent.expression)
        for column in scope.columns:
            if not (whole or _inside(column, _clauses(scope), scope.expression)):
                continue
            source = scope.sources.get(column.table)
            if not column.table:
                aliases.add(column.name)
            elif isinstance(source, exp.Table):
                found.add((".".join(p.name for p in source.parts), column.name))
            elif isinstance(source, Scope) and isinstance(source.expression, exp.Query):
                try:
                    node = lineage(
                        column.name, source.expression, schema=schema, scope=source, dialect=DIALECT
                    )
                    found |= _leaves(node)
                except SqlglotError:  # cannot place it: any column of those tables may count
                    found |= {(_table_name(t), "*") for t in source.expression.find_all(exp.Table)}
    return found, aliases


def _table_name(table: exp.Table) -> str:
    return ".".join(p.name for p in table.parts)


def _clauses(scope: Scope) -> tuple[type[exp.Expr], ...]:
    """The clauses of a scope that decide its rows (ORDER BY too under LIMIT/OFFSET)."""
    args = scope.expression.args
    return (
        (*_FILTER_CLAUSES, exp.Order)
        if args.get("limit") or args.get("offset")
        else _FILTER_CLAUSES
    )


def _inside(node: exp.Expr, clauses: tuple[type[exp.Expr], ...], stop: exp.Expr) -> bool:
    parent = node.parent
    while parent is not None and parent is not stop:
        if isinstance(parent, clauses):
            return True
        parent = parent.parent
    return False
