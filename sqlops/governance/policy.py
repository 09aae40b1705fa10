"""A role's policy as data: which tables it reads and the SELECT each one is, compiled from
``[roles.NAME]`` against the warehouse's tables; and the role's own DuckDB file holding
those SELECTs' results.

The words are Unity Catalog's: a grant (the table globs), a column mask (one expression per
column, of the other engineer's ``anonymize.column_expression``), a row filter (one
condition over the table's columns). The role file is materialized rather than made of
views because the warehouse's views read Parquet objects: a connection allowed to read the
objects folder could ``read_parquet`` them raw, denied columns and unfiltered rows included.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from sqlops.config.governance import ColumnPolicy, RoleConfig
from sqlops.errors import PolicyError, SqlopsError, did_you_mean
from sqlops.execute.engine import Engine
from sqlops.execute.materialize import qualified, quote
from sqlops.project.sqlcheck import condition_violations
from sqlops.storage.objects import fsync_dir

Mask = Callable[[ColumnPolicy, str, str], "str | None"]
META_SCHEMA = "_sqlops"
META_TABLE = f"{META_SCHEMA}.role_meta"
_OUT = "sqlops_role_out"  # the alias the role file has on the owner's connection while written
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class RoleTable:
    """One table a role reads: its name, the columns it sees and the SELECT over the
    owner's table that gives its rows (masks applied, the row filter in WHERE)."""

    name: str
    columns: tuple[str, ...]
    select: str
    row_filter: str | None = None


@dataclass(frozen=True)
class RolePlan:
    """What a role may read, compiled: a frozen record that ``materialize_role`` turns into
    the role's DuckDB file. ``denied`` lists ``schema.table.column`` absent from it."""

    role: str
    tables: tuple[RoleTable, ...]
    denied: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        """SHA-256 of everything the plan decides (tables, columns, SELECTs, denials)."""
        body = json.dumps(
            [self.role, [(t.name, t.columns, t.select) for t in self.tables], self.denied]
        )
        return hashlib.sha256(body.encode()).hexdigest()

    def table(self, name: str) -> RoleTable | None:
        return next((t for t in self.tables if t.name == name), None)


def compile_role(
    role: RoleConfig,
    relations: Mapping[str, Sequence[tuple[str, str]]],
    columns: Mapping[str, Mapping[str, ColumnPolicy]],
    mask: Mask,
) -> RolePlan:
    """The role's plan over the warehouse's ``relations`` (``{"schema.table": [(column,
    duckdb type)]}``); ``columns`` are the column policies, ``mask(policy, quoted column,
    type)`` a column's anonymized expression (None drops it), used when ``anonymized``.

    A glob matching nothing, or a denied column or row filter naming an unknown table or
    column, is a ``PolicyError`` naming the role and the name, with a did-you-mean."""
    known = {name.lower(): tuple(cols) for name, cols in relations.items()}
    readable = _readable(role, known)
    denied = _denied(role, known)
    _check_filters(role, known, readable)
    tables = tuple(
        _table(role, name, known[name], denied, columns.get(name, {}), mask) for name in readable
    )
    return RolePlan(role.name, tables, tuple(sorted(denied)))


def _fail(role: RoleConfig, message: str, hint: str | None = None) -> PolicyError:
    return PolicyError(f"roles.{role.name}: {message}", hint=hint)


def _readable(role: RoleConfig, known: Mapping[str, Sequence[tuple[str, str]]]) -> list[str]:
    readable: set[str] = set()
    for glob in role.tables:
        matched = {name for name in known if fnmatchcase(name, glob.lower())}
        if not matched:
            raise _fail(
                role,
                f"tables glob {glob!r} matches no table of the warehouse",
                did_you_mean(glob, known) or "run `sqlops build` first, or fix the glob",
            )
        readable |= matched
    return sorted(readable)


def _denied(role: RoleConfig, known: Mapping[str, Sequence[tuple[str, str]]]) -> set[str]:
    for entry in role.deny_columns:
        table, column = entry.rsplit(".", 1)
        _column_of(role, f"deny_columns {entry!r}", table, column, known)
    return {c.lower() for c in role.deny_columns}


def _column_of(
    role: RoleConfig,
    what: str,
    table: str,
    column: str,
    known: Mapping[str, Sequence[tuple[str, str]]],
) -> None:
    if table not in known:
        raise _fail(role, f"{what} names the unknown table {table}", did_you_mean(table, known))
    names = [c for c, _ in known[table]]
    if column.lower() not in {n.lower() for n in names}:
        raise _fail(
            role,
            f"{what} names the unknown column {table}.{column}",
            did_you_mean(column, names),
        )


def _check_filters(
    role: RoleConfig, known: Mapping[str, Sequence[tuple[str, str]]], readable: Iterable[str]
) -> None:
    readable = set(readable)
    for table, condition in role.row_filters.items():
        if table not in known:
            raise _fail(
                role, f"row_filters names the unknown table {table}", did_you_mean(table, known)
            )
        if table not in readable:
            raise _fail(
                role,
                f"row_filters filters {table}, which the role's tables globs do not grant",
                "add the table to tables, or remove its filter",
            )
        problems = condition_violations(condition, [c for c, _ in known[table]])
        if problems:
            raise _fail(
                role,
                f"row_filters.{table} = {condition!r}: {problems[0]}",
                "write one condition over that table's columns, e.g. country = 'BR'",
            )


def _table(
    role: RoleConfig,
    name: str,
    cols: Sequence[tuple[str, str]],
    denied: set[str],
    policies: Mapping[str, ColumnPolicy],
    mask: Mask,
) -> RoleTable:
    if role.anonymized:
        present = {c.lower() for c, _ in cols}
        for column in policies:
            if column.lower() not in present:
                raise _fail(
                    role,
                    f'columns."{name}".{column} is a tagged column the table does not have',
                    did_you_mean(column, present) or "remove or rename the tag",
                )
    lowered = {k.lower(): v for k, v in policies.items()}
    shown: list[str] = []
    items: list[str] = []
    for column, dtype in cols:
        if f"{name}.{column.lower()}" in denied:
            continue
        policy = lowered.get(column.lower()) if role.anonymized else None
        expr = quote(column) if policy is None else mask(policy, quote(column), dtype)
        if expr is None:
            continue
        shown.append(column)
        items.append(expr if policy is None else f"{expr} AS {quote(column)}")
    if not items:
        raise _fail(role, f"every column of {name} is denied or dropped", "grant one column")
    condition = role.row_filters.get(name)
    where = f"\nWHERE ({condition})" if condition else ""
    select = f"SELECT {', '.join(items)}\nFROM {qualified(name)}{where}"
    return RoleTable(name, tuple(shown), select, condition)


def role_signature(
    plan: RolePlan, sources: Mapping[str, str], params: Mapping[str, Any] | None = None
) -> str:
    """What the role file must have been made from to be current: the plan, each table's
    identity (``sources``: table -> fingerprint or parts hash) and the mask parameters
    (the HMAC pads: a rotated key re-hashes). Only a digest of the pads is kept; the role
    already holds keyed hashes of values, an oracle no weaker than this one."""
    body = {
        "plan": plan.digest,
        "sources": {t.name: sources.get(t.name, "") for t in plan.tables},
        "params": hashlib.sha256(
            b"".join(
                k.encode() + b"\0" + (v if isinstance(v, bytes) else str(v).encode())
                for k, v in sorted((params or {}).items())
            )
        ).hexdigest(),
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def materialize_role(
    owner: Engine,
    plan: RolePlan,
    target: Path,
    params: Mapping[str, Any],
    sources: Mapping[str, str],
) -> str:
    """Write the role's DuckDB file: one native table per readable table (the plan's
    SELECT run on the owner's connection), plus the signature, into a temp file renamed
    over ``target`` (a reader sees the old file or the new one). Returns the signature."""
    signature = role_signature(plan, sources, params)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temp.unlink(missing_ok=True)
    literal = str(temp).replace("'", "''")
    owner.execute(f"ATTACH '{literal}' AS {_OUT} (READ_WRITE)")
    try:
        _write_tables(owner, plan, params, signature)
        owner.execute(f"DETACH {_OUT}")
    except BaseException:
        with contextlib.suppress(SqlopsError):
            owner.execute(f"DETACH {_OUT}")
        temp.unlink(missing_ok=True)
        raise
    os.replace(temp, target)
    fsync_dir(target.parent)
    return signature


def _write_tables(owner: Engine, plan: RolePlan, params: Mapping[str, Any], signature: str) -> None:
    schemas = sorted({t.name.split(".")[0] for t in plan.tables} | {META_SCHEMA})
    for schema in schemas:
        owner.execute(f"CREATE SCHEMA IF NOT EXISTS {_OUT}.{quote(schema)}")
    for table in plan.tables:
        used = {k: v for k, v in params.items() if k in set(_PARAM.findall(table.select))}
        owner.execute(
            f"CREATE TABLE {_OUT}.{qualified(table.name)} AS {table.select}", used or None
        )
    owner.execute(f"CREATE TABLE {_OUT}.{META_TABLE} (key VARCHAR, value VARCHAR)")
    meta = {"role": plan.role, "signature": signature, "denied": json.dumps(plan.denied)}
    for key, value in meta.items():
        owner.execute(f"INSERT INTO {_OUT}.{META_TABLE} VALUES (?, ?)", [key, value])


def role_meta(path: Path) -> dict[str, str]:
    """The role file's records (role, signature, denied columns); empty when it is missing
    or unreadable."""
    if not path.is_file():
        return {}
    try:
        engine = Engine.open(path, read_only=True, macros=False)
    except SqlopsError:
        return {}
    try:
        rows = engine.execute(f"SELECT key, value FROM {META_TABLE}").fetchall()
        return {str(k): str(v) for k, v in rows}
    except SqlopsError:
        return {}
    finally:
        engine.close()


def role_is_current(target: Path, signature: str) -> bool:
    """Whether the role file at ``target`` was made from this signature (refresh if not)."""
    return role_meta(target).get("signature") == signature


def refresh_role(
    owner: Engine,
    plan: RolePlan,
    target: Path,
    params: Mapping[str, Any],
    sources: Mapping[str, str],
) -> bool:
    """Materialize the role's file only when it is missing or stale; True when it wrote."""
    if role_is_current(target, role_signature(plan, sources, params)):
        return False
    materialize_role(owner, plan, target, params, sources)
    return True
