"""k-anonymity of a table's declared quasi-identifiers (``quasi_identifier = true``): rows
that share every quasi-identifier form an equivalence class, and a class smaller than k
singles its people out. Counted in DuckDB (one GROUP BY), NULL being a value of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlops.config.governance import ColumnPolicy
from sqlops.errors import PrivacyError
from sqlops.execute.engine import Engine
from sqlops.governance.anonymize import column_expression, quote

DEFAULT_K = 5


@dataclass(frozen=True)
class KAnonymity:
    """The smallest equivalence class over ``quasi_identifiers`` and how many rows (and
    what share of all rows) sit in classes under ``k``; an empty table gives 0, 0, 0.0."""

    table: str
    quasi_identifiers: tuple[str, ...]
    k: int
    smallest_class: int
    rows_under_k: int
    share_under_k: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "quasi_identifiers": list(self.quasi_identifiers),
            "k": self.k,
            "smallest_class": self.smallest_class,
            "rows_under_k": self.rows_under_k,
            "share_under_k": self.share_under_k,
        }


def quasi_identifiers(declared: Mapping[str, ColumnPolicy]) -> tuple[str, ...]:
    return tuple(name for name, policy in declared.items() if policy.quasi_identifier)


def k_anonymity(
    engine: Engine,
    relation: str,
    table: str,
    declared: Mapping[str, ColumnPolicy],
    *,
    k: int = DEFAULT_K,
    anonymized: Mapping[str, str] | None = None,
) -> KAnonymity | None:
    """k-anonymity of ``relation`` (SQL naming ``table``'s data) over the quasi-identifiers
    ``declared`` marks, or None when it marks none.

    ``anonymized`` (column -> DuckDB type) measures what a role reading anonymized sees:
    each quasi-identifier through its rule (a generalized birth date by its year); a
    ``hash`` keeps the classes as they are, so the raw column stands for it, and a
    ``drop``ped one leaves the grouping.
    """
    if k < 1:
        raise PrivacyError(f"{table}: k = {k} must be at least 1", hint="e.g. k = 5")
    keys: list[str] = []
    names: list[str] = []
    for name in quasi_identifiers(declared):
        expr: str | None = quote(name)
        policy = declared[name]
        if anonymized is not None and policy.anonymize not in (None, "hash"):
            expr = column_expression(policy, quote(name), anonymized.get(name, ""))
        if expr is not None:
            keys.append(expr)
            names.append(name)
    if not names:
        return None
    sql = (
        f"SELECT min(n), coalesce(sum(n) FILTER (WHERE n < {int(k)}), 0), coalesce(sum(n), 0) "
        f"FROM (SELECT count(*) AS n FROM {relation} GROUP BY {', '.join(keys)})"
    )
    row = engine.execute(sql).fetchall()[0]
    smallest, under, rows = int(row[0] or 0), int(row[1]), int(row[2])
    return KAnonymity(table, tuple(names), k, smallest, under, under / rows if rows else 0.0)
