"""``[sources."schema.table"]``: the named external inputs models read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlops.config.toml import check_keys, line_of, names
from sqlops.errors import ConfigError

SOURCE_FORMATS = ("csv", "parquet", "json", "ndjson", "duckdb", "sqlite")


@dataclass(frozen=True)
class SourceConfig:
    """One ``[sources."schema.table"]`` entry: where an external input lives and how to read it."""

    name: str
    path: str | None = None
    format: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    columns: Mapping[str, str] = field(default_factory=dict)
    table: str | None = None
    description: str = ""
    owner: str = ""
    tags: tuple[str, ...] = ()
    # for aggregate feature synthesis (featuretools' dataframe metadata)
    index: str | None = None
    time_index: str | None = None
    categorical: tuple[str, ...] = ()
    # the pandera contract the source is checked against as it is read
    contract: str = ""
    contract_severity: str = "error"


_SOURCE_KEYS: dict[str, type | tuple[type, ...]] = {
    "path": str,
    "format": str,
    "options": dict,
    "columns": dict,
    "table": str,
    "description": str,
    "owner": str,
    "tags": (list, str),
    "index": str,
    "time_index": str,
    "categorical": (list, str),
    "contract": str,
    "contract_severity": str,
}


def source_config(name: str, spec: Any, path: Path | None, text: str) -> SourceConfig:
    if not isinstance(spec, dict):
        raise ConfigError(f"sources.{name} must be a table", path=path, line=line_of(text, name))
    if name.count(".") != 1:
        raise ConfigError(
            f"source name {name!r} must be schema.table",
            path=path,
            line=line_of(text, name),
            hint=f'write [sources."raw.{name}"]',
        )
    check_keys(spec, _SOURCE_KEYS, path, text, f"sources.{name}.")
    fmt = spec.get("format")
    if fmt is not None and fmt not in SOURCE_FORMATS:
        raise ConfigError(
            f"sources.{name}.format = {fmt!r} is not one of {', '.join(SOURCE_FORMATS)}",
            path=path,
            line=line_of(text, "format"),
        )
    if "path" not in spec:
        raise ConfigError(
            f"sources.{name} has no path",
            path=path,
            line=line_of(text, name),
            hint="add path = 'data/file.csv' (a file, glob or folder relative to the root)",
        )
    tags = spec.get("tags", ())
    severity = spec.get("contract_severity", "error")
    if severity not in ("error", "warn"):
        raise ConfigError(
            f"sources.{name}.contract_severity = {severity!r} is not one of error, warn",
            path=path,
            line=line_of(text, "contract_severity"),
        )
    return SourceConfig(
        name=name,
        path=spec["path"],
        format=fmt,
        options=dict(spec.get("options", {})),
        columns=dict(spec.get("columns", {})),
        table=spec.get("table"),
        description=spec.get("description", ""),
        owner=spec.get("owner", ""),
        tags=tuple(t.strip() for t in tags.split(",")) if isinstance(tags, str) else tuple(tags),
        index=spec.get("index"),
        time_index=spec.get("time_index"),
        categorical=names(spec.get("categorical", ())),
        contract=spec.get("contract", ""),
        contract_severity=severity,
    )
