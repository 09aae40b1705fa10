"""Feature store: feature views, point-in-time training sets and an embedded online store."""

from sqlops.errors import (
    EntityFrameError,
    FeatureDefinitionError,
    FeatureError,
    OnlineStoreError,
    UnknownFeatureError,
)
from sqlops.features.definitions import (
    Entity,
    Feature,
    FeatureRegistry,
    FeatureView,
    ViewSelection,
    parse_ttl,
)

__all__ = [
    "Entity",
    "EntityFrameError",
    "Feature",
    "FeatureDefinitionError",
    "FeatureError",
    "FeatureRegistry",
    "FeatureView",
    "OnlineStoreError",
    "UnknownFeatureError",
    "ViewSelection",
    "parse_ttl",
]
