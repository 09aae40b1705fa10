"""The feature store's sections: ``[entities.NAME]``, ``[feature_views.NAME]`` and, for
aggregate synthesis, ``[[relationships]]``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlops.config.sources import SourceConfig
from sqlops.config.toml import check_section, key_line, line_of, names, section_line
from sqlops.errors import ConfigError, did_you_mean


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


def feature_store(
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
    check_section(spec, _ENTITY_KEYS, path, text, where)
    keys = names(spec.get("join_keys", ()))
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
    check_section(spec, _VIEW_KEYS, path, text, where)
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
        entities=names(spec["entities"]),
        timestamp=spec["timestamp"],
        features=features,
        created_timestamp=spec.get("created_timestamp"),
        ttl=ttl or None,
        owner=spec.get("owner", ""),
        description=spec.get("description", ""),
        tags=names(spec.get("tags", ())),
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
            check_section(spec, _FEATURE_KEYS, path, text, at)
            out.append(
                FeatureConfig(
                    name,
                    spec.get("type"),
                    spec.get("description", ""),
                    spec.get("owner", ""),
                    names(spec.get("tags", ())),
                )
            )
    listed = [f.name for f in out]
    twice = sorted({n for n in listed if listed.count(n) > 1})
    if twice:
        raise ConfigError(
            f"{where}.features lists {twice[0]} twice",
            path=path,
            line=section_line(text, where, "features"),
            hint="list each feature once",
        )
    return tuple(out)


_RELATIONSHIP_KEYS: dict[str, type | tuple[type, ...]] = {"parent": str, "child": str}


def relationships_config(
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
        child_line = key_line(text_lines, line, "child")
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


_REL_HEADER = re.compile(r"^\s*\[\[\s*(tool\.sqlops\.)?relationships\s*\]\]")
