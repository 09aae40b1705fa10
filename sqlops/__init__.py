"""sqlops: SQL models built into an embedded DuckDB warehouse, plus the rest of MLOps.

The public API; everything else is private and may change. Names are imported on first
use (PEP 562) so that ``sqlops --help`` does not pay for DuckDB, Polars and sqlglot.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "BuildFailed": "sqlops.errors",
    "BuildResult": "sqlops.execute.results",
    "ConfigError": "sqlops.errors",
    "CycleError": "sqlops.errors",
    "DuplicateModelError": "sqlops.errors",
    "Event": "sqlops.execute.results",
    "ExecutionError": "sqlops.errors",
    "Lineage": "sqlops.api",
    "LockedError": "sqlops.errors",
    "ModelParseError": "sqlops.errors",
    "NodeResult": "sqlops.execute.results",
    "Plan": "sqlops.plan.planner",
    "PlanError": "sqlops.errors",
    "PlannedNode": "sqlops.plan.planner",
    "Project": "sqlops.api",
    "ProjectError": "sqlops.errors",
    "SelectionError": "sqlops.errors",
    "SourceError": "sqlops.errors",
    "SqlopsError": "sqlops.errors",
    "UnknownTableError": "sqlops.errors",
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
    "ConfigError",
    "CycleError",
    "DuplicateModelError",
    "Event",
    "ExecutionError",
    "Lineage",
    "LockedError",
    "ModelParseError",
    "NodeResult",
    "Plan",
    "PlanError",
    "PlannedNode",
    "Project",
    "ProjectError",
    "SelectionError",
    "SourceError",
    "SqlopsError",
    "UnknownTableError",
    "init",
    "model",
    "query",
    "run_file",
    "sql",
    "write_output",
]

if TYPE_CHECKING:
    from sqlops.api import Lineage, Project, init, query, run_file, sql, write_output
    from sqlops.errors import (
        BuildFailed,
        ConfigError,
        CycleError,
        DuplicateModelError,
        ExecutionError,
        LockedError,
        ModelParseError,
        PlanError,
        ProjectError,
        SelectionError,
        SourceError,
        SqlopsError,
        UnknownTableError,
    )
    from sqlops.execute.results import BuildResult, Event, NodeResult
    from sqlops.plan.planner import Plan, PlannedNode
    from sqlops.project.pymodel import model


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sqlops' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
