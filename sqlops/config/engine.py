"""``[engine]``: DuckDB settings and the opt-in execution strategies."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlops.config.toml import check_keys, line_of
from sqlops.errors import ConfigError

# the first of each is the default. csv_reader "auto" (the default before DuckDB's reader
# became it) still reads as "duckdb": Polars' reader is taken only when asked for by name.
CSV_READERS = ("duckdb", "polars", "auto")


EXECUTORS = ("auto", "duckdb")


# the amounts DuckDB's memory_limit accepts: a number and a unit (1000- or 1024-based, spaces
# inside the unit ignored), a percentage of RAM, or -1 for no limit
_MEMORY = re.compile(
    r"^\s*(-1|\d+(\.\d+)?\s*(%|b|bytes?|[kmgt]i?b|[kmgt]|(kilo|mega|giga|tera)bytes?))\s*$",
    re.IGNORECASE,
)


_ENGINE_KEYS: dict[str, type | tuple[type, ...]] = {
    "csv_reader": str,
    "executor": str,
    "threads": int,
    "memory_limit": str,
}


def check_engine(engine: Mapping[str, Any], path: Path | None, text: str) -> None:
    """``[engine]`` values, checked here so the error names sqlops.toml and the key rather
    than the warehouse DuckDB refuses to open with them."""
    check_keys(engine, _ENGINE_KEYS, path, text, "engine.")
    for key, allowed in (("csv_reader", CSV_READERS), ("executor", EXECUTORS)):
        if engine.get(key, "auto") not in allowed:
            raise ConfigError(
                f"engine.{key} = {engine[key]!r} is not one of {', '.join(allowed)}",
                path=path,
                line=line_of(text, key),
            )
    threads = engine.get("threads")
    if threads is not None and threads < 1:
        raise ConfigError(
            f"engine.threads = {threads} must be at least 1",
            path=path,
            line=line_of(text, "threads"),
            hint="leave it out to let DuckDB use every core",
        )
    limit = engine.get("memory_limit")
    if limit is not None and not _MEMORY.match(re.sub(r"(?<=[A-Za-z%])\s+", "", limit)):
        raise ConfigError(
            f"engine.memory_limit = {limit!r} is not an amount of memory",
            path=path,
            line=line_of(text, "memory_limit"),
            hint='write a number and a unit, e.g. "4GB", "512MiB" or "80%"',
        )


def csv_reader(value: str) -> str:
    return "duckdb" if value == "auto" else value
