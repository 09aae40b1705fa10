"""An incremental model's ``unique_key`` and ``cursor`` checked against its output columns.

A key naming a column the model does not return passes a first build (nothing to merge yet)
and fails the second with an internal alias, so every incremental build checks it first.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlops.errors import ModelParseError, did_you_mean
from sqlops.project.model import Model


def check_keys(model: Model, columns: Iterable[str]) -> None:
    """Raise if a ``unique_key`` or ``cursor`` column is not among ``columns`` (DuckDB
    compares names case-insensitively, so this does too).

    >>> from pathlib import Path
    >>> path = Path("sql/stg/o.sql")
    >>> m = Model("stg.o", path, unique_key=("id",), header_lines={"unique_key": 2})
    >>> check_keys(m, ["ID", "amount"])
    >>> check_keys(m, ["order_id", "amount"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sqlops.errors.ModelParseError: sql/stg/o.sql:2: unique_key column 'id' is not a column of ...
    """
    names = list(columns)
    known = {name.lower() for name in names}
    wanted = [("unique_key", key) for key in model.unique_key]
    wanted += [("cursor", model.cursor)] if model.cursor else []
    for header, column in wanted:
        if column.lower() not in known:
            shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
            raise ModelParseError(
                f"{header} column {column!r} is not a column of {model.name} (it returns {shown})",
                path=model.path,
                line=model.header_lines.get(header),
                hint=did_you_mean(column, names) or f"fix the `-- {header}:` header line",
            )
