"""Read an ODCS 3.x contract back into a pandera-polars schema (``contract import``).

Every field is checked on the way in, and a mistake is one ``ContractError`` naming the file
and the field (``contracts/orders.yaml: schema[0].properties[2].logicalType: ...``). Rules
sqlops cannot run are refused rather than dropped, so an imported contract never passes a
check by leaving it out. What each ODCS form maps to is tabled in ``odcs``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlops.errors import ContractError
from sqlops.governance.modelsource import class_name, model_source, parse_dtype
from sqlops.governance.odcscodec import (
    BOUND_OPTIONS,
    BUILTIN_CHECKS,
    DEFAULT_DTYPES,
    ENGINE,
    decode,
)

_OPTION_CHECKS = {option: (check, stat) for check, (option, stat) in BOUND_OPTIONS.items()}
_ISO: dict[str, Callable[[str], Any]] = {
    "date": dt.date.fromisoformat,
    "timestamp": dt.datetime.fromisoformat,
    "time": dt.time.fromisoformat,
}


@dataclass(frozen=True)
class ImportedContract:
    """What ``sqlops contract import`` needs to write ``contracts/NAME.py`` and bind it."""

    name: str
    table: str
    source: str
    owner: str | None = None
    description: str | None = None
    column_tags: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Reader:
    """The file being read, so every error names it."""

    where: str

    def fail(self, at: str, problem: str, hint: str | None = None) -> ContractError:
        return ContractError(f"{at}: {problem}", path=self.where, hint=hint)

    def mapping(self, value: Any, at: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(at, f"expected a mapping, found {type(value).__name__}")
        return value

    def items(self, value: Any, at: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(at, f"expected a list, found {type(value).__name__}")
        return value

    def text(self, value: Any, at: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(at, "expected a non-empty string")
        return value


def read_contract(text: str, where: str) -> ImportedContract:
    """Parse, check and translate one ODCS document (see ``odcs.import_odcs``)."""
    reader = _Reader(where)
    doc = reader.mapping(_load(text, where), "document")
    version = doc.get("apiVersion")
    if not isinstance(version, str) or not version.startswith("v3."):
        raise reader.fail(
            "apiVersion",
            f"{version!r} is not an ODCS 3.x version",
            hint="sqlops imports Open Data Contract Standard v3.0.x and v3.1.0 files",
        )
    if doc.get("kind", "DataContract") != "DataContract":
        raise reader.fail("kind", f"{doc.get('kind')!r} is not DataContract")
    objects = reader.items(doc.get("schema"), "schema")
    if len(objects) != 1:
        raise reader.fail(
            "schema", f"holds {len(objects)} objects; a sqlops contract binds exactly one table"
        )
    element = reader.mapping(objects[0], "schema[0]")
    table = reader.text(element.get("physicalName", element.get("name")), "schema[0].name")
    name = file_stem(str(doc.get("name") or table.split(".")[-1]))
    schema, tags = _schema(reader, element, "schema[0]")
    return ImportedContract(
        name=name,
        table=table,
        source=model_source(schema, class_name(name), doc=f"Contract of {table} (from ODCS)."),
        owner=_owner(reader, doc.get("team")),
        description=_description(doc.get("description")) or _description(element),
        column_tags=tags,
    )


def file_stem(name: str) -> str:
    """A contract name safe as ``contracts/NAME.py`` (a name from a file never picks the
    folder it is written to).

    >>> file_stem("Seller Payments v1.2"), file_stem("../../etc/passwd")
    ('seller_payments_v1_2', 'etc_passwd')
    """
    words = "".join(c if c.isascii() and c.isalnum() else " " for c in name.lower()).split()
    stem = "_".join(words) or "contract"
    return f"c_{stem}" if stem[0].isdigit() else stem


def _load(text: str, where: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ContractError(
            f"not valid YAML: {problem}", path=where, line=line, hint="fix the YAML syntax"
        ) from exc


def _owner(reader: _Reader, team: Any) -> str | None:
    """The team's member whose role is owner, else the team's name (3.1's object or the
    member list of 3.0)."""
    if team is None:
        return None
    members = team if isinstance(team, list) else reader.mapping(team, "team").get("members")
    for i, member in enumerate(reader.items(members, "team.members")):
        member = reader.mapping(member, f"team.members[{i}]")
        if str(member.get("role", "")).lower() == "owner" and member.get("username"):
            return str(member["username"])
    return None if isinstance(team, list) else team.get("name")


def _description(value: Any) -> str | None:
    """A contract's ``description`` (3.1: an object with ``purpose``), or a schema object's."""
    if isinstance(value, Mapping):
        value = value.get("purpose") or value.get("usage") or value.get("description")
    return str(value) if value else None


def _schema(
    reader: _Reader, element: Mapping[str, Any], at: str
) -> tuple[Any, dict[str, dict[str, Any]]]:
    import pandera.polars as pa

    columns: dict[str, Any] = {}
    tags: dict[str, dict[str, Any]] = {}
    props = reader.items(element.get("properties"), f"{at}.properties")
    if not props:
        raise reader.fail(f"{at}.properties", "no columns", hint="list the table's columns")
    for i, prop in enumerate(props):
        column, column_tags = _column(reader, reader.mapping(prop, f"{at}.properties[{i}]"), i)
        if column.name in columns:
            raise reader.fail(f"{at}.properties[{i}].name", f"{column.name} appears twice")
        columns[column.name] = column
        if column_tags:
            tags[column.name] = column_tags
    unique: list[str] = []
    checks = []
    for j, rule in enumerate(reader.items(element.get("quality"), f"{at}.quality")):
        where = f"{at}.quality[{j}]"
        rule = reader.mapping(rule, where)
        if rule.get("metric") == "duplicateValues":
            _zero(reader, rule, where)
            arguments = reader.mapping(rule.get("arguments", {}), f"{where}.arguments")
            unique = [
                reader.text(c, f"{where}.arguments.properties")
                for c in reader.items(arguments.get("properties"), f"{where}.arguments.properties")
            ]
            continue
        check = _rule(reader, rule, "object", where)
        if check is not None:
            checks.append(check)
    options = _sqlops_value(reader, element, at)
    return (
        pa.DataFrameSchema(
            columns,
            checks=checks,
            unique=unique or None,
            strict=options.get("strict", False),
            coerce=bool(options.get("coerce", False)),
            ordered=bool(options.get("ordered", False)),
        ),
        tags,
    )


def _column(reader: _Reader, prop: Mapping[str, Any], i: int) -> tuple[Any, dict[str, Any]]:
    import pandera.polars as pa

    at = f"schema[0].properties[{i}]"
    name = reader.text(prop.get("physicalName", prop.get("name")), f"{at}.name")
    logical = prop.get("logicalType")
    dtype = _dtype(reader, prop, logical, at)
    checks = _option_checks(reader, prop, str(logical), at)
    nullable = not bool(prop.get("required", False))
    for j, rule in enumerate(reader.items(prop.get("quality"), f"{at}.quality")):
        rule = reader.mapping(rule, f"{at}.quality[{j}]")
        if rule.get("metric") == "nullValues":
            _zero(reader, rule, f"{at}.quality[{j}]")
            nullable = False
            continue
        check = _rule(reader, rule, str(logical), f"{at}.quality[{j}]")
        if check is not None:
            checks.append(check)
    extra = _sqlops_value(reader, prop, at)
    tags = extra.get("tags") or _tags(reader, prop, at)
    column = pa.Column(
        dtype,
        checks=checks,
        nullable=nullable,
        unique=bool(prop.get("unique", False)),
        coerce=bool(extra.get("coerce", False)),
        name=name,
    )
    return column, dict(tags)


def _dtype(reader: _Reader, prop: Mapping[str, Any], logical: Any, at: str) -> Any:
    """The exact Polars dtype from ``physicalType`` when it is one (what sqlops writes), else
    the default of the ``logicalType`` (files from other tools: ``VARCHAR(2)``...)."""
    physical = prop.get("physicalType")
    dtype = parse_dtype(physical) if isinstance(physical, str) else None
    if dtype is None and logical in DEFAULT_DTYPES:
        dtype = parse_dtype(DEFAULT_DTYPES[logical])
    if dtype is None:
        raise reader.fail(
            f"{at}.logicalType",
            f"cannot tell the column's type from logicalType {logical!r} and physicalType "
            f"{physical!r}",
            hint="give a Polars physicalType such as Int64, String or List(Int64)",
        )
    return dtype


def _option_checks(reader: _Reader, prop: Mapping[str, Any], logical: str, at: str) -> list[Any]:
    """``logicalTypeOptions`` bounds, lengths and patterns as pandera checks."""
    import pandera.polars as pa

    options = reader.mapping(prop.get("logicalTypeOptions", {}), f"{at}.logicalTypeOptions")
    checks = []
    for key, value in options.items():
        where = f"{at}.logicalTypeOptions.{key}"
        if key in _OPTION_CHECKS:
            check, stat = _OPTION_CHECKS[key]
            parse = _ISO.get(logical)
            try:
                bound = parse(value) if parse is not None and isinstance(value, str) else value
            except ValueError as exc:
                raise reader.fail(where, f"{value!r} is not an ISO {logical}") from exc
            checks.append(getattr(pa.Check, check)(**{stat: bound}))
        elif key == "pattern":
            checks.append(pa.Check.str_matches(reader.text(value, where)))
        elif key not in ("minLength", "maxLength", "format"):
            raise reader.fail(where, "sqlops cannot check this option", hint="remove it")
    lengths = {k: options[k] for k in ("minLength", "maxLength") if k in options}
    if lengths:
        checks.append(pa.Check.str_length(lengths.get("minLength"), lengths.get("maxLength")))
    return checks


def _rule(reader: _Reader, rule: Mapping[str, Any], logical: str, at: str) -> Any:
    """One quality rule as a pandera check; None for a ``text`` rule (prose, no check)."""
    kind = rule.get("type", "library" if "metric" in rule else None)
    if kind == "text":
        return None
    if kind == "custom":
        if rule.get("engine") != ENGINE:
            raise reader.fail(
                f"{at}.engine",
                f"a custom rule for engine {rule.get('engine')!r} cannot run in sqlops",
                hint="rewrite it as a pandera check, or remove it",
            )
        return _check(reader, rule.get("implementation"), f"{at}.implementation")
    if kind != "library":
        raise reader.fail(
            f"{at}.type",
            f"sqlops cannot import {kind!r} quality rules",
            hint="use a library metric or a custom rule with engine: sqlops",
        )
    exact = _exact(rule)
    if exact is not None:
        return _check(reader, exact, f"{at}.customProperties")
    return _library(reader, rule, at)


def _library(reader: _Reader, rule: Mapping[str, Any], at: str) -> Any:
    import pandera.polars as pa

    metric = rule.get("metric")
    if metric != "invalidValues":
        raise reader.fail(
            f"{at}.metric",
            f"metric {metric!r} has no pandera check here",
            hint="sqlops maps nullValues, invalidValues and duplicateValues",
        )
    _zero(reader, rule, at)
    arguments = reader.mapping(rule.get("arguments", {}), f"{at}.arguments")
    if "validValues" in arguments:
        return pa.Check.isin(reader.items(arguments["validValues"], f"{at}.arguments"))
    if "pattern" in arguments:
        return pa.Check.str_matches(reader.text(arguments["pattern"], f"{at}.arguments.pattern"))
    raise reader.fail(f"{at}.arguments", "invalidValues needs validValues or pattern")


def _zero(reader: _Reader, rule: Mapping[str, Any], at: str) -> None:
    """A library rule maps to a pandera check only as "no such rows" (``mustBe: 0``)."""
    operators = {k: v for k, v in rule.items() if k.startswith("mustBe") or k == "mustNotBe"}
    if operators not in ({}, {"mustBe": 0}):
        raise reader.fail(
            at,
            f"threshold {operators} cannot be a pandera check",
            hint="use mustBe: 0 (no failing rows)",
        )


def _exact(rule: Mapping[str, Any]) -> Any:
    for prop in rule.get("customProperties") or []:
        if isinstance(prop, Mapping) and prop.get("property") == "sqlopsCheck":
            return prop.get("value")
    return None


def _check(reader: _Reader, spec: Any, at: str) -> Any:
    """``{check: NAME, statistics: {...}}`` as the pandera check of that name: a built-in,
    or one registered with ``pandera.extensions`` in this process."""
    from pandera.api.checks import Check

    spec = reader.mapping(spec, at)
    name = reader.text(spec.get("check"), f"{at}.check")
    stats = decode(reader.mapping(spec.get("statistics") or {}, f"{at}.statistics"))
    builtin = name in BUILTIN_CHECKS
    if not builtin and name not in Check.REGISTERED_CUSTOM_CHECKS:
        raise reader.fail(
            f"{at}.check",
            f"unknown check {name!r}",
            hint="import the module that registers it (pandera.extensions) before importing",
        )
    try:
        return getattr(Check, name)(**stats)
    except (TypeError, ValueError) as exc:
        raise reader.fail(f"{at}.statistics", f"do not fit check {name}: {exc}") from exc


def _sqlops_value(reader: _Reader, element: Mapping[str, Any], at: str) -> Mapping[str, Any]:
    """The element's ``customProperties`` entry written by sqlops (tags, options), decoded."""
    for j, prop in enumerate(
        reader.items(element.get("customProperties"), f"{at}.customProperties")
    ):
        prop = reader.mapping(prop, f"{at}.customProperties[{j}]")
        if prop.get("property") == ENGINE:
            return reader.mapping(decode(prop.get("value")), f"{at}.customProperties[{j}].value")
    return {}


def _tags(reader: _Reader, prop: Mapping[str, Any], at: str) -> dict[str, Any]:
    """``key:value`` tags (and a classification) from a file sqlops did not write."""
    tags: dict[str, Any] = {}
    for tag in reader.items(prop.get("tags"), f"{at}.tags"):
        key, sep, value = str(tag).partition(":")
        tags[key] = value if sep else True
    if prop.get("classification") and not tags:
        tags["classification"] = str(prop["classification"])
    return tags
