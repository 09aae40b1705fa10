"""Pure SQL builders: how each source is read and each materialization is written.

Every function returns SQL text and touches nothing, so the statements are easy to test
(golden files) and the engine stays the only module that talks to DuckDB.
"""

from __future__ import annotations

import datetime
import decimal
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlops.project.model import Model, Source

STATE_SCHEMA = "_sqlops"
STATE_TABLE = f"{STATE_SCHEMA}.state"
STATE_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA};
CREATE TABLE IF NOT EXISTS {STATE_TABLE} (
    name VARCHAR PRIMARY KEY,
    fingerprint VARCHAR NOT NULL,
    parts JSON NOT NULL,
    materialized VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    built_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
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
    options: dict[str, Any] = dict(source.options)
    if source.format == "ndjson":
        options.setdefault("format", "newline_delimited")
    if source.hive:
        options.setdefault("hive_partitioning", True)
    casts = ""
    if source.columns and source.format == "csv":
        options["types"] = dict(source.columns)
    elif source.columns:
        casts = (
            " REPLACE ("
            + ", ".join(f"CAST({quote(c)} AS {t}) AS {quote(c)}" for c, t in source.columns.items())
            + ")"
        )
    args = "".join(f", {k} = {literal(v)}" for k, v in options.items())
    reader = _READERS[source.format]
    return f"SELECT *{casts} FROM {reader}({literal(location or source.location)}{args})"


def create_view(name: str, select: str) -> str:
    return f"CREATE OR REPLACE VIEW {qualified(name)} AS\n{select}"


def create_table(name: str, select: str) -> str:
    return f"CREATE OR REPLACE TABLE {qualified(name)} AS\n{select}"


def drop_relation(name: str, kind: str) -> str:
    return f"DROP {kind} IF EXISTS {qualified(name)}"


def incremental_select(model: Model, cursor_value: Any) -> str:
    """Wrap the model so only rows past the cursor are computed (DuckDB pushes the filter
    down through projections and joins into the scans)."""
    if model.cursor is None or cursor_value is None:
        return model.sql
    return (
        f"SELECT * FROM (\n{model.sql}\n) AS __sqlops_new "
        f"WHERE {quote(model.cursor)} > {literal(cursor_value)}"
    )


def upsert(target: str, staged: str, unique_key: Sequence[str]) -> list[str]:
    """Statements that merge the staged rows into the target: delete matching keys, insert.

    >>> upsert("m.t", "tmp", ["id"])[0]
    'DELETE FROM "m"."t" AS __t USING "tmp" AS __s WHERE __t."id" IS NOT DISTINCT FROM __s."id"'
    """
    statements = []
    if unique_key:
        match = " AND ".join(
            f"__t.{quote(k)} IS NOT DISTINCT FROM __s.{quote(k)}" for k in unique_key
        )
        statements.append(
            f"DELETE FROM {qualified(target)} AS __t USING {quote(staged)} AS __s WHERE {match}"
        )
    statements.append(f"INSERT INTO {qualified(target)} BY NAME SELECT * FROM {quote(staged)}")
    return statements


def state_upsert() -> str:
    """Record a node's fingerprint; run in the same transaction as the node's output."""
    return (
        f"INSERT OR REPLACE INTO {STATE_TABLE} (name, fingerprint, parts, materialized, run_id) "
        "VALUES (?, ?, ?, ?, ?)"
    )


def state_params(
    name: str, fingerprint: str, parts: Mapping[str, Any], materialized: str, run_id: str
) -> list[Any]:
    return [name, fingerprint, json.dumps(parts, sort_keys=True), materialized, run_id]
