"""Entities, features and feature views: frozen definitions, ttl parsing, feature references.

A feature view is a relation (a source or model) with join keys (through its entities), an
event-time column, an optional created-time tie-breaker, a ttl and the features it serves.
``FeatureRegistry.select`` turns Feast-style references (``view:feature``, ``view:*``) into
``ViewSelection`` values, the plain input of the point-in-time join and the online store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlops.config import parse_duration
from sqlops.errors import FeatureDefinitionError, UnknownFeatureError, did_you_mean


@dataclass(frozen=True)
class Entity:
    """What features describe (a driver, a customer), identified by its join keys."""

    name: str
    join_keys: tuple[str, ...]
    description: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.join_keys, str):
            object.__setattr__(self, "join_keys", (self.join_keys,))
        object.__setattr__(self, "join_keys", tuple(self.join_keys))
        if not self.join_keys:
            raise FeatureDefinitionError(
                f'entity {self.name} has no join_keys; add join_keys = ["<column>"]'
            )


@dataclass(frozen=True)
class Feature:
    """One column a feature view serves, with its documentation."""

    name: str
    dtype: str | None = None
    description: str | None = None
    owner: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeatureView:
    """A relation with entities, an event-time column, an optional ttl and its features."""

    name: str
    source: str
    entities: tuple[str, ...]
    timestamp: str
    features: tuple[Feature, ...]
    created_timestamp: str | None = None
    ttl: timedelta | None = None
    owner: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.entities, str):
            object.__setattr__(self, "entities", (self.entities,))
        object.__setattr__(self, "entities", tuple(self.entities))
        features = tuple(Feature(f) if isinstance(f, str) else f for f in self.features)
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "ttl", parse_ttl(self.ttl, self.name))
        names = [f.name for f in features]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise FeatureDefinitionError(
                f"feature view {self.name} lists feature {dupes[0]} twice; list each feature once"
            )

    def feature(self, name: str) -> Feature:
        """The named feature, or a one-line error with the closest names."""
        for f in self.features:
            if f.name == name:
                return f
        hint = did_you_mean(name, [f.name for f in self.features])
        raise UnknownFeatureError(
            f"feature view {self.name} has no feature {name}"
            + (f"; {hint}" if hint else f"; it has {', '.join(f.name for f in self.features)}")
        )


def parse_ttl(value: object, view: str = "<view>") -> timedelta | None:
    """A ttl as a timedelta, or None for no ttl (None, 0, "0", "0s" — Feast's zero ttl).

    >>> parse_ttl("1d12h")
    datetime.timedelta(days=1, seconds=43200)
    >>> parse_ttl(0) is None
    True
    """
    if value is None:
        return None
    ttl = parse_duration(value)
    if ttl is None:
        raise FeatureDefinitionError(
            f"feature view {view}: ttl {value!r} is not a duration; "
            'write it like "90s", "15m", "1h", "1d", "2w" or "1d12h" (0 for no ttl)'
        )
    if ttl < timedelta(0):
        raise FeatureDefinitionError(
            f"feature view {view}: ttl {value!r} is negative; use a positive duration or 0"
        )
    return None if ttl == timedelta(0) else ttl


@dataclass(frozen=True)
class ViewSelection:
    """One view's part of a request: where its rows are and which columns come out as what.

    ``relation`` is inserted verbatim after FROM (a table or view name, or a parenthesized
    query); ``outputs`` pairs each requested feature with its output column name.
    """

    view: FeatureView
    relation: str
    join_keys: tuple[str, ...]
    outputs: tuple[tuple[str, str], ...]

    @property
    def name(self) -> str:
        return self.view.name


@dataclass(frozen=True)
class FeatureRegistry:
    """Every entity and feature view of a project, checked against each other."""

    entities: Mapping[str, Entity] = field(default_factory=dict)
    views: Mapping[str, FeatureView] = field(default_factory=dict)

    @classmethod
    def of(cls, entities: Iterable[Entity], views: Iterable[FeatureView]) -> FeatureRegistry:
        """Build a registry, refusing views that name an unknown entity."""
        registry = cls({e.name: e for e in entities}, {v.name: v for v in views})
        for view in registry.views.values():
            registry.join_keys(view)
        return registry

    def join_keys(self, view: FeatureView) -> tuple[str, ...]:
        """The view's join keys: its entities' keys, in order, each once."""
        keys: list[str] = []
        for name in view.entities:
            entity = self.entities.get(name)
            if entity is None:
                hint = did_you_mean(name, self.entities)
                raise FeatureDefinitionError(
                    f"feature view {view.name} names unknown entity {name}"
                    + (f"; {hint}" if hint else "; declare it under [entities]")
                )
            keys.extend(k for k in entity.join_keys if k not in keys)
        return tuple(keys)

    def view(self, name: str) -> FeatureView:
        """The named view, or a one-line error with the closest names."""
        found = self.views.get(name)
        if found is None:
            hint = did_you_mean(name, self.views)
            known = ", ".join(sorted(self.views)) or "none declared"
            raise UnknownFeatureError(
                f"unknown feature view {name}" + (f"; {hint}" if hint else f" (known: {known})")
            )
        return found

    def select(
        self,
        features: Sequence[str],
        *,
        full_feature_names: bool = False,
        relations: Mapping[str, str] | None = None,
    ) -> list[ViewSelection]:
        """Resolve ``view:feature`` / ``view:*`` references, grouped by view in first-use order.

        ``relations`` overrides where a view's rows are read (e.g. a version of its source);
        by default the view's ``source``.
        """
        if isinstance(features, str):
            features = [features]
        chosen: dict[str, list[str]] = {}
        for ref in features:
            view_name, feature = split_ref(ref)
            view = self.view(view_name)
            names = [f.name for f in view.features] if feature == "*" else [feature]
            for name in names:
                view.feature(name)
                picked = chosen.setdefault(view_name, [])
                if name not in picked:
                    picked.append(name)
        selections = []
        owners: dict[str, str] = {}
        for view_name, names in chosen.items():
            view = self.views[view_name]
            outputs = []
            for name in names:
                out = f"{view_name}__{name}" if full_feature_names else name
                if out in owners:
                    raise UnknownFeatureError(
                        f"feature name {name} comes from both {owners[out]} and {view_name}; "
                        "pass full_feature_names=True to name them view__feature"
                    )
                owners[out] = view_name
                outputs.append((name, out))
            relation = (relations or {}).get(view_name, view.source)
            selections.append(ViewSelection(view, relation, self.join_keys(view), tuple(outputs)))
        return selections


def split_ref(ref: str) -> tuple[str, str]:
    """A ``view:feature`` (or ``view:*``) reference's two parts; the one parser of them."""
    view, sep, feature = ref.partition(":")
    if not sep or not view or not feature or ":" in feature:
        raise UnknownFeatureError(
            f"feature reference {ref!r} is not view:feature; write it like "
            '"driver_hourly_stats:conv_rate" or "driver_hourly_stats:*"'
        )
    return view, feature
