"""``Project``, one object per project folder whose verbs come from one mixin per family
(each in the module named for what it does), and ``init``, which makes a new one."""

from __future__ import annotations

import functools
from pathlib import Path

from sqlops.api.branches import BranchesMixin
from sqlops.api.datafiles import DataFilesMixin
from sqlops.api.features import FeatureStore
from sqlops.api.gc import GcMixin
from sqlops.api.lineage import LineageMixin
from sqlops.api.merge import MergeMixin
from sqlops.api.models import ModelRegistry
from sqlops.api.report import ReportMixin
from sqlops.api.roles import RoleMixin
from sqlops.api.status import StatusMixin


class Project(
    StatusMixin,
    DataFilesMixin,
    MergeMixin,
    BranchesMixin,
    LineageMixin,
    GcMixin,
    ReportMixin,
    RoleMixin,
):
    """A sqlops project on disk: ``Project(".").build()``.

    Args:
        path: the project folder (found upwards from the cwd when omitted).
        **overrides: config values that win over the files and environment, e.g.
            ``threads=8``.
    """

    @functools.cached_property
    def features(self) -> FeatureStore:
        """The project's feature store (``sqlops.FeatureStore``)."""
        return FeatureStore(self)

    @functools.cached_property
    def models(self) -> ModelRegistry:
        """The project's model registry: saved versions, approvals, stages, model cards."""
        return ModelRegistry(self)


def init(path: Path | str = ".") -> list[Path]:
    """Scaffold a project that builds immediately; returns the files written."""
    from sqlops.project.scaffold import scaffold

    return scaffold(Path(path))
