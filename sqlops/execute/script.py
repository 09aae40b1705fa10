"""Run a SQL script (several statements) and keep the last result: the single-file path."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlops.errors import ExecutionError
from sqlops.execute.engine import Engine, Where

if TYPE_CHECKING:
    import polars as pl


def parse_param(text: str) -> tuple[str, Any]:
    """``k=v`` from the command line; numbers and booleans are typed, the rest are strings.

    >>> parse_param("min_price=100"), parse_param("city=Recife"), parse_param("ok=true")
    (('min_price', 100), ('city', 'Recife'), ('ok', True))
    """
    if "=" not in text:
        raise ExecutionError(f"parameter {text!r} is not key=value", hint="write --param k=v")
    key, raw = text.split("=", 1)
    value: Any = raw
    if raw.lower() in ("true", "false"):
        value = raw.lower() == "true"
    else:
        for kind in (int, float):
            try:
                value = kind(raw)
                break
            except ValueError:
                continue
    return key.strip(), value


def run_script(
    engine: Engine, text: str, params: Mapping[str, Any], path: Path | str | None = None
) -> pl.DataFrame | None:
    """Execute every statement in order; return the last one's rows (None if it has none).

    Each statement gets only the ``$name`` parameters it uses; a missing one is an error
    that names it.
    """
    statements = engine.statements(text, Where(path=path))
    if not statements:
        raise ExecutionError("the script has no SQL statements", path=path)
    result = None
    offset = 0
    for query, names in statements:
        missing = names - params.keys()
        pos = text.find(query[:40], offset)
        line = text.count("\n", 0, pos) + 1 if pos >= 0 else 1
        offset = max(pos, offset)
        if missing:
            first = sorted(missing)[0]
            raise ExecutionError(
                f"missing parameter ${first}",
                path=path,
                line=line,
                hint=f"pass --param {first}=VALUE",
            )
        where = Where(path=path, body_line=line)
        result = engine.query(query, {k: params[k] for k in names} or None, where)
    return result
