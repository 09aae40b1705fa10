"""sqlops: SQL models built into an embedded DuckDB warehouse, plus the rest of MLOps.

The public API; everything else is private and may change. Names are imported on first
use (PEP 562) so that ``sqlops --help`` does not pay for DuckDB, Polars and sqlglot.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sqlops._version import __version__ as __version__

_EXPORTS = {
    "BuildFailed": "sqlops.errors",
    "BuildResult": "sqlops.execute.results",
    "CheckFailure": "sqlops.versioning.checks",
    "ChecksFailed": "sqlops.errors",
    "CommitConflict": "sqlops.errors",
    "ConfigError": "sqlops.errors",
    "CorruptObject": "sqlops.errors",
    "CycleError": "sqlops.errors",
    "DiskFull": "sqlops.errors",
    "DuplicateModelError": "sqlops.errors",
    "Entity": "sqlops.features.definitions",
    "EntityFrameError": "sqlops.errors",
    "Event": "sqlops.execute.results",
    "ExecutionError": "sqlops.errors",
    "Feature": "sqlops.features.definitions",
    "TransformError": "sqlops.errors",
    "FeatureDefinitionError": "sqlops.errors",
    "FeatureError": "sqlops.errors",
    "FeatureStore": "sqlops.api.features",
    "FeatureView": "sqlops.features.definitions",
    "FileAccessError": "sqlops.errors",
    "Lineage": "sqlops.api",
    "LockedError": "sqlops.errors",
    "MergeCandidate": "sqlops.versioning.checks",
    "MergeConflict": "sqlops.errors",
    "ModelParseError": "sqlops.errors",
    "NodeResult": "sqlops.execute.results",
    "OnlineStoreError": "sqlops.errors",
    "OutputError": "sqlops.errors",
    "Plan": "sqlops.plan.planner",
    "PlanError": "sqlops.errors",
    "PlannedNode": "sqlops.plan.planner",
    "Project": "sqlops.api",
    "ProjectError": "sqlops.errors",
    "RefNotFound": "sqlops.errors",
    "SelectionError": "sqlops.errors",
    "SourceError": "sqlops.errors",
    "SqlopsError": "sqlops.errors",
    "Status": "sqlops.api",
    "SynthesisError": "sqlops.errors",
    "TableChange": "sqlops.versioning.workspace",
    "UncommittedChanges": "sqlops.errors",
    "UnknownFeatureError": "sqlops.errors",
    "UnknownTableError": "sqlops.errors",
    "VersioningError": "sqlops.errors",
    "init": "sqlops.api",
    "model": "sqlops.project.pymodel",
    "query": "sqlops.api",
    "run_file": "sqlops.api",
    "sql": "sqlops.api",
    "write_output": "sqlops.api",
}

__all__ = [
    "BuildFailed",
    "BuildResult",
    "CheckFailure",
    "ChecksFailed",
    "CommitConflict",
    "ConfigError",
    "CorruptObject",
    "CycleError",
    "DiskFull",
    "DuplicateModelError",
    "Entity",
    "EntityFrameError",
    "Event",
    "ExecutionError",
    "Feature",
    "FeatureDefinitionError",
    "FeatureError",
    "FeatureStore",
    "FeatureView",
    "FileAccessError",
    "Lineage",
    "LockedError",
    "MergeCandidate",
    "MergeConflict",
    "ModelParseError",
    "NodeResult",
    "OnlineStoreError",
    "OutputError",
    "Plan",
    "PlanError",
    "PlannedNode",
    "Project",
    "ProjectError",
    "RefNotFound",
    "SelectionError",
    "SourceError",
    "SqlopsError",
    "Status",
    "SynthesisError",
    "TableChange",
    "TransformError",
    "UncommittedChanges",
    "UnknownFeatureError",
    "UnknownTableError",
    "VersioningError",
    "init",
    "model",
    "query",
    "run_file",
    "sql",
    "write_output",
]

if TYPE_CHECKING:
    from sqlops.api import Lineage, Project, Status, init, query, run_file, sql, write_output
    from sqlops.api.features import FeatureStore
    from sqlops.errors import (
        BuildFailed,
        ChecksFailed,
        CommitConflict,
        ConfigError,
        CorruptObject,
        CycleError,
        DiskFull,
        DuplicateModelError,
        EntityFrameError,
        ExecutionError,
        FeatureDefinitionError,
        FeatureError,
        FileAccessError,
        LockedError,
        MergeConflict,
        ModelParseError,
        OnlineStoreError,
        OutputError,
        PlanError,
        ProjectError,
        RefNotFound,
        SelectionError,
        SourceError,
        SqlopsError,
        SynthesisError,
        UncommittedChanges,
        UnknownFeatureError,
        UnknownTableError,
        VersioningError,
    )
    from sqlops.execute.results import BuildResult, Event, NodeResult
    from sqlops.features.definitions import Entity, Feature, FeatureView
    from sqlops.plan.planner import Plan, PlannedNode
    from sqlops.project.pymodel import model
    from sqlops.versioning.checks import CheckFailure, MergeCandidate
    from sqlops.versioning.workspace import TableChange


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:  # ``sqlops.checks.freshness(...)`` without importing it first
        return importlib.import_module(f"sqlops.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sqlops' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


# the model registry (issue 13)
_EXPORTS.update({"RegisteredModel": "sqlops.api.registry", "RegistryError": "sqlops.errors"})
__all__ = sorted([*__all__, "RegisteredModel", "RegistryError"])
if TYPE_CHECKING:
    from sqlops.api.registry import RegisteredModel as RegisteredModel
    from sqlops.errors import RegistryError as RegistryError

# data governance (issue 18)
_GOVERNANCE_ERRORS = [
    "ApprovalError",
    "AuditError",
    "ContractError",
    "ContractFailed",
    "GovernanceError",
    "MonitorError",
    "PolicyDenied",
    "PolicyError",
    "PrivacyError",
]
_EXPORTS.update(dict.fromkeys(_GOVERNANCE_ERRORS, "sqlops.errors"))
_EXPORTS.update(
    {
        "CheckReport": "sqlops.governance.results",
        "CheckResult": "sqlops.governance.results",
        "ModelRegistry": "sqlops.api.models",
    }
)
_SUBMODULES = ("checks",)  # sqlops' pandera checks, for contracts
__all__ = sorted([*__all__, *_GOVERNANCE_ERRORS, "CheckReport", "CheckResult", "ModelRegistry"])
if TYPE_CHECKING:
    from sqlops.api.models import ModelRegistry as ModelRegistry
    from sqlops.errors import ApprovalError as ApprovalError
    from sqlops.errors import AuditError as AuditError
    from sqlops.errors import ContractError as ContractError
    from sqlops.errors import ContractFailed as ContractFailed
    from sqlops.errors import GovernanceError as GovernanceError
    from sqlops.errors import MonitorError as MonitorError
    from sqlops.errors import PolicyDenied as PolicyDenied
    from sqlops.errors import PolicyError as PolicyError
    from sqlops.errors import PrivacyError as PrivacyError
    from sqlops.governance.results import CheckReport as CheckReport
    from sqlops.governance.results import CheckResult as CheckResult
