"""How ODCS and sqlops spell the same things: the constants both directions share, and the
tagged encoding that carries check statistics through YAML exactly.

JSON and YAML have no decimals, time zones or tuples (and a tz-aware YAML timestamp comes
back with a fixed offset, not its zone), so such values travel as one-key mappings:
``{$decimal: '1.50'}``, ``{$datetime: '2026-01-01T00:00:00', zone: 'Etc/UTC'}``,
``{$tuple: [...]}``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlops.errors import ContractError

API_VERSION = "v3.1.0"
ENGINE = "sqlops"
# a contract's stable id: uuid5 of this namespace and the table name
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://sqlops.dev/contracts")
BOUND_OPTIONS = {
    "greater_than_or_equal_to": ("minimum", "min_value"),
    "greater_than": ("exclusiveMinimum", "min_value"),
    "less_than_or_equal_to": ("maximum", "max_value"),
    "less_than": ("exclusiveMaximum", "max_value"),
}
# what a logicalType becomes when a file (from another tool) gives no Polars physicalType
DEFAULT_DTYPES = {
    "string": "String",
    "integer": "Int64",
    "number": "Float64",
    "boolean": "Boolean",
    "date": "Date",
    "timestamp": "Datetime('us', None)",
    "time": "Time",
}


def encode(value: Any, where: str) -> Any:
    """A check statistic as YAML that reads back exactly (see ``decode``).

    >>> encode({"v": Decimal("1.50"), "d": dt.date(2026, 1, 2)}, "t.c")
    {'v': {'$decimal': '1.50'}, 'd': {'$date': '2026-01-02'}}
    """
    if value is None or isinstance(value, bool | int | str | float):
        return value
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, dt.datetime | dt.time):
        key = "$datetime" if isinstance(value, dt.datetime) else "$time"
        out: dict[str, Any] = {key: value.replace(tzinfo=None).isoformat()}
        if value.tzinfo is not None:
            out["zone"] = _zone(value, where)
        if value.fold:  # the second of two equal wall-clock times when clocks go back
            out["fold"] = 1
        return out
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"$timedelta": [value.days, value.seconds, value.microseconds]}
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, tuple | set | frozenset):
        key = "$tuple" if isinstance(value, tuple) else "$set"
        items = value if isinstance(value, tuple) else sorted(value, key=repr)
        return {key: [encode(v, where) for v in items]}
    if isinstance(value, list):
        return [encode(v, where) for v in value]
    if isinstance(value, Mapping):
        return {str(k): encode(v, where) for k, v in value.items()}
    raise ContractError(
        f"{where}: a check value of type {type(value).__name__} cannot be written to ODCS",
        hint="use numbers, text, dates, times, decimals or lists of them",
    )


def _zone(value: dt.datetime | dt.time, where: str) -> str:
    key = getattr(value.tzinfo, "key", None)
    if key is None:
        raise ContractError(
            f"{where}: time zone {value.tzinfo} has no IANA name",
            hint="use a zoneinfo.ZoneInfo time zone such as 'UTC'",
        )
    return str(key)


def decode(value: Any) -> Any:
    """The inverse of ``encode``."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, Mapping):
        return value
    tag = next(iter(value), None) if len(value) >= 1 else None
    if isinstance(tag, str) and tag.startswith("$"):
        return _TAGS[tag](value)
    return {k: decode(v) for k, v in value.items()}


def _clock(value: Mapping[str, Any]) -> dt.datetime | dt.time:
    """A ``$datetime`` or ``$time``, with its zone and fold."""
    from zoneinfo import ZoneInfo

    out: dt.datetime | dt.time
    if "$datetime" in value:
        out = dt.datetime.fromisoformat(value["$datetime"])
    else:
        out = dt.time.fromisoformat(value["$time"])
    if "zone" in value:
        out = out.replace(tzinfo=ZoneInfo(value["zone"]))
    return out.replace(fold=int(value.get("fold", 0)))


_TAGS: dict[str, Any] = {
    "$decimal": lambda v: Decimal(v["$decimal"]),
    "$datetime": _clock,
    "$date": lambda v: dt.date.fromisoformat(v["$date"]),
    "$time": _clock,
    "$timedelta": lambda v: dt.timedelta(*v["$timedelta"]),
    "$bytes": lambda v: bytes.fromhex(v["$bytes"]),
    "$tuple": lambda v: tuple(decode(v["$tuple"])),
    "$set": lambda v: set(decode(v["$set"])),
}


# pandera's built-in checks, by the name a Check carries (``Check.ge`` is greater_than_or_equal_to)
BUILTIN_CHECKS = frozenset(
    {
        "equal_to", "not_equal_to", "greater_than", "greater_than_or_equal_to", "less_than",
        "less_than_or_equal_to", "in_range", "isin", "notin", "str_matches", "str_contains",
        "str_startswith", "str_endswith", "str_length", "unique_values_eq",
    }
)  # fmt: skip
