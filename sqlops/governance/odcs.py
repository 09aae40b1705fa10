"""Interchange: a table's pandera contract as an Open Data Contract Standard 3.1 document,
and back.

ODCS says what other tools can read; pandera says what a check means. So each check goes
out in the most portable form that is still exact, and comes back as the same pandera check
(same name, same statistics):

============================  ==========================================================
pandera                       ODCS 3.1
============================  ==========================================================
dtype                         ``logicalType`` (see ``logical_type``) + ``physicalType``
                              (the exact Polars dtype, e.g. ``Decimal(10, 2)``)
``nullable``                  ``required`` (its negation)
``unique``                    ``unique``
``ge``/``gt``/``le``/``lt``   ``logicalTypeOptions`` ``minimum``/``exclusiveMinimum``/
                              ``maximum``/``exclusiveMaximum`` when the bound is a finite
                              number or a naive date/time (ISO text); otherwise custom
``isin``                      library ``invalidValues`` with ``validValues``, ``mustBe: 0``
``str_matches``               library ``invalidValues`` with ``pattern``, ``mustBe: 0``
``DataFrameSchema.unique``    schema-level library ``duplicateValues`` with ``properties``
any other check, registered   ``type: custom, engine: sqlops``, ``implementation:
checks included               {check: NAME, statistics: {...}}``
column tags                   ``classification`` (the ``classification`` tag, else the
                              ``pii`` kind), ``tags`` (``key:value``) and, exactly, the
                              property's ``customProperties`` ``sqlops``
owner                         ``team`` (``name`` and a member with ``role: owner``)
============================  ==========================================================

Values YAML cannot hold exactly (decimals, dates, time zones, folds, tuples) travel tagged
(``{$decimal: '1.50'}``), and a library rule also carries the exact pandera check in its
``customProperties`` (``sqlopsCheck``), so nothing is rounded on the way. Files from
other tools import through the portable forms (plus ``nullValues`` with ``mustBe: 0`` as
non-nullable, ``minLength``/``maxLength`` as ``str_length``, ``pattern`` as
``str_matches``; ``type: text`` rules and the ``format`` option are prose); a rule sqlops
cannot run (``type: sql``, another engine's custom rule, a threshold other than
``mustBe: 0``) is an error, never dropped: a check never passes by being skipped.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Mapping
from typing import Any

from sqlops.errors import ContractError
from sqlops.governance.modelsource import dtype_text
from sqlops.governance.odcscodec import (
    API_VERSION,
    BOUND_OPTIONS,
    BUILTIN_CHECKS,
    ENGINE,
    ID_NAMESPACE,
    encode,
)
from sqlops.governance.odcsread import ImportedContract, read_contract

__all__ = ["ImportedContract", "contract_id", "export_odcs", "import_odcs", "logical_type"]


def contract_id(table: str) -> str:
    """The contract's ``id``: the same table always gets the same one.

    >>> contract_id("marts.customers") == contract_id("marts.customers")
    True
    """
    return str(uuid.uuid5(ID_NAMESPACE, table))


def export_odcs(
    table: str,
    schema: Any,
    *,
    contract_name: str,
    owner: str | None = None,
    column_tags: Mapping[str, Mapping[str, Any]] | None = None,
    description: str | None = None,
    version: str = "1.0.0",
) -> str:
    """The ODCS 3.1 YAML of ``table``'s contract (a pandera-polars DataFrameSchema or
    DataFrameModel), with the column tags as classifications and the owner as the team.
    Tags of columns the contract does not list are not written (ODCS needs a type)."""
    schema = schema.to_schema() if hasattr(schema, "to_schema") else schema
    doc: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "DataContract",
        "id": contract_id(table),
        "name": contract_name,
        "version": version,
        "status": "active",
    }
    if description:
        doc["description"] = {"purpose": description}
    if owner:
        doc["team"] = {"name": owner, "members": [{"username": owner, "role": "owner"}]}
    doc["schema"] = [_element(table, schema, column_tags or {}, description)]
    return _dump(doc)


def _element(
    table: str, schema: Any, tags: Mapping[str, Mapping[str, Any]], description: str | None
) -> dict[str, Any]:
    """The table as ODCS's one schema object: its columns, table-level rules, options."""
    element: dict[str, Any] = {
        "name": table.split(".")[-1],
        "physicalName": table,
        "logicalType": "object",
        "physicalType": "table",
    }
    if description:
        element["description"] = description
    element["properties"] = [
        _property(column, tags.get(column.name, {}), f"{table}.{column.name}")
        for column in schema.columns.values()
    ]
    quality = _table_quality(schema, table)
    if quality:
        element["quality"] = quality
    options = {k: getattr(schema, k) for k in ("strict", "coerce", "ordered") if getattr(schema, k)}
    if options:
        element["customProperties"] = [{"property": ENGINE, "value": options}]
    return element


def _dump(doc: dict[str, Any]) -> str:
    import yaml

    text = str(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100))
    if any(c in text for c in _YAML_BREAKS):  # PyYAML writes these raw, then reads a space
        text = str(yaml.safe_dump(doc, sort_keys=False, allow_unicode=False, width=100))
    return text


_YAML_BREAKS = ("\x85", "\u2028", "\u2029")


def logical_type(dtype: Any) -> str:
    """The ODCS logicalType of a Polars dtype (``physicalType`` keeps the exact one):
    integers -> integer; floats and decimals -> number; Boolean -> boolean; Date -> date;
    Datetime -> timestamp; Time -> time; List/Array -> array; Struct -> object; the rest
    (String, Categorical, Enum, Binary, Duration...) -> string.

    >>> import polars as pl
    >>> logical_type(pl.Decimal(10, 2)), logical_type(pl.Datetime("us", "UTC"))
    ('number', 'timestamp')
    """
    import polars as pl

    if dtype.is_integer():
        return "integer"
    if dtype.is_float() or isinstance(dtype, pl.Decimal):
        return "number"
    kinds = {pl.Boolean: "boolean", pl.Date: "date", pl.Datetime: "timestamp", pl.Time: "time"}
    for kind, name in kinds.items():
        if isinstance(dtype, kind) or dtype == kind:
            return name
    if isinstance(dtype, pl.List | pl.Array):
        return "array"
    return "object" if isinstance(dtype, pl.Struct) else "string"


def _property(column: Any, tags: Mapping[str, Any], where: str) -> dict[str, Any]:
    dtype = column.dtype.type if column.dtype is not None else None
    prop: dict[str, Any] = {"name": column.name, "physicalName": column.name}
    if dtype is not None:  # no dtype: the contract says nothing of the type, nor does ODCS
        prop["logicalType"] = logical_type(dtype)
        prop["physicalType"] = dtype_text(dtype, prefix="")
    prop["required"] = not column.nullable
    prop["unique"] = bool(column.unique)
    options: dict[str, Any] = {}
    logical = prop.get("logicalType", "")
    quality = [_rule(check, logical, options, where) for check in column.checks]
    quality = [rule for rule in quality if rule is not None]
    if options:
        prop["logicalTypeOptions"] = options
    if quality:
        prop["quality"] = quality
    if tags:
        kind = tags.get("classification", tags.get("pii"))
        if kind is not None:
            prop["classification"] = str(kind)
        prop["tags"] = [f"{k}:{v}" for k, v in tags.items()]
    extra: dict[str, Any] = {"tags": dict(tags)} if tags else {}
    if column.coerce:
        extra["coerce"] = True
    if extra:
        prop["customProperties"] = [{"property": ENGINE, "value": encode(extra, where)}]
    return prop


def _rule(check: Any, logical: str, options: dict[str, Any], where: str) -> dict[str, Any] | None:
    """One check as a quality rule, or None when it went into ``options`` (the property's
    logicalTypeOptions) because that form is both portable and exact."""
    from pandera.api.checks import Check

    name = check.name
    stats = dict(check.statistics or {})
    if name in BOUND_OPTIONS:
        key, stat = BOUND_OPTIONS[name]
        portable = _option_value(stats.get(stat), logical)
        if portable is not None and key not in options:
            options[key] = portable
            return None
    exact = {"check": name, "statistics": encode(stats, where)}
    if name == "isin":
        args = {"validValues": [_plain(v) for v in stats["allowed_values"]]}
        return _library("invalidValues", args, exact)
    if name == "str_matches" and isinstance(stats.get("pattern"), str):
        return _library("invalidValues", {"pattern": stats["pattern"]}, exact)
    if name in BUILTIN_CHECKS or name in Check.REGISTERED_CUSTOM_CHECKS:
        return {"type": "custom", "engine": ENGINE, "implementation": exact}
    raise ContractError(
        f"{where}: check {name or '<lambda>'} is a Python function pandera has not "
        "registered, so no other reader could know what it means",
        hint="register it with pandera.extensions.register_check_method",
    )


def _library(metric: str, arguments: dict[str, Any], exact: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "library",
        "metric": metric,
        "arguments": arguments,
        "mustBe": 0,
        "customProperties": [{"property": "sqlopsCheck", "value": exact}],
    }


def _option_value(value: Any, logical: str) -> Any:
    """A bound as ODCS writes it (a number, or ISO text for dates and times), or None when
    that form would not be exact (decimals, time zones, infinities, mismatched kinds)."""
    if logical in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return value if not isinstance(value, float) or math.isfinite(value) else None
    kinds = {"date": dt.date, "timestamp": dt.datetime, "time": dt.time}
    kind = kinds.get(logical)
    if kind is None or type(value) is not kind or not isinstance(value, dt.date | dt.time):
        return None
    if isinstance(value, dt.datetime | dt.time) and (value.tzinfo is not None or value.fold):
        return None
    return value.isoformat()


def _plain(value: Any) -> Any:
    """A value as other tools read it: numbers, text, booleans; the rest as text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _table_quality(schema: Any, table: str) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    if schema.unique:
        columns = [schema.unique] if isinstance(schema.unique, str) else list(schema.unique)
        rules.append(
            {
                "type": "library",
                "metric": "duplicateValues",
                "arguments": {"properties": columns},
                "mustBe": 0,
            }
        )
    for check in schema.checks:
        rule = _rule(check, "object", {}, table)
        if rule is not None:
            rules.append(rule)
    return rules


def import_odcs(text: str, where: str) -> ImportedContract:
    """Read an ODCS 3.x contract (``where`` names the file in errors) into the source of a
    pandera DataFrameModel, the table it binds, its owner and its column tags."""
    return read_contract(text, where)
