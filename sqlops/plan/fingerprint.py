"""Fingerprints: what a node's output depends on, hashed, so unchanged work is skipped.

A fingerprint is built from parts (SQL, config, upstream fingerprints, input data) and the
parts are kept too, so the planner can say *why* something runs, not only that it does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlops.macros import macro_digest
from sqlops.project.filehash import portable
from sqlops.project.model import Model, Source


@dataclass(frozen=True)
class Fingerprint:
    """A node's fingerprint and the parts it was computed from."""

    value: str
    sql: str
    config: str
    data: str
    upstream: Mapping[str, str] = field(default_factory=dict)

    def parts(self) -> dict[str, Any]:
        return {
            "sql": self.sql,
            "config": self.config,
            "data": self.data,
            "upstream": dict(self.upstream),
        }


def digest(value: Any) -> str:
    """A short stable hash of any JSON-able value.

    >>> digest({"b": 1, "a": [1, 2]}) == digest({"a": [1, 2], "b": 1})
    True
    """
    blob = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(blob.encode(), digest_size=16).hexdigest()


def source_fingerprint(source: Source, salt: str = "", root: Path | None = None) -> Fingerprint:
    """A source's fingerprint: how it is read, plus the content version of its files.

    Frames passed from Python cannot be cheaply versioned, so ``salt`` (unique per
    build) makes them count as changed every time.
    """
    config = digest(
        {
            "format": source.format,
            "location": portable(source.location, root),
            "options": dict(source.options),
            "columns": dict(source.columns),
            "table": source.table,
            "hive": source.hive,
            "contract": [source.contract, source.contract_severity, source.contract_digest],
        }
    )
    data = salt if source.is_frame else source.data_version
    return _combine("", config, data, {})


def model_fingerprint(model: Model, upstream: Mapping[str, str]) -> Fingerprint:
    """A model's fingerprint: its SQL tokens, config, upstream fingerprints and the content
    version of the files it reads directly.

    The SQL part also covers the built-in macros the model calls (with the macros those
    call), so changing one reruns the models calling it, in full (as any SQL change does):
    rows an incremental model stored hold the old macro's results.
    """
    data = model.data_version
    deps = {name: upstream[name] for name in model.depends_on if name in upstream}
    macros = macro_digest(model.sql) if model.kind == "sql" else ""
    sql = digest([model.sql_hash, macros]) if macros else model.sql_hash
    return _combine(sql, digest(model.config_items()), data, deps)


def _combine(sql: str, config: str, data: str, upstream: Mapping[str, str]) -> Fingerprint:
    value = digest([sql, config, data, sorted(upstream.items())])
    return Fingerprint(value=value, sql=sql, config=config, data=data, upstream=upstream)
