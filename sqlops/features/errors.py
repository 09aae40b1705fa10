"""The feature store's errors, defined in ``sqlops/errors.py`` with every other error."""

from __future__ import annotations

from sqlops.errors import (
    EntityFrameError,
    FeatureDefinitionError,
    FeatureError,
    OnlineStoreError,
    UnknownFeatureError,
)

__all__ = [
    "EntityFrameError",
    "FeatureDefinitionError",
    "FeatureError",
    "OnlineStoreError",
    "UnknownFeatureError",
]
