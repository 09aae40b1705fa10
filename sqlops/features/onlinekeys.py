"""Entity-row key values as the online store holds its keys, so a lookup matches exactly
what the same key as a plain Python value matches, or is refused.

sqlite3 binds any object with the buffer protocol as a BLOB, so a ``numpy.int64`` key used
to bind as 8 raw bytes and silently miss; a ``datetime`` bound with Python's default adapter
('2026-01-01 00:00:00', a space) never equals a stored key ('2026-01-01T00:00:00.000000').
Every key therefore goes through ``key_param``: numpy and pandas scalars become their Python
equivalents, times and decimals are written the way ``online._encode`` wrote the column,
and anything else is an ``OnlineStoreError`` naming the row and key.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlops.errors import OnlineStoreError

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"
_PLAIN = (int, float, str, bytes)


def key_param(value: Any, encoding: str | None, where: str) -> Any:
    """The SQLite value to look ``value`` up by, for a key column stored with ``encoding``
    (the decoder name ``online._encode`` recorded: None for native columns).

    >>> key_param(True, "bool", "row 0")
    1
    >>> key_param(dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC), "timestamp", "row 0")
    '2026-01-02T03:04:00.000000'
    >>> key_param(Decimal("1.5"), "decimal:2", "row 0")
    '1.50'
    """
    value = _python(value)
    if value is None:
        return None  # a NULL key matches nothing, as in a join
    try:
        if encoding in ("timestamp", "timestamptz"):
            return _timestamp(value).strftime(_TIME_FORMAT)
        if encoding == "date":
            return _date(value).isoformat()
        if encoding == "int":
            return str(_integer(value))
        if encoding == "bool":
            return int(_boolean(value))
        if encoding is not None and encoding.startswith("decimal"):
            return _decimal(value, encoding)
    except (TypeError, ValueError, InvalidOperation) as exc:
        raise OnlineStoreError(f"{where}: {exc}; pass the key as the column's type") from exc
    if isinstance(value, bool | dt.date | dt.time | Decimal) or not isinstance(value, _PLAIN):
        raise OnlineStoreError(
            f"{where}: a {type(value).__name__} key cannot match this key column; "
            "pass an int, float or str"
        )
    return value


def _python(value: Any) -> Any:
    """numpy and pandas scalars as Python values; their missing values as None."""
    kind = type(value)
    module = kind.__module__.split(".")[0]
    if module == "pandas":
        if kind.__name__ in ("NAType", "NaTType"):
            return None
        if kind.__name__ == "Timestamp":  # a datetime subclass; nanoseconds are cut, as stored
            return value.to_pydatetime(warn=False)
    if module == "numpy":
        if kind.__name__ == "datetime64":
            if value != value:  # NaT
                return None
            return value.astype("datetime64[us]").item()
        return value.item()
    if isinstance(value, float) and value != value:
        return None  # NaN: pandas' missing value in a float column
    return value


def _timestamp(value: Any) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # naive times are UTC; aware ones are stored in UTC
            return value
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    raise TypeError(f"a {type(value).__name__} is not a timestamp")


def _date(value: Any) -> dt.date:
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.time() != dt.time(0) or value.tzinfo is not None:
            raise ValueError(f"{value.isoformat()} is not a date")
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise TypeError(f"a {type(value).__name__} is not a date")


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"a {type(value).__name__} is not an integer")
    number = int(value)
    if number != value and str(number) != value:
        raise ValueError(f"{value!r} is not an integer")
    return number


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool | int) or value not in (0, 1):
        raise TypeError(f"{value!r} is not a boolean")
    return bool(value)


def _decimal(value: Any, encoding: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise TypeError(f"a {type(value).__name__} is not a decimal")
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    _, _, scale = encoding.partition(":")
    if not scale:
        return str(number)
    exact = number.quantize(Decimal(1).scaleb(-int(scale)))
    if exact != number:
        raise ValueError(f"{value!r} has more than {scale} decimal places")
    return str(exact)
