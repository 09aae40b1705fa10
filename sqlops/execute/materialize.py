"""Pure SQL builders: how each source is read and each materialization is written.

Every function returns SQL text and touches nothing, so the statements are easy to test
(golden files) and the engine stays the only module that talks to DuckDB.
"""

from __future__ import annotations

import datetime
import decimal
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from sqlops.execute.coltypes import KEPT_SCALARS, restore_cast
from sqlops.project.model import Source

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
STATE_SCHEMA = "_sqlops"
STATE_TABLE = f"{STATE_SCHEMA}.model_state"
STAGE_DB = "__sqlops_stage"
# Append-only: a build inserts one row per node it built, in the same transaction as the
# node's view, and compacts older rows at the end (cheaper than upserts under concurrency).
STATE_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA};
CREATE TABLE IF NOT EXISTS {STATE_TABLE} (
    name VARCHAR NOT NULL,
    fingerprint VARCHAR NOT NULL,
    inputs JSON NOT NULL,
    materialized VARCHAR NOT NULL,
    objects VARCHAR[] NOT NULL,
    rows BIGINT,
    run_id VARCHAR NOT NULL,
    built_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
"""
STATE_LATEST = f"""
SELECT name, fingerprint, inputs, materialized, objects, rows FROM {STATE_TABLE}
QUALIFY row_number() OVER (PARTITION BY name ORDER BY built_at DESC) = 1
"""
# What the warehouse records about itself: the project root its views' file paths are under
# ("root"), and the macro library it stores ("macros": its hash, "macro_names": a JSON list).
META_TABLE = f"{STATE_SCHEMA}.warehouse"
META_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA};
CREATE TABLE IF NOT EXISTS {META_TABLE} (key VARCHAR NOT NULL, value VARCHAR NOT NULL);
"""
META_READ = f"SELECT key, value FROM {META_TABLE}"
META_FORGET = f"DELETE FROM {META_TABLE} WHERE key = ?"
META_WRITE = f"INSERT INTO {META_TABLE} VALUES (?, ?)"
# the user's views (name and DuckDB's CREATE statement for each), for re-pointing their paths
VIEWS = (
    "SELECT schema_name, view_name, sql FROM duckdb_views() "
    "WHERE database_name = current_database() AND NOT internal AND NOT temporary"
)
# every state row, oldest first (the last one of a name is its latest), for a checkout
STATE_OBJECTS = f"SELECT name, fingerprint, objects FROM {STATE_TABLE} ORDER BY built_at"
STATE_COMPACT = f"""
DELETE FROM {STATE_TABLE} AS s
WHERE built_at < (SELECT max(built_at) FROM {STATE_TABLE} AS t WHERE t.name = s.name)
"""


def quote(identifier: str) -> str:
    r"""Quote one identifier for DuckDB.

    >>> quote('a"b')
    '"a""b"'
    """
    return '"' + identifier.replace('"', '""') + '"'


def qualified(name: str) -> str:
    """``schema.table`` -> ``"schema"."table"``.

    >>> qualified("stg.orders")
    '"stg"."orders"'
    """
    return ".".join(quote(part) for part in name.split("."))


def literal(value: Any) -> str:
    """A Python value as a DuckDB literal (config options are passed through this).

    >>> literal({"a": "INTEGER", "b": True})
    "{'a': 'INTEGER', 'b': true}"
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        kind = "TIMESTAMPTZ" if value.tzinfo else "TIMESTAMP"
        return f"{kind} '{value.isoformat(sep=' ')}'"
    if isinstance(value, datetime.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{literal(str(k))}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if value is None:
        return "NULL"
    raise TypeError(f"cannot write {value!r} as a SQL literal")


_READERS = {
    "csv": "read_csv",
    "parquet": "read_parquet",
    "json": "read_json",
    "ndjson": "read_json",
}


def source_select(source: Source, location: str | None = None) -> str:
    """The SELECT that reads a file source, with its options passed to DuckDB's reader.

    >>> from sqlops.project.model import Source
    >>> source_select(Source("raw.o", "csv", "/d/o.csv", columns={"day": "DATE"}))
    "SELECT * FROM read_csv('/d/o.csv', types = {'day': 'DATE'})"
    """
    star = cast_star(source.columns if source.format != "csv" else {})
    return f"SELECT {star} FROM {_reader_call(source, _READERS[source.format], location)}"


def sniff_select(source: Source, fields: str = "Prompt") -> str:
    """The query that asks DuckDB's CSV sniffer what ``source_select`` reads (the same
    options): its answer (``Prompt``) is that ``read_csv`` call with everything detected
    written out; ``fields="*"`` also gives the dialect and ``Columns`` one by one.

    >>> from sqlops.project.model import Source
    >>> sniff_select(Source("raw.o", "csv", "/d/o.csv", options={"delim": ";"}))
    "SELECT Prompt FROM sniff_csv('/d/o.csv', delim = ';')"
    """
    return f"SELECT {fields} FROM {_reader_call(source, 'sniff_csv')}"


def _reader_call(source: Source, function: str, location: str | None = None) -> str:
    """``function('location', option = value, ...)`` with the source's reader options
    (a CSV's column types among them: other formats cast them after reading)."""
    options: dict[str, Any] = dict(source.options)
    if source.format == "ndjson":
        options.setdefault("format", "newline_delimited")
    if source.hive:
        options.setdefault("hive_partitioning", True)
    if source.columns and source.format == "csv":
        options["types"] = dict(source.columns)
    args = "".join(f", {k} = {literal(v)}" for k, v in options.items())
    return f"{function}({literal(location or source.location)}{args})"


def pinned_select(prompt: str, source: Source) -> str | None:
    """A view's SELECT from the sniffer's ``Prompt`` (``FROM read_csv('path', ...);``), or
    None if it does not read exactly the source's file."""
    head = f"FROM read_csv({literal(source.location)}, "
    if not prompt.startswith(head) or not prompt.endswith(");"):
        return None
    return "SELECT * " + prompt[:-1]


def create_view(name: str, select: str) -> str:
    return f"CREATE OR REPLACE VIEW {qualified(name)} AS\n{select}"


def relocated(create: str, old: str, new: str) -> str | None:
    r"""A view's CREATE statement (as ``duckdb_views()`` gives it) re-pointed from files under
    folder ``old`` to the same files under ``new``, as CREATE OR REPLACE; None if it names no
    file under ``old``. Only string literals that start with ``old`` and a path separator
    change: ``/p/a.csv`` moves, ``/p2/a.csv`` and ``x/p/a.csv`` do not.

    >>> relocated("CREATE VIEW v AS SELECT * FROM read_csv('/p/a.csv', x = '/p2')", "/p", "/q")
    "CREATE OR REPLACE VIEW v AS SELECT * FROM read_csv('/q/a.csv', x = '/p2')"
    """
    head = "CREATE VIEW "
    pattern = re.compile(re.escape(literal(old)[:-1]) + r"(?=[/\\])")
    moved, count = pattern.subn(lambda _: literal(new)[:-1], create)
    if not count or not moved.startswith(head):
        return None
    return "CREATE OR REPLACE VIEW " + moved[len(head) :]


def parts_select(
    paths: Sequence[str],
    union_by_name: bool | None = None,
    columns: Sequence[tuple[str, str]] = (),
) -> str:
    """Read a table's Parquet parts (several parts may differ in columns: union by name,
    unless the caller knows they all have one schema, which saves reading every part's
    footer when the statement is bound). ``columns``, the table's true ``(name, type)``s,
    cast back the columns a part stores as another type (see ``coltypes``).

    >>> parts_select(["o/a.parquet"])
    "SELECT * FROM read_parquet(['o/a.parquet'])"
    >>> print(parts_select(["o/a.parquet"], columns=[("s", "HUGEINT"), ("n", "BIGINT")]))
    SELECT * REPLACE (CAST("s" AS HUGEINT) AS "s") FROM read_parquet(['o/a.parquet'])
    """
    if not paths:
        return "SELECT NULL WHERE false"
    union = len(paths) > 1 if union_by_name is None else union_by_name
    extra = ", union_by_name = true" if union else ""
    casts = {c: restore_cast(quote(c), t) for c, t in columns}
    return f"SELECT *{_replace(casts)} FROM read_parquet({literal(list(paths))}{extra})"


def _replace(expressions: Mapping[str, str | None]) -> str:
    """`` REPLACE (expr AS "column", ...)`` for the columns that have an expression.

    >>> _replace({"a": None, "b": 'CAST("b" AS VARCHAR)'})
    ' REPLACE (CAST("b" AS VARCHAR) AS "b")'
    """
    items = [f"{e} AS {quote(c)}" for c, e in expressions.items() if e is not None]
    return f" REPLACE ({', '.join(items)})" if items else ""


def cast_star(types: Mapping[str, str]) -> str:
    """``*`` with each column of ``{column: type}`` cast to that type (the types a part's
    COPY stores, a source's declared types, a registered frame's 128-bit integers).

    >>> cast_star({"n": "HUGEINT"}), cast_star({})
    ('* REPLACE (CAST("n" AS HUGEINT) AS "n")', '*')
    """
    return "*" + _replace({c: f"CAST({quote(c)} AS {t})" for c, t in types.items()})


def attach_stage() -> str:
    """The in-memory database staged tables live in: unlike a temporary table, one there is
    visible to every cursor of the connection, so several can copy parts out of it at once.
    """
    return f"ATTACH IF NOT EXISTS ':memory:' AS {STAGE_DB}"


def stage_table(name: str, select: str) -> str:
    """Run a query once into a staging table (in insertion order) so its rows can be cut
    into parts by row number. The query starts on the second line (error line numbers map
    back to the model file by that offset), and the newline after it keeps a trailing ``--``
    comment in the model from swallowing the closing parenthesis."""
    return f"CREATE TABLE {_staged(name)} AS (\n{select}\n)"


def drop_staged(name: str) -> str:
    return f"DROP TABLE IF EXISTS {_staged(name)}"


def _staged(name: str) -> str:
    return f"{STAGE_DB}.main.{quote(name)}"


def copy_rows(
    staged: str,
    start: int,
    stop: int | None,
    path: str,
    table: str,
    stored: Mapping[str, str] | None = None,
) -> str:
    """Write rows ``start <= rowid < stop`` of a staged table to one Parquet file (every row
    when ``stop`` is None). One file per statement keeps DuckDB's order-preserving parallel
    writer, so equal rows always give equal bytes. The table's name goes into the file's
    metadata: equal rows of two different tables stay two objects, each named by its table.
    ``stored`` maps the columns Parquet would not keep to the type stored instead.

    >>> print(copy_rows("s", 0, 10, "p", "m.t"))
    COPY (SELECT * FROM __sqlops_stage.main."s" WHERE rowid >= 0 AND rowid < 10) TO 'p'
    (FORMAT parquet, KV_METADATA {'sqlops_table': 'm.t'})
    """
    where = "" if stop is None else f" WHERE rowid >= {start} AND rowid < {stop}"
    star = cast_star(stored or {})
    return (
        f"COPY (SELECT {star} FROM {_staged(staged)}{where}) TO {literal(path)}\n({_part(table)})"
    )


def copy_sample(
    staged: str, columns: Sequence[str], stored: Mapping[str, str], every: int, path: str
) -> str:
    """Write about one row in ``every`` of a staged table's ``columns`` to a Parquet file: the
    rows whose rowid hashes to 0 modulo ``every``, a uniform sample that is the same for the
    same rows. ``stored``: as for :func:`copy_rows`.

    >>> print(copy_sample("s", ["a", "n"], {"n": "DECIMAL(38,0)"}, 50, "p"))
    COPY (SELECT "a", CAST("n" AS DECIMAL(38,0)) AS "n" FROM __sqlops_stage.main."s"
    WHERE hash(rowid) % 50 = 0) TO 'p' (FORMAT parquet)
    """
    items = ", ".join(
        f"CAST({quote(c)} AS {stored[c]}) AS {quote(c)}" if c in stored else quote(c)
        for c in columns
    )
    return (
        f"COPY (SELECT {items} FROM {_staged(staged)}\nWHERE hash(rowid) % {every} = 0) "
        f"TO {literal(path)} (FORMAT parquet)"
    )


def copy_relation(name: str, path: str, table: str) -> str:
    """Write a registered frame to one Parquet file, a part of ``table`` (see ``copy_rows``)."""
    return f"COPY {quote(name)} TO {literal(path)} ({_part(table)})"


def copy_probe(
    select: str,
    limit: int,
    path: str,
    table: str,
    stored: Mapping[str, str] | None = None,
    check: str | None = None,
) -> str:
    """Write at most ``limit`` rows of a query to one Parquet file (returns the count); the
    query starts on the second line, like :func:`stage_table`'s. ``check`` is a condition
    on the query's types (:func:`row_check`, :func:`kept_check`) that makes the statement
    fail unless it holds, at no cost when it does: it is a constant DuckDB folds away, or
    into a conversion error once any row is read (an empty result is not checked).

    >>> print(copy_probe("SELECT 1 AS a", 5, "p", "m.t", check="true"))
    COPY (SELECT * FROM (
    SELECT 1 AS a
    ) AS __sqlops_row WHERE true LIMIT 5) TO 'p' (FORMAT parquet, KV_METADATA {'sqlops_table': 'm.t'})
    """  # noqa: E501
    star = cast_star(stored or {})
    where = "" if check is None else f" AS __sqlops_row WHERE {check}"
    return (
        f"COPY (SELECT {star} FROM (\n{select}\n){where} LIMIT {limit}) TO {literal(path)} "
        f"({_part(table)})"
    )


def row_check(row: str) -> str:
    """The :func:`copy_probe` check that the query's row has type ``row`` (see
    :func:`row_type`): exactly these columns, names and types."""
    return _fail_unless(f"typeof(__sqlops_row) = {literal(row)}")


def kept_check() -> str:
    """The :func:`copy_probe` check that every column has a type Parquet keeps (a list of
    them included), so the part needs no stored types and its view no casts. It matches
    the type ``typeof`` prints for a row: names are plain or quoted (and the types listed
    have no quotes, so a quoted name cannot hide a type); anything else fails the check.

    >>> kept_check().count("HUGEINT")
    0
    """
    kinds = "|".join(sorted(KEPT_SCALARS - {'"NULL"'}))  # letters, digits, _ and spaces
    field = (
        r'(?:[A-Za-z_][A-Za-z0-9_]*|"(?:[^"]|"")*") (?:' + kinds + r"|DECIMAL\(\d+,\d+\))(?:\[\])*"
    )
    pattern = rf"STRUCT\({field}(?:, {field})*\)"
    return _fail_unless(f"regexp_full_match(typeof(__sqlops_row), {literal(pattern)})")


def _fail_unless(condition: str) -> str:
    """A condition that is true when ``condition`` is, and raises a conversion error
    otherwise (a false WHERE would just drop the rows)."""
    return (
        f"CAST(CASE WHEN {condition} THEN '1' ELSE 'sqlops: result types changed' END "
        "AS INTEGER) = 1"
    )


def row_type(columns: Sequence[tuple[str, str]], keywords: frozenset[str]) -> str:
    """The type DuckDB's ``typeof`` prints for a row of ``(name, type)`` columns: a STRUCT
    whose field names are quoted when they are not plain identifiers or are keywords
    (``duckdb_keywords()``). A name quoted differently only makes a check fail.

    >>> row_type([("id", "BIGINT"), ("name", "VARCHAR"), ("a b", "INTEGER[]")], frozenset({"name"}))
    'STRUCT(id BIGINT, "name" VARCHAR, "a b" INTEGER[])'
    """
    fields = []
    for name, kind in columns:
        plain = _IDENTIFIER.match(name) is not None and name.lower() not in keywords
        fields.append(f"{name if plain else quote(name)} {kind}")
    return f"STRUCT({', '.join(fields)})"


def describe(select: str) -> str:
    """The columns and types a query returns, from binding it; laid out like
    :func:`copy_probe`, so errors point at the same lines."""
    return f"DESCRIBE SELECT * FROM (\n{select}\n)"


def _part(table: str) -> str:
    """The COPY options of a table's part: Parquet, named by its table in the metadata."""
    return f"FORMAT parquet, KV_METADATA {literal({'sqlops_table': table})}"


def all_columns() -> str:
    """Every column of every user table and view: schema, table, column, type."""
    return (
        "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE database_name = current_database() AND NOT internal "
        "ORDER BY schema_name, table_name, column_index"
    )


def staged_columns() -> str:
    """Column names and types of a staged table (parameter: its name)."""
    return (
        "SELECT column_name, data_type FROM duckdb_columns() "
        f"WHERE database_name = '{STAGE_DB}' AND table_name = ? ORDER BY column_index"
    )


def average_widths(table: str, columns: Mapping[str, str]) -> str:
    """The average bytes per row of variable-width columns (``{column: "VARCHAR" | "BLOB"}``;
    NULLs count as 0).

    >>> average_widths("s", {"a": "VARCHAR"})
    'SELECT coalesce(avg(coalesce(strlen("a"), 0)), 0) FROM __sqlops_stage.main."s"'
    """
    terms = " + ".join(
        f"coalesce({'strlen' if kind == 'VARCHAR' else 'octet_length'}({quote(c)}), 0)"
        for c, kind in columns.items()
    )
    return f"SELECT coalesce(avg({terms}), 0) FROM {_staged(table)}"


def drop_relation(name: str, kind: str) -> str:
    return f"DROP {kind} IF EXISTS {qualified(name)}"


def incremental_select(sql: str, cursor: str | None, cursor_value: Any) -> str:
    """Wrap a model so only rows past the cursor are computed (DuckDB pushes the filter
    down through projections and joins into the scans). The wrapper shares the first line,
    so error line numbers still match the model file."""
    if cursor is None or cursor_value is None:
        return sql
    return (
        f"SELECT * FROM ({sql}\n) AS __sqlops_new WHERE {quote(cursor)} > {literal(cursor_value)}"
    )


def key_match(keys: Sequence[str], left: str = "o", right: str = "n") -> str:
    """``o."id" IS NOT DISTINCT FROM n."id" AND ...`` for an upsert's key.

    >>> key_match(["id"])
    'o."id" IS NOT DISTINCT FROM n."id"'
    """
    return " AND ".join(f"{left}.{quote(k)} IS NOT DISTINCT FROM {right}.{quote(k)}" for k in keys)


def state_insert() -> str:
    """Record a node's fingerprint and objects; run in the same transaction as its view."""
    return (
        f"INSERT INTO {STATE_TABLE} (name, fingerprint, inputs, materialized, objects, rows, "
        "run_id) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )


def state_forget() -> str:
    """Delete every state row of some nodes (parameter: their names), before a checkout
    records them anew in the same transaction."""
    return f"DELETE FROM {STATE_TABLE} WHERE list_contains(?, name)"


def state_params(
    name: str,
    fingerprint: str,
    inputs: Mapping[str, Any],
    materialized: str,
    objects: Sequence[str],
    rows: int | None,
    run_id: str,
) -> list[Any]:
    return [
        name,
        fingerprint,
        json.dumps(inputs, sort_keys=True),
        materialized,
        list(objects),
        rows,
        run_id,
    ]
