"""The library verbs: the only package that composes the layers.

Every CLI command calls one function here of the same meaning; nothing here prints. Each
module holds one family of verbs; this file only re-exports them.
"""

from __future__ import annotations

from sqlops.api.datafiles import DataAdded
from sqlops.api.lineage import Lineage
from sqlops.api.project import Project, init
from sqlops.api.query import query, run_file, sql, write_output
from sqlops.api.status import Status

__all__ = [
    "DataAdded",
    "Lineage",
    "Project",
    "Status",
    "init",
    "query",
    "run_file",
    "sql",
    "write_output",
]
