"""The feature store's errors (to move into ``sqlops/errors.py`` when the store is wired in).

::

    SqlopsError
    └── FeatureError              base of every feature-store mistake
        ├── FeatureDefinitionError   an entity or feature view that is not valid (bad ttl, ...)
        ├── UnknownFeatureError      a feature reference naming no view or no feature
        ├── EntityFrameError         an entity frame missing a key or timestamp, or mistyped
        └── OnlineStoreError         the online store is missing, stale or was given bad rows
"""

from __future__ import annotations

from sqlops.errors import SqlopsError


class FeatureError(SqlopsError):
    """A mistake in a feature definition, reference or request."""


class FeatureDefinitionError(FeatureError):
    """An entity or feature view definition that cannot be used."""


class UnknownFeatureError(FeatureError):
    """A feature reference (``view:feature``) that names nothing known."""


class EntityFrameError(FeatureError):
    """An entity frame (or feature source) whose columns do not fit the request."""


class OnlineStoreError(FeatureError):
    """The online store cannot answer: not materialized, or bad entity rows."""
