"""Load the project configuration: defaults < sqlops.toml / [tool.sqlops] < SQLOPS_* env < flags.

Every key has a default, so a folder with only ``sql/*.sql`` files is a valid project.
Unknown keys are errors that name the key and the file, because a misspelt key that is
silently ignored is the worst kind of configuration bug.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlops.errors import ConfigError, did_you_mean
from sqlops.oserrors import read_text

CONFIG_FILE = "sqlops.toml"
PYPROJECT = "pyproject.toml"

SOURCE_FORMATS = ("csv", "parquet", "json", "ndjson", "duckdb", "sqlite")
# the first of each is the default. csv_reader "auto" (the default before DuckDB's reader
# became it) still reads as "duckdb": Polars' reader is taken only when asked for by name.
CSV_READERS = ("duckdb", "polars", "auto")
EXECUTORS = ("auto", "duckdb")
VERSION_BACKENDS = ("local", "lakefs")


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


@dataclass(frozen=True)
class RelationshipConfig:
    """One ``[[relationships]]`` entry: ``parent`` table.column (its index) <- ``child``
    table.column (the foreign key)."""

    parent_table: str
    parent_column: str
    child_table: str
    child_column: str
    line: int | None = None


@dataclass(frozen=True)
class EntityConfig:
    """One ``[entities.NAME]`` entry: what features describe, identified by its join keys."""

    name: str
    join_keys: tuple[str, ...]
    description: str = ""
    line: int | None = None


@dataclass(frozen=True)
class FeatureConfig:
    """One feature of a feature view, as listed or described in a table."""

    name: str
    type: str | None = None
    description: str = ""
    owner: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeatureViewConfig:
    """One ``[feature_views.NAME]`` entry (checked here; the feature store builds on it)."""

    name: str
    source: str
    entities: tuple[str, ...]
    timestamp: str
    features: tuple[FeatureConfig, ...]
    created_timestamp: str | None = None
    ttl: timedelta | None = None
    owner: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class LakeFSConfig:
    """``[versions.lakefs]``: where the lakeFS backend keeps data versions.

    Endpoint and credentials left empty are taken the way lakectl does: the
    ``LAKECTL_SERVER_ENDPOINT_URL`` / ``LAKECTL_CREDENTIALS_*`` variables, then
    ``~/.lakectl.yaml``. The secret never appears in ``sqlops config`` output.
    """

    endpoint: str = ""
    repository: str = ""
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)
    storage_namespace: str = ""

    def to_dict(self) -> dict[str, str]:
        out = dataclasses.asdict(self)
        out["secret_access_key"] = "***" if self.secret_access_key else ""
        return out


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
}
_VERSIONS_KEYS: dict[str, type | tuple[type, ...]] = {
    "backend": str,
    "lakefs": dict,
    "pre_merge": list,
    "author": str,
}
# the amounts DuckDB's memory_limit accepts: a number and a unit (1000- or 1024-based, spaces
# inside the unit ignored), a percentage of RAM, or -1 for no limit
_MEMORY = re.compile(
    r"^\s*(-1|\d+(\.\d+)?\s*(%|b|bytes?|[kmgt]i?b|[kmgt]|(kilo|mega|giga|tera)bytes?))\s*$",
    re.IGNORECASE,
)
_CHECK_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_LAKEFS_KEYS: dict[str, type | tuple[type, ...]] = {
    f.name: str for f in dataclasses.fields(LakeFSConfig)
}
_ENGINE_KEYS: dict[str, type | tuple[type, ...]] = {
    "csv_reader": str,
    "executor": str,
    "threads": int,
    "memory_limit": str,
}
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
}
_ENV_KEYS = {
    "SQLOPS_MODELS": "models",
    "SQLOPS_STATE_DIR": "state_dir",
    "SQLOPS_WAREHOUSE": "warehouse",
    "SQLOPS_CATALOG": "catalog",
    "SQLOPS_THREADS": "threads",
}
# lakectl's own variables first, so sqlops's win when both are set
_LAKEFS_ENV = {
    "LAKECTL_SERVER_ENDPOINT_URL": "endpoint",
    "LAKECTL_CREDENTIALS_ACCESS_KEY_ID": "access_key_id",
    "LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY": "secret_access_key",
    "SQLOPS_LAKEFS_ENDPOINT": "endpoint",
    "SQLOPS_LAKEFS_REPOSITORY": "repository",
    "SQLOPS_LAKEFS_STORAGE_NAMESPACE": "storage_namespace",
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
    raw, config_file, text = _read_file(root_path)
    _check_keys(raw, _TOP_KEYS, config_file, text, "")
    for env, key in _ENV_KEYS.items():
        if env in os.environ:
            raw[key] = _coerce(os.environ[env], _TOP_KEYS[key], env)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    engine = raw.pop("engine", {})
    _check_keys(engine, _ENGINE_KEYS, config_file, text, "engine.")
    _check_engine(engine, config_file, text)
    sources = {
        name: _source(name, spec, config_file, text)
        for name, spec in raw.pop("sources", {}).items()
    }
    versions = raw.pop("versions", {})
    backend, lakefs, pre_merge = _versions(versions, config_file, text)
    entities, feature_views = _feature_store(
        raw.pop("entities", {}), raw.pop("feature_views", {}), config_file, text
    )
    relationships = _relationships(raw.pop("relationships", []), sources, config_file, text)
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
        csv_reader=_csv_reader(engine.get("csv_reader", "duckdb")),
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
    )


def _check_engine(engine: Mapping[str, Any], path: Path | None, text: str) -> None:
    """``[engine]`` values, checked here so the error names sqlops.toml and the key rather
    than the warehouse DuckDB refuses to open with them."""
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


def _versions(
    raw: dict[str, Any], path: Path | None, text: str
) -> tuple[str, LakeFSConfig, tuple[str, ...]]:
    """``[versions]``: which backend stores data versions, the lakeFS settings, and the
    pre-merge checks (``"module:function"``) every merge runs first."""
    _check_keys(raw, _VERSIONS_KEYS, path, text, "versions.")
    backend = os.environ.get("SQLOPS_VERSIONS_BACKEND") or raw.get("backend", "local")
    if backend not in VERSION_BACKENDS:
        raise ConfigError(
            f"versions.backend = {backend!r} is not one of {', '.join(VERSION_BACKENDS)}",
            path=path,
            line=line_of(text, "backend"),
        )
    settings = dict(raw.get("lakefs", {}))
    _check_keys(settings, _LAKEFS_KEYS, path, text, "versions.lakefs.")
    for env, key in _LAKEFS_ENV.items():
        if os.environ.get(env):
            settings[key] = os.environ[env]
    checks = raw.get("pre_merge", [])
    for spec in checks:
        if not isinstance(spec, str) or not _CHECK_SPEC.match(spec):
            raise ConfigError(
                f"versions.pre_merge entry {spec!r} is not 'module:function'",
                path=path,
                line=line_of(text, "pre_merge"),
                hint='e.g. pre_merge = ["checks:no_negative_revenue"] for checks.py at the root',
            )
    return backend, LakeFSConfig(**settings), tuple(checks)


def parse_toml(text: str, shown: Path) -> dict[str, Any]:
    """TOML text as a dict; the one place TOML errors become ConfigErrors (with the line)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        raise ConfigError(
            f"invalid TOML: {re.sub(r' [(]at .*[)]', '', str(exc))}",
            path=shown,
            line=int(found.group(1)) if found else None,
            hint="fix the syntax",
        ) from exc


def _read_file(root: Path) -> tuple[dict[str, Any], Path | None, str]:
    for name in (CONFIG_FILE, PYPROJECT):
        path = root / name
        if not path.is_file():
            continue
        text = read_text(path, path.relative_to(root))
        data = parse_toml(text, path.relative_to(root))
        if name == PYPROJECT:
            data = data.get("tool", {}).get("sqlops")
            if data is None:
                continue
        return dict(data), path.relative_to(root), text
    return {}, None, ""


def _check_keys(
    raw: Mapping[str, Any],
    allowed: Mapping[str, type | tuple[type, ...]],
    path: Path | None,
    text: str,
    prefix: str,
    line: Callable[[str], int | None] | None = None,
) -> None:
    """Refuse an unknown key or a value of the wrong type; ``line(key)`` finds the key's line
    (by default its first line in the file)."""
    find = line or (lambda key: line_of(text, key))  # searched only for an error
    for key, value in raw.items():
        if key not in allowed:
            hint = did_you_mean(key, allowed) or f"known keys: {', '.join(sorted(allowed))}"
            raise ConfigError(
                f"unknown config key {prefix}{key}", path=path, line=find(key), hint=hint
            )
        want = allowed[key]
        # no key is boolean, and bool is a subclass of int: True is never a valid value
        if not isinstance(value, want) or isinstance(value, bool):
            types = want if isinstance(want, tuple) else (want,)
            names = " or ".join(t.__name__ for t in types)
            raise ConfigError(
                f"config key {prefix}{key} must be a {names}, got {value!r}",
                path=path,
                line=find(key),
            )


def _source(name: str, spec: Any, path: Path | None, text: str) -> SourceConfig:
    if not isinstance(spec, dict):
        raise ConfigError(f"sources.{name} must be a table", path=path, line=line_of(text, name))
    if name.count(".") != 1:
        raise ConfigError(
            f"source name {name!r} must be schema.table",
            path=path,
            line=line_of(text, name),
            hint=f'write [sources."raw.{name}"]',
        )
    _check_keys(spec, _SOURCE_KEYS, path, text, f"sources.{name}.")
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
        categorical=_names(spec.get("categorical", ())),
    )


def _coerce(value: str, want: type | tuple[type, ...], env: str) -> Any:
    if want is int:
        try:
            return int(value)
        except ValueError as exc:
            raise ConfigError(f"environment variable {env}={value!r} must be an integer") from exc
    return value


def user_name() -> str:
    """Who the version store records as a commit's author when none is given."""
    return os.environ.get("USER") or "sqlops"


def line_of(text: str, key: str) -> int | None:
    """Best-effort line number of ``key`` in TOML text (tomllib does not report positions)."""
    pattern = re.compile(rf'^\s*(\[.*)?"?{re.escape(key)}"?\s*[=\]."]', re.MULTILINE)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _csv_reader(value: str) -> str:
    return "duckdb" if value == "auto" else value


# -- the feature store: [entities.NAME] and [feature_views.NAME] ---------------------------

_ENTITY_KEYS: dict[str, type | tuple[type, ...]] = {"join_keys": (list, str), "description": str}
_VIEW_KEYS: dict[str, type | tuple[type, ...]] = {
    "source": str,
    "entities": (list, str),
    "timestamp": str,
    "created_timestamp": str,
    "ttl": (str, int),
    "features": (list, dict),
    "owner": str,
    "description": str,
    "tags": (list, str),
}
_FEATURE_KEYS: dict[str, type | tuple[type, ...]] = {
    "type": str,
    "description": str,
    "owner": str,
    "tags": (list, str),
}
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_PART = re.compile(r"(\d+)\s*([smhdw])")


def parse_duration(value: object) -> timedelta | None:
    """A duration written like ``"90s"``, ``"1d12h"`` or a number of seconds, or None when
    ``value`` is not one (negative amounts are not durations).

    >>> parse_duration("1d12h")
    datetime.timedelta(days=1, seconds=43200)
    >>> parse_duration("soon") is None
    True
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text == "0":
        return timedelta(0)
    if not text or "-" in text or _DURATION_PART.sub("", text).strip():
        return None
    return timedelta(
        seconds=sum(int(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART.findall(text))
    )


def _feature_store(
    raw_entities: Mapping[str, Any], raw_views: Mapping[str, Any], path: Path | None, text: str
) -> tuple[dict[str, EntityConfig], dict[str, FeatureViewConfig]]:
    """``[entities.*]`` and ``[feature_views.*]``, checked key by key; the sources a view
    reads and the columns it names are checked against the project when it is loaded and
    built."""
    entities = {name: _entity(name, spec, path, text) for name, spec in raw_entities.items()}
    views = {name: _feature_view(name, spec, path, text) for name, spec in raw_views.items()}
    for view in views.values():
        for entity in view.entities:
            if entity not in entities:
                hint = did_you_mean(entity, entities) or (
                    f'declare it: [entities.{entity}] join_keys = ["{entity}_id"]'
                )
                raise ConfigError(
                    f"feature_views.{view.name}.entities names unknown entity {entity}",
                    path=path,
                    line=section_line(text, f"feature_views.{view.name}", "entities"),
                    hint=hint,
                )
    return entities, views


def _entity(name: str, spec: Any, path: Path | None, text: str) -> EntityConfig:
    where = f"entities.{name}"
    line = section_line(text, where)
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} must be a table", path=path, line=line)
    _check_section(spec, _ENTITY_KEYS, path, text, where)
    keys = _names(spec.get("join_keys", ()))
    if not keys:
        raise ConfigError(
            f"{where} has no join_keys",
            path=path,
            line=section_line(text, where, "join_keys"),
            hint='add join_keys = ["<column>"], the column(s) that identify it',
        )
    return EntityConfig(name, keys, spec.get("description", ""), line)


def _feature_view(name: str, spec: Any, path: Path | None, text: str) -> FeatureViewConfig:
    where = f"feature_views.{name}"
    line = section_line(text, where)
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} must be a table", path=path, line=line)
    _check_section(spec, _VIEW_KEYS, path, text, where)
    for key, example in (
        ("source", '"raw.driver_stats"'),
        ("entities", '["driver"]'),
        ("timestamp", '"event_timestamp"'),
        ("features", '["conv_rate"]'),
    ):
        if not spec.get(key):
            raise ConfigError(
                f"{where} has no {key}", path=path, line=line, hint=f"add {key} = {example}"
            )
    ttl = parse_duration(spec.get("ttl", 0))
    if ttl is None or ttl < timedelta(0):
        raise ConfigError(
            f"{where}.ttl = {spec['ttl']!r} is not a duration",
            path=path,
            line=section_line(text, where, "ttl"),
            hint='write it like "90s", "15m", "1h", "1d", "2w" or "1d12h" (0 for no ttl)',
        )
    features = _features(spec["features"], path, text, where)
    return FeatureViewConfig(
        name=name,
        source=spec["source"].lower(),
        entities=_names(spec["entities"]),
        timestamp=spec["timestamp"],
        features=features,
        created_timestamp=spec.get("created_timestamp"),
        ttl=ttl or None,
        owner=spec.get("owner", ""),
        description=spec.get("description", ""),
        tags=_names(spec.get("tags", ())),
        line=line,
    )


def _features(
    raw: list[Any] | dict[str, Any], path: Path | None, text: str, where: str
) -> tuple[FeatureConfig, ...]:
    """A list of names, or a table of name -> {type, description, owner, tags}."""
    if isinstance(raw, list):
        bad = [f for f in raw if not isinstance(f, str) or not f]
        if bad:
            raise ConfigError(
                f"{where}.features lists {bad[0]!r}, not a column name",
                path=path,
                line=section_line(text, where, "features"),
            )
        out = [FeatureConfig(f) for f in raw]
    else:
        out = []
        for name, spec in raw.items():
            at = f"{where}.features.{name}"
            if not isinstance(spec, dict):
                raise ConfigError(
                    f'{at} must be a table like {{type = "double"}}',
                    path=path,
                    line=section_line(text, where, name) or section_line(text, at),
                )
            _check_section(spec, _FEATURE_KEYS, path, text, at)
            out.append(
                FeatureConfig(
                    name,
                    spec.get("type"),
                    spec.get("description", ""),
                    spec.get("owner", ""),
                    _names(spec.get("tags", ())),
                )
            )
    names = [f.name for f in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(
            f"{where}.features lists {twice[0]} twice",
            path=path,
            line=section_line(text, where, "features"),
            hint="list each feature once",
        )
    return tuple(out)


def _check_section(
    raw: Mapping[str, Any],
    allowed: Mapping[str, type | tuple[type, ...]],
    path: Path | None,
    text: str,
    where: str,
) -> None:
    """Like ``_check_keys``, with each line searched inside ``where``'s own section."""
    _check_keys(raw, allowed, path, text, f"{where}.", lambda key: section_line(text, where, key))


def _names(value: str | list[Any] | tuple[Any, ...]) -> tuple[str, ...]:
    """A list of names, or one name / a comma-separated string of them."""
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return tuple(v.strip() for v in items if v.strip())


def section_line(text: str, section: str, key: str | None = None) -> int | None:
    """The line of ``[section]`` (or ``[tool.sqlops.section]``), or of ``key`` inside it;
    falls back to the section's line, then to any line naming the section's last part."""
    lines = text.splitlines()
    parts = section.split(".")
    header = re.compile(
        r"^\s*\[\s*(tool\.sqlops\.)?"
        + r"\s*\.\s*".join(rf'"?{re.escape(p)}"?' for p in parts)
        + r"\s*\]"
    )
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if start is None:
        return line_of(text, key or parts[-1])
    if key is not None:
        named = re.compile(rf'^\s*"?{re.escape(key)}"?\s*[=.]')
        for i in range(start + 1, len(lines)):
            if lines[i].lstrip().startswith("["):
                break
            if named.match(lines[i]):
                return i + 1
    return start + 1


# -- aggregate feature synthesis: [[relationships]] ------------------------------------------

_RELATIONSHIP_KEYS: dict[str, type | tuple[type, ...]] = {"parent": str, "child": str}


def _relationships(
    raw: list[Any], sources: Mapping[str, SourceConfig], path: Path | None, text: str
) -> tuple[RelationshipConfig, ...]:
    """``[[relationships]]``: each side a declared source's ``schema.table.column``, the
    parent's column its ``index`` (featuretools' rule); the columns themselves are checked
    against the data when features are synthesized."""
    text_lines = text.splitlines()
    lines = [i + 1 for i, line in enumerate(text_lines) if _REL_HEADER.match(line)]
    out = []
    for n, spec in enumerate(raw):
        line = lines[n] if n < len(lines) else line_of(text, "relationships")
        child_line = _key_line(text_lines, line, "child")
        where = f"relationships[{n}]"
        if not isinstance(spec, dict):
            raise ConfigError(f"{where} must be a table", path=path, line=line)
        for key, value in spec.items():
            if key not in _RELATIONSHIP_KEYS or not isinstance(value, str):
                raise ConfigError(
                    f"{where}.{key} is not a relationship key with a string value",
                    path=path,
                    line=line,
                    hint='write parent = "raw.customers.customer_id" and '
                    'child = "raw.sessions.customer_id"',
                )
        sides = []
        for key in ("parent", "child"):
            value = spec.get(key, "")
            table, _, column = value.rpartition(".")
            table = table.lower()  # a column keeps its case (the data's, like index)
            if table.count(".") != 1 or not column:
                raise ConfigError(
                    f"{where}.{key} = {value!r} is not schema.table.column",
                    path=path,
                    line=line,
                    hint=f'write {key} = "raw.customers.customer_id"',
                )
            source = sources.get(table)
            if source is None or not source.index:
                raise ConfigError(
                    f"{where}.{key} names {table}, which is not a source with an index",
                    path=path,
                    line=line,
                    hint=did_you_mean(table, sources)
                    or f'declare [sources."{table}"] with index = "<primary key column>"',
                )
            sides.append((table, column, source))
        (ptable, pcol, parent), (ctable, ccol, _) = sides
        if pcol != parent.index:
            raise ConfigError(
                f"{where}.parent names {ptable}.{pcol}, but the index of {ptable} is "
                f"{parent.index}",
                path=path,
                line=line,
                hint=f'write parent = "{ptable}.{parent.index}"',
            )
        out.append(RelationshipConfig(ptable, pcol, ctable, ccol, child_line))
    return tuple(out)


def _key_line(lines: list[str], header: int | None, key: str) -> int | None:
    """The line of ``key = ...`` in the table starting at line ``header``, else ``header``."""
    if header is None:
        return None
    named = re.compile(rf"^\s*{key}\s*=")
    for i in range(header, len(lines)):
        if lines[i].lstrip().startswith("["):
            break
        if named.match(lines[i]):
            return i + 1
    return header


_REL_HEADER = re.compile(r"^\s*\[\[\s*(tool\.sqlops\.)?relationships\s*\]\]")
