"""Resolve configured sources (and frames passed at build time) into Source objects."""

from __future__ import annotations

import glob
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlops.config import Config, SourceConfig, line_of
from sqlops.errors import SourceError
from sqlops.project.filehash import contract_digest
from sqlops.project.model import Source

_FORMAT_BY_SUFFIX = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".duckdb": "duckdb",
    ".ddb": "duckdb",
    ".sqlite": "sqlite",
    ".sqlite3": "sqlite",
    ".db": "sqlite",
}
_DATA_SUFFIXES = {".csv", ".tsv", ".txt", ".parquet", ".pq", ".json", ".ndjson", ".jsonl"}


def resolve_sources(config: Config, frames: Mapping[str, Any]) -> dict[str, Source]:
    """All sources of the project: the configured ones, then frames given at build time.

    A frame given under a configured name replaces that source for this build.
    """
    replaced = {f.lower() for f in frames}
    sources = {
        name: resolve_source(cfg, config)
        for name, cfg in config.sources.items()
        if name.lower() not in replaced
    }
    for name, frame in frames.items():
        if name.count(".") != 1:
            raise SourceError(
                f"frame source name {name!r} must be schema.table",
                hint=f"pass it as sources={{'raw.{name}': ...}}",
            )
        sources[name.lower()] = Source(name=name.lower(), format="frame", frame=frame)
    return {name.lower(): src for name, src in sources.items()}


def resolve_source(cfg: SourceConfig, config: Config) -> Source:
    """Find the files behind one configured source and decide how DuckDB reads them."""
    raw = cfg.path or ""
    target = Path(raw) if Path(raw).is_absolute() else config.root / raw
    hive = False
    if any(ch in raw for ch in "*?["):
        files = tuple(Path(p) for p in sorted(glob.glob(str(target), recursive=True)))
        location = str(target)
    elif target.is_dir():
        files = tuple(p for p in sorted(target.rglob("*")) if p.suffix in _DATA_SUFFIXES)
        suffix = files[0].suffix if files else ".parquet"
        location = str(target / "**" / f"*{suffix}")
        hive = True
    else:
        files = (target,) if target.is_file() else ()
        location = str(target)
    if not files:
        raise _error(
            cfg, config, f"no file matches {raw!r}", "check the path; it is relative to the root"
        )
    fmt = cfg.format or _FORMAT_BY_SUFFIX.get(files[0].suffix.lower())
    if fmt is None:
        raise _error(
            cfg,
            config,
            f"cannot tell the format of {files[0].name}",
            "add format = 'csv' (or parquet, json, ndjson, duckdb, sqlite)",
        )
    options = dict(cfg.options)
    hive = bool(options.pop("hive_partitioning", hive))
    return Source(
        name=cfg.name.lower(),
        format=fmt,
        location=location,
        files=files,
        options=options,
        columns=dict(cfg.columns),
        table=cfg.table,
        hive=hive,
        description=cfg.description,
        owner=cfg.owner,
        tags=cfg.tags,
        contract=cfg.contract,
        contract_severity=cfg.contract_severity,
        contract_digest=contract_digest(config.root, cfg.contract),
    )


def _error(cfg: SourceConfig, config: Config, message: str, hint: str) -> SourceError:
    """A source error at the source's line in the config (read only when there is one)."""
    text = (config.root / config.config_file).read_text() if config.config_file else ""
    return SourceError(
        f"source {cfg.name}: {message}",
        hint=hint,
        path=config.config_file,
        line=line_of(text, cfg.name),
    )
