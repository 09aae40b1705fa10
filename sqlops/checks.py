"""sqlops' pandera checks, for contracts: ``from sqlops import checks``.

Importing this registers them with pandera (``pandera.Check.freshness(...)`` then works too).
Each function returns an ordinary ``pandera.Check``; see ``sqlops.governance.checks``.
"""

from __future__ import annotations

from sqlops.governance.checks import aggregate_check as aggregate
from sqlops.governance.checks import freshness_check as freshness
from sqlops.governance.checks import mostly_check as mostly
from sqlops.governance.checks import not_missing_check as not_missing
from sqlops.governance.checks import quantile_check as quantile
from sqlops.governance.checks import references_check as references
from sqlops.governance.checks import row_count_check as row_count
from sqlops.governance.checks import row_count_vs_check as row_count_vs

__all__ = [
    "aggregate",
    "freshness",
    "mostly",
    "not_missing",
    "quantile",
    "references",
    "row_count",
    "row_count_vs",
]
