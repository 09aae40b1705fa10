"""Load the project configuration: defaults < sqlops.toml / [tool.sqlops] < SQLOPS_* env < flags.

Every key has a default, so a folder with only ``sql/*.sql`` files is a valid project.
Unknown keys are errors that name the key and the file, because a misspelt key that is
silently ignored is the worst kind of configuration bug. Each section is read by its own
module of this package; this one composes them into the frozen ``Config``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlops.config.engine import check_engine, csv_reader
from sqlops.config.features import (
    EntityConfig,
    FeatureViewConfig,
    RelationshipConfig,
    feature_store,
    relationships_config,
)
from sqlops.config.governance import (
    ApprovalConfig,
    ColumnPolicy,
    GovernanceConfig,
    RoleConfig,
    approval_config,
    columns_config,
    default_role,
    governance_config,
    roles_config,
)
from sqlops.config.sources import SourceConfig, source_config
from sqlops.config.toml import CONFIG_FILE, PYPROJECT, check_keys, line_of, read_file
from sqlops.config.versions import LakeFSConfig, versions_config
from sqlops.errors import ConfigError, did_you_mean


@dataclass(frozen=True)
class Config:
    """The effective configuration of one project; paths are relative to ``root``."""

    root: Path
    models: str = "sql"
    state_dir: str = ".sqlops"
    warehouse: str = ""
    catalog: str = ""
    threads: int = 4
    python_models: tuple[str, ...] = ()
    csv_reader: str = "duckdb"
    executor: str = "auto"
    duckdb_threads: int | None = None
    memory_limit: str | None = None
    sources: Mapping[str, SourceConfig] = field(default_factory=dict)
    versions_backend: str = "local"
    lakefs: LakeFSConfig = field(default_factory=LakeFSConfig)
    pre_merge: tuple[str, ...] = ()
    versions_author: str = ""
    config_file: Path | None = None
    entities: Mapping[str, EntityConfig] = field(default_factory=dict)
    feature_views: Mapping[str, FeatureViewConfig] = field(default_factory=dict)
    relationships: tuple[RelationshipConfig, ...] = ()
    governance: GovernanceConfig = field(default_factory=GovernanceConfig)
    columns: Mapping[str, Mapping[str, ColumnPolicy]] = field(default_factory=dict)
    roles: Mapping[str, RoleConfig] = field(default_factory=dict)
    approval: ApprovalConfig = field(default_factory=ApprovalConfig)
    role: str = ""  # the role this project reads as ('' = the owner); SQLOPS_ROLE or role=

    @property
    def models_path(self) -> Path:
        return self.root / self.models

    @property
    def state_path(self) -> Path:
        return self.root / self.state_dir

    @property
    def warehouse_path(self) -> Path:
        return self.root / (self.warehouse or f"{self.state_dir}/warehouse.duckdb")

    @property
    def catalog_path(self) -> Path:
        return self.root / (self.catalog or f"{self.state_dir}/catalog.duckdb")

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-ready values (what ``sqlops config`` prints)."""
        out = dataclasses.asdict(self)
        out["root"] = str(self.root)
        out["config_file"] = str(self.config_file) if self.config_file else None
        out["warehouse"] = str(self.warehouse_path.relative_to(self.root))
        out["catalog"] = str(self.catalog_path.relative_to(self.root))
        out["lakefs"] = self.lakefs.to_dict()
        for src in out["sources"].values():
            src["options"] = dict(src["options"])
            src["columns"] = dict(src["columns"])
        for view in out["feature_views"].values():
            view["ttl"] = view["ttl"].total_seconds() if view["ttl"] is not None else None
        return out


_TOP_KEYS: dict[str, type | tuple[type, ...]] = {
    "models": str,
    "state_dir": str,
    "warehouse": str,
    "catalog": str,
    "threads": int,
    "python_models": list,
    "sources": dict,
    "engine": dict,
    "versions": dict,
    "entities": dict,
    "feature_views": dict,
    "relationships": list,
    "governance": dict,
    "columns": dict,
    "roles": dict,
    "approval": dict,
}


_ENV_KEYS = {
    "SQLOPS_MODELS": "models",
    "SQLOPS_STATE_DIR": "state_dir",
    "SQLOPS_WAREHOUSE": "warehouse",
    "SQLOPS_CATALOG": "catalog",
    "SQLOPS_THREADS": "threads",
}


def find_root(start: Path | str | None = None) -> Path:
    """The project root: the nearest folder at or above ``start`` with a sqlops config.

    Falls back to ``start`` itself, so a bare folder of SQL files works with defaults.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
        pyproject = folder / PYPROJECT
        if pyproject.is_file() and b"[tool.sqlops" in pyproject.read_bytes():
            return folder
    return here


def load_config(root: Path | str | None = None, **overrides: Any) -> Config:
    """Read the config of the project at ``root`` (found upwards from the cwd by default).

    ``overrides`` are flag values (``threads=8``); ``None`` values are ignored.
    """
    root_path = find_root(root) if root is None else Path(root).resolve()
    if not root_path.is_dir():
        raise ConfigError(f"project folder {root_path} does not exist", hint="check the path")
    raw, config_file, text = read_file(root_path)
    check_keys(raw, _TOP_KEYS, config_file, text, "")
    for env, key in _ENV_KEYS.items():
        if env in os.environ:
            raw[key] = _coerce(os.environ[env], _TOP_KEYS[key], env)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    engine = raw.pop("engine", {})
    check_engine(engine, config_file, text)
    sources = {
        name: source_config(name, spec, config_file, text)
        for name, spec in raw.pop("sources", {}).items()
    }
    versions = raw.pop("versions", {})
    backend, lakefs, pre_merge = versions_config(versions, config_file, text)
    entities, feature_views = feature_store(
        raw.pop("entities", {}), raw.pop("feature_views", {}), config_file, text
    )
    relationships = relationships_config(raw.pop("relationships", []), sources, config_file, text)
    governance = governance_config(raw.pop("governance", {}), config_file, text)
    columns = columns_config(raw.pop("columns", {}), config_file, text)
    roles = roles_config(raw.pop("roles", {}), config_file, text)
    approval = approval_config(raw.pop("approval", {}), config_file, text)
    role = overrides.get("role") or default_role()
    if role and role not in roles:
        raise ConfigError(
            f"unknown role {role!r}",
            path=config_file,
            hint=did_you_mean(role, roles) or "declare it as [roles.NAME] in sqlops.toml",
        )
    threads = raw.get("threads", 4)
    if threads < 1:
        raise ConfigError(
            f"threads = {threads} must be at least 1",
            path=config_file,
            line=line_of(text, "threads"),
            hint="threads is how many models build at once",
        )
    return Config(
        root=root_path,
        models=raw.get("models", "sql"),
        state_dir=raw.get("state_dir", ".sqlops"),
        warehouse=raw.get("warehouse", ""),
        catalog=raw.get("catalog", ""),
        threads=threads,
        python_models=tuple(raw.get("python_models", ())),
        csv_reader=csv_reader(engine.get("csv_reader", "duckdb")),
        executor=engine.get("executor", "auto"),
        duckdb_threads=engine.get("threads"),
        memory_limit=engine.get("memory_limit"),
        sources=sources,
        versions_backend=backend,
        lakefs=lakefs,
        pre_merge=pre_merge,
        versions_author=versions.get("author", ""),
        config_file=config_file,
        entities=entities,
        feature_views=feature_views,
        relationships=relationships,
        governance=governance,
        columns=columns,
        roles=roles,
        approval=approval,
        role=role,
    )


def _coerce(value: str, want: type | tuple[type, ...], env: str) -> Any:
    if want is int:
        try:
            return int(value)
        except ValueError as exc:
            raise ConfigError(f"environment variable {env}={value!r} must be an integer") from exc
    return value
