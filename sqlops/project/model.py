"""The immutable objects a project is made of: sources and models."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

MATERIALIZATIONS = ("view", "table", "incremental")
# what a failed contract check does: "error" blocks publishing, "warn" reports
SEVERITIES = ("error", "warn")
Materialized = Literal["view", "table", "incremental"]


@dataclass(frozen=True)
class TableRef:
    """A table a model reads, lower-cased as written, with where it appears (1-based)."""

    name: str
    line: int | None = None
    col: int | None = None
    spans: tuple[tuple[int, int], ...] = ()  # [start, end) of each mention in the body
    aliased: bool = False  # every mention has an alias (``FROM raw.orders o``)
    target: str = ""  # the source or model it resolves to (set by the loader)


@dataclass(frozen=True)
class Source:
    """An external input that models read by its ``schema.table`` name.

    ``location`` is what DuckDB reads (an absolute file, glob or database path);
    ``files`` are the concrete files behind it; ``data_version`` hashes their names and
    contents (set by the loader), so identical bytes are the same input data.
    A ``frame`` source holds a Polars/pandas/Arrow object passed in at build time.
    """

    name: str
    format: str
    location: str = ""
    files: tuple[Path, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    columns: Mapping[str, str] = field(default_factory=dict)
    table: str | None = None
    hive: bool = False
    description: str = ""
    owner: str = ""
    tags: tuple[str, ...] = ()
    contract: str = ""
    contract_severity: str = "error"
    contract_digest: str = ""
    frame: Any = None
    data_version: str = ""

    @property
    def is_frame(self) -> bool:
        return self.format == "frame"


@dataclass(frozen=True)
class Model:
    """One transformation: a SELECT in ``sql/<schema>/<name>.sql`` or a Python function.

    ``sql`` is the model body exactly as written, up to the end of its statement (so engine
    errors map back to file lines, with ``body_line`` the file line of its first line);
    ``sql_hash`` hashes its tokens as written, so re-indenting or editing a comment does not
    trigger a rebuild but any edit DuckDB could see does.
    ``reads`` are the table references as written; ``depends_on`` the model and source
    names they resolve to.
    """

    name: str
    path: Path
    kind: Literal["sql", "python"] = "sql"
    materialized: Materialized = "view"
    sql: str = ""
    body_line: int = 1
    sql_hash: str = ""
    reads: tuple[TableRef, ...] = ()
    depends_on: tuple[str, ...] = ()
    files_read: tuple[str, ...] = ()
    data_version: str = ""  # content version of ``files_read`` (set by the loader)
    unique_key: tuple[str, ...] = ()
    cursor: str | None = None
    tags: tuple[str, ...] = ()
    owner: str = ""
    description: str = ""
    contract: str = ""
    contract_severity: str = "error"
    contract_digest: str = ""  # the contract file's content hash: a new contract re-checks
    meta: Mapping[str, str] = field(default_factory=dict)
    func: Callable[..., Any] | None = None
    header_lines: Mapping[str, int] = field(default_factory=dict)  # header key -> file line

    def config_items(self) -> dict[str, Any]:
        """The config that changes what the model produces (part of its fingerprint)."""
        return {
            "materialized": self.materialized,
            "unique_key": list(self.unique_key),
            "cursor": self.cursor,
            "kind": self.kind,
            "contract": [self.contract, self.contract_severity, self.contract_digest],
        }


@dataclass(frozen=True)
class ProjectSpec:
    """Everything loaded from disk: what the planner plans over."""

    root: Path
    sources: Mapping[str, Source]
    models: Mapping[str, Model]

    @property
    def names(self) -> list[str]:
        return sorted([*self.sources, *self.models])
