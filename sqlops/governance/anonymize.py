"""Anonymization rules compiled to DuckDB expressions, so a role's read or an export never
brings a raw tagged value into Python.

Each rule returns (NULL in, NULL out for every rule):

* ``hash``: HMAC-SHA256 as 64 lowercase hex characters (VARCHAR). DuckDB has no HMAC, so it
  is built from ``sha256`` (which takes VARCHAR or BLOB and returns hex):
  ``H((K' xor opad) || H((K' xor ipad) || m))`` (RFC 2104). The two padded keys are computed
  here (:func:`hmac_params`) and bound as the named parameters ``$sqlops_hmac_ipad`` and
  ``$sqlops_hmac_opad``: the SQL text never holds the key. The message is the value's UTF-8
  bytes for VARCHAR, the bytes themselves for BLOB, and the UTF-8 of its text cast
  (``CAST(x AS VARCHAR)``, e.g. ``'37'``, ``'2020-01-02'``) for anything else.
* ``mask``: VARCHAR; the last 4 characters kept, the others replaced by ``*`` (one per
  character). A value shorter than 8 characters is masked whole: keeping 4 of them would
  show most of it (all of a 4-character one).
* ``redact``: NULL of the column's own type (Unity Catalog's rule: a column mask returns the
  column's type, so the role's view keeps its schema).
* ``generalize``: same type as the column: a DATE/TIMESTAMP cut to its ``year``/``month``/
  ``day``; a number down to the lower bound of its band of width N (``band:10``: 37 -> 30,
  -3 -> -10); a text to its first N characters (``prefix:3``).
* ``drop``: None, the column is left out of the read.

DuckDB refuses prepared parameters in ``CREATE VIEW``; a view that hashes reads the padded
keys from a TEMP table instead (:func:`create_hmac_table`, then ``hmac_from=`` its name),
filled through parameters as well, so neither the view's text nor any SQL holds the key.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

from sqlops.config.governance import ColumnPolicy
from sqlops.errors import PrivacyError
from sqlops.execute.engine import Engine

IPAD_PARAM = "sqlops_hmac_ipad"
OPAD_PARAM = "sqlops_hmac_opad"
_BLOCK = 64  # SHA-256's block size in bytes
_MASK_KEEP = 4
_MASK_MIN = 8  # shorter values are masked whole

_TEXT = re.compile(r"^(VARCHAR|TEXT|STRING|CHAR|BPCHAR)(\(\d+\))?$")
_DATE = re.compile(r"^(DATE|TIMESTAMP(_S|_MS|_NS)?|TIMESTAMP WITH TIME ZONE|TIMESTAMPTZ|DATETIME)$")
_INTEGER = re.compile(r"^U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)$")
_NUMBER = re.compile(r"^(FLOAT|DOUBLE|REAL|DECIMAL\(\d+,\s*\d+\)|NUMERIC\(\d+,\s*\d+\))$")


def hmac_params(key: bytes | None, *, column: str = "") -> dict[str, bytes]:
    """The named parameters a query with a ``hash`` expression binds: the key padded to
    SHA-256's block (hashed first when longer) and xored with ipad and opad.

    A missing or empty secret is refused (an empty key would be an unkeyed hash);
    ``column`` (``table.column``) names the rule that needed it.

    >>> sorted(hmac_params(b"k"))
    ['sqlops_hmac_ipad', 'sqlops_hmac_opad']
    """
    if not key:
        where = f"{column}: " if column else ""
        raise PrivacyError(
            f"{where}the hash rule needs the HMAC secret, which is not set",
            hint="set the variable [governance] hmac_key_env names (SQLOPS_HMAC_KEY by default)",
        )
    block = hashlib.sha256(key).digest() if len(key) > _BLOCK else key
    block = block.ljust(_BLOCK, b"\0")
    return {
        IPAD_PARAM: bytes(b ^ 0x36 for b in block),
        OPAD_PARAM: bytes(b ^ 0x5C for b in block),
    }


def create_hmac_table(engine: Engine, name: str, key: bytes | None, *, column: str = "") -> None:
    """A TEMP table ``name`` of one row (``ipad``, ``opad``) for views that hash, filled
    through bound parameters. A role's SQL must not be allowed to read it."""
    params = hmac_params(key, column=column)
    engine.execute(
        f"CREATE OR REPLACE TEMP TABLE {name} AS "
        f"SELECT ${IPAD_PARAM}::BLOB AS ipad, ${OPAD_PARAM}::BLOB AS opad",
        params,
    )


def column_expression(
    policy: ColumnPolicy, column_sql: str, dtype: str, *, hmac_from: str | None = None
) -> str | None:
    """The expression that stands for ``column_sql`` (already quoted) in an anonymized read,
    or None for ``drop`` (and for a column without a rule: the caller reads it as is).
    A ``hash`` binds ``hmac_params`` by name, or reads the table ``hmac_from`` names."""
    rule, kind = policy.anonymize, _kind(dtype)
    if rule is None or rule == "drop":
        return None
    if rule == "hash":
        return _hash(column_sql, kind, hmac_from)
    if rule == "mask":
        text = column_sql if kind == "text" else f"CAST({column_sql} AS VARCHAR)"
        return (
            f"CASE WHEN length({text}) < {_MASK_MIN} THEN repeat('*', length({text})) "
            f"ELSE repeat('*', length({text}) - {_MASK_KEEP}) || right({text}, {_MASK_KEEP}) END"
        )
    if rule == "redact":
        return f"CASE WHEN false THEN {column_sql} END"  # NULL of the column's own type
    if rule == "generalize":
        return _generalize(policy, column_sql, dtype.strip().upper(), kind)
    raise PrivacyError(
        f"{_where(policy)}: unknown anonymization rule {rule!r}",
        hint="use hash, mask, redact, generalize or drop",
    )


def anonymized_select(
    policies: Mapping[str, ColumnPolicy],
    columns: Iterable[tuple[str, str]],
    key: bytes | None,
) -> tuple[str, dict[str, bytes]]:
    """A SELECT list reading ``columns`` (name, type) through their rules, and the
    parameters it needs: a ``hash`` rule without the secret is refused here, by name."""
    items: list[str] = []
    needs_key = ""
    for name, dtype in columns:
        quoted = quote(name)
        policy = policies.get(name)
        expr = column_expression(policy, quoted, dtype) if policy else quoted
        if policy is not None and policy.anonymize == "hash":
            needs_key = needs_key or _where(policy)
        if policy is not None and policy.anonymize is not None and expr is None:
            continue  # drop
        items.append(quoted if expr == quoted else f"{expr} AS {quoted}")
    params = hmac_params(key, column=needs_key) if needs_key else {}
    return ", ".join(items), params


def quote(name: str) -> str:
    """A double-quoted identifier.

    >>> quote('a"b')
    '"a""b"'
    """
    return '"' + name.replace('"', '""') + '"'


def _hash(column_sql: str, kind: str, hmac_from: str | None) -> str:
    if kind == "blob":
        message = column_sql
    elif kind == "text":
        message = f"encode({column_sql})"
    else:
        message = f"encode(CAST({column_sql} AS VARCHAR))"
    ipad, opad = (
        (f"(SELECT ipad FROM {hmac_from})", f"(SELECT opad FROM {hmac_from})")
        if hmac_from
        else (f"${IPAD_PARAM}", f"${OPAD_PARAM}")
    )
    return f"sha256({opad} || unhex(sha256({ipad} || {message})))"


def _generalize(policy: ColumnPolicy, column_sql: str, dtype: str, kind: str) -> str:
    to = policy.to or ""
    unit, _, size = to.partition(":")
    if unit in ("year", "month", "day") and kind == "date":
        return f"CAST(date_trunc('{unit}', {column_sql}) AS {dtype})"
    if unit == "band" and kind in ("integer", "number") and size.isdigit() and int(size) > 0:
        if kind == "integer":  # exact for 64- and 128-bit values, floor for negatives too
            rest = f"((({column_sql}) % {size} + {size}) % {size})"
            return f"CAST({column_sql} - {rest} AS {dtype})"
        return f"CAST(floor({column_sql} / {size}) * {size} AS {dtype})"
    if unit == "prefix" and kind == "text" and size.isdigit() and int(size) > 0:
        return f"left({column_sql}, {size})"
    fits = {"date": "year, month or day", "integer": "band:N", "number": "band:N"}
    raise PrivacyError(
        f"{_where(policy)}: generalize to = {to!r} does not fit a {dtype or '?'} column",
        hint=f"use to = {fits.get(kind, 'prefix:N')}"
        if kind != "other"
        else "generalize dates, numbers or text only; use redact or drop",
    )


def _kind(dtype: str) -> str:
    text = dtype.strip().upper()
    if _TEXT.match(text):
        return "text"
    if text == "BLOB" or text == "BYTEA":
        return "blob"
    if _DATE.match(text):
        return "date"
    if _INTEGER.match(text):
        return "integer"
    if _NUMBER.match(text):
        return "number"
    return "other"


def _where(policy: ColumnPolicy) -> str:
    return f"{policy.table}.{policy.column}"
