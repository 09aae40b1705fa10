"""A project's feature registry: the entities and feature views declared in the config
(``[entities.*]``, ``[feature_views.*]``) and in Python modules (``sqlops.Entity(...)``,
``sqlops.FeatureView(...)`` at module level of a file the project loads, like Python models).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlops.config import Config, section_line
from sqlops.errors import ConfigError, FeatureDefinitionError, did_you_mean
from sqlops.features.definitions import Entity, Feature, FeatureRegistry, FeatureView

# the loader imports ``sql/**/*.py`` files as modules named under this package
MODEL_MODULES = "sqlops_models."


def project_registry(
    config: Config,
    relations: Iterable[str],
    declared: list[tuple[Entity | FeatureView, str]] | None = None,
) -> FeatureRegistry:
    """Every entity and view of the project, each view's relation checked to exist.

    Call it after loading the project, which imports its Python files; ``declared`` is
    ``python_declarations(config)`` when the caller has already walked the modules."""
    known = set(relations)
    entities: dict[str, Entity] = {}
    views: dict[str, FeatureView] = {}
    for name, spec in config.entities.items():
        entities[name] = _config_object(
            config, f"entities.{name}", lambda s=spec: Entity(s.name, s.join_keys, s.description)
        )
    for name, vspec in config.feature_views.items():
        views[name] = _config_object(config, f"feature_views.{name}", lambda s=vspec: _view(s))
    if declared is None:
        declared = python_declarations(config)
    for obj, where in declared:
        target: dict[str, Any] = entities if isinstance(obj, Entity) else views
        kind = "entity" if isinstance(obj, Entity) else "feature view"
        if obj.name in target and target[obj.name] != obj:
            raise FeatureDefinitionError(
                f"{where}: {kind} {obj.name} is declared twice (also in the config or another "
                "module); give one of them another name"
            )
        target[obj.name] = obj
    for view in views.values():
        if f"features.{view.name}" in known:  # its DuckDB view would replace that relation
            raise ConfigError(
                f"feature view {view.name} would be the view features.{view.name}, which is "
                "already a model or source",
                path=config.config_file,
                line=_line(config, f"feature_views.{view.name}", None),
                hint="give the feature view another name",
            )
        if view.source not in known:
            hint = did_you_mean(view.source, known) or "declare it under [sources] or as a model"
            raise ConfigError(
                f"feature_views.{view.name}.source names unknown source or model {view.source}",
                path=config.config_file,
                line=_line(config, f"feature_views.{view.name}", "source"),
                hint=hint,
            )
    try:
        return FeatureRegistry.of(entities.values(), views.values())
    except FeatureDefinitionError as exc:
        raise FeatureDefinitionError(f"{_where(config)}{exc}") from exc


def _view(spec: Any) -> FeatureView:
    return FeatureView(
        name=spec.name,
        source=spec.source,
        entities=spec.entities,
        timestamp=spec.timestamp,
        features=tuple(
            Feature(f.name, f.type, f.description or None, f.owner or None, f.tags)
            for f in spec.features
        ),
        created_timestamp=spec.created_timestamp,
        ttl=spec.ttl,
        owner=spec.owner or None,
        description=spec.description or None,
        tags=spec.tags,
    )


def _config_object(config: Config, where: str, make: Any) -> Any:
    try:
        return make()
    except FeatureDefinitionError as exc:
        raise ConfigError(
            str(exc), path=config.config_file, line=_line(config, where, None)
        ) from exc


def _line(config: Config, section: str, key: str | None) -> int | None:
    if config.config_file is None:
        return None
    path = config.root / config.config_file
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    return section_line(text, section, key)


def _where(config: Config) -> str:
    return f"{config.config_file}: " if config.config_file else ""


def python_declarations(config: Config) -> list[tuple[Entity | FeatureView, str]]:
    """Entities and feature views bound to names in the project's imported Python files."""
    found: list[tuple[Entity | FeatureView, str]] = []
    extra = set(config.python_models)
    for name, module in sorted(sys.modules.items()):
        if not (name.startswith(MODEL_MODULES) or name in extra):
            continue
        file = getattr(module, "__file__", None)
        if file is None or not Path(file).resolve().is_relative_to(config.root):
            continue
        rel = Path(file).resolve().relative_to(config.root)
        for value in vars(module).values():
            if isinstance(value, Entity | FeatureView):
                found.append((value, rel.as_posix()))
    return found
