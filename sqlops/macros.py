"""The built-in SQL macro library, registered on every DuckDB connection sqlops opens.

The ETL steps of a typical ML pipeline (deduplicate, drop nulls, normalise, fill nulls, clip or
remove outliers, summary statistics) are written once as DuckDB macros in ``macros.sql`` so any
SQL model can call them. This module is a stdlib-only leaf: it exposes the SQL text, the macro
names and which table-macro arguments name tables (for the dependency parser), and registers the
macros on a connection.
"""

from __future__ import annotations

from importlib import resources
from typing import Protocol

__all__ = ["MACRO_NAMES", "MACRO_SQL", "TABLE_MACROS", "register_macros"]

MACRO_SQL: str = resources.files("sqlops").joinpath("macros.sql").read_text(encoding="utf-8")
"""The ``CREATE OR REPLACE TEMP MACRO`` statements of ``macros.sql``."""

TABLE_MACROS: dict[str, tuple[int, ...]] = {
    "deduplicate": (0,),
    "drop_nulls": (0,),
    "remove_outliers": (0,),
    "trim_quantiles": (0,),
    "summary_stats": (0,),
}
"""Table macro name -> 0-based positions of the arguments that are table names.

``FROM deduplicate('raw.orders')`` reads ``raw.orders``. Positions hold for every overload.
"""

MACRO_NAMES: frozenset[str] = frozenset(
    {
        *TABLE_MACROS,
        "zscore",
        "zscore_samp",
        "minmax",
        "clip",
        "clip_quantile",
        "fill_null_mean",
        "fill_null_median",
        "_sqlops_require_columns",
        "_sqlops_numeric",
    }
)
"""Every macro defined by ``MACRO_SQL``, including the internal ``_sqlops_*`` helpers."""


class SupportsExecute(Protocol):
    """Anything with a DuckDB-like ``execute``, such as ``duckdb.DuckDBPyConnection``."""

    def execute(self, query: str, /) -> object:
        """Run one or more SQL statements."""
        ...


def register_macros(con: SupportsExecute) -> None:
    """Create (or replace) the sqlops macros on a connection.

    The macros are TEMP, so they live only as long as ``con``: nothing is written to the
    database file and read-only connections work. Cursors from ``con.cursor()`` are separate
    connections and need their own call.

    Args:
        con: An open DuckDB connection.
    """
    con.execute(MACRO_SQL)
