"""sqlglot's only boundary: parse model SQL into the facts the planner needs.

Dependencies are the tables a query reads, found in the syntax tree, so models need no
``ref()`` templating. CTE names are not tables; string arguments of the built-in table
macros (``deduplicate('raw.orders')``) are; file reads (``read_csv('x.csv')``, ``'x.csv'``)
are recorded as files so their stats can version the input data.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError

from sqlops.errors import ModelParseError
from sqlops.project.model import TableRef

DIALECT = "duckdb"
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
    """What the planner needs from a model's SQL."""

    tables: tuple[TableRef, ...]
    files: tuple[str, ...]
    canonical: str


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
    tree = _parse_one(sql, path, body_line)
    if not isinstance(tree, exp.Query):
        raise ModelParseError(
            f"a model must be one SELECT (WITH allowed), found {tree.key.upper()}",
            path=path,
            line=body_line,
            hint="move other statements out of the model, or use `sqlops run` for scripts",
        )
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    tables: dict[str, TableRef] = {}
    files: set[str] = set()
    spans: dict[str, list[tuple[int, int] | None]] = {}
    aliased: dict[str, list[bool]] = {}
    macros = table_macros or {}
    for table in tree.find_all(exp.Table):
        line, col = _position(table, body_line)
        if isinstance(table.this, exp.Identifier):
            name = ".".join(part.name.lower() for part in table.parts)
            if not table.db and (name in ctes):
                continue
            if not table.db and table.name.lower().endswith(_FILE_SUFFIXES):
                files.add(table.name)
                continue
            spans.setdefault(name, []).append(_span(table))
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
    for name, found in spans.items():
        known = tuple(s for s in found if s is not None)
        if len(known) == len(found):
            tables[name] = dataclasses.replace(
                tables[name], spans=known, aliased=all(aliased[name])
            )
    return SqlInfo(
        tables=tuple(sorted(tables.values(), key=lambda t: t.name)),
        files=tuple(sorted(files)),
        canonical=tree.sql(dialect=DIALECT, comments=False),
    )


def _parse_one(sql: str, path: Path, body_line: int) -> Any:
    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
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
    if not statements:
        raise ModelParseError(
            "the model has no SQL", path=path, line=body_line, hint="write one SELECT statement"
        )
    if len(statements) > 1:
        raise ModelParseError(
            f"a model must be one SELECT, found {len(statements)} statements",
            path=path,
            line=body_line,
            hint="remove the extra statements (and any trailing ';' followed by more SQL)",
        )
    return statements[0]


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


def column_lineage(
    column: str,
    sql: str,
    *,
    sources: Mapping[str, str],
    schema: Mapping[str, Mapping[str, str]] | None = None,
) -> list[tuple[str, str]]:
    """The source columns one output column is computed from, as ``(table, column)`` pairs.

    ``sources`` maps upstream model names to their SQL so lineage walks through models;
    ``schema`` gives column types of leaf tables so ``SELECT *`` can be expanded.
    """
    from sqlglot.lineage import lineage

    nested: dict[str, Any] = {}
    for name, typed in (schema or {}).items():
        db, table = name.split(".", 1)
        nested.setdefault(db, {})[table] = dict(typed)
    try:
        root = lineage(column, sql, schema=nested, sources=dict(sources), dialect=DIALECT)
    except SqlglotError as exc:
        raise ModelParseError(f"cannot trace column {column!r}: {exc}") from exc
    leaves: list[tuple[str, str]] = []
    for node in root.walk():
        if node.downstream:
            continue
        if isinstance(node.expression, exp.Table):
            table = ".".join(p.name.lower() for p in node.expression.parts)
            leaves.append((table, node.name.split(".")[-1]))
    return sorted(set(leaves))
