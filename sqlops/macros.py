"""The built-in SQL macro library: stored in the warehouse, hashed into fingerprints.

The ETL steps of a typical ML pipeline (deduplicate, drop nulls, normalise, fill nulls, clip or
remove outliers, summary statistics) are written once as DuckDB macros in ``macros.sql`` so any
SQL model can call them. The warehouse stores them (so its views bind in any DuckDB client);
connections that cannot write get them as TEMP macros. Each macro is hashed with the macros it
calls, and a model's fingerprint includes the hashes of the macros it calls, so changing one
rebuilds exactly its users. This module is a stdlib-only leaf: it exposes the SQL text, the
macro names and which table-macro arguments name tables (for the dependency parser).
"""

from __future__ import annotations

import functools
import hashlib
import re
from importlib import resources
from typing import Protocol

__all__ = [
    "MACRO_NAMES",
    "MACRO_SQL",
    "TABLE_MACROS",
    "library_hash",
    "macro_digest",
    "macro_names",
    "may_window",
    "register_macros",
    "temp_sql",
]

MACRO_SQL: str = resources.files("sqlops").joinpath("macros.sql").read_text(encoding="utf-8")
"""The ``CREATE OR REPLACE MACRO`` statements of ``macros.sql`` (read at call time by the
functions below, so a test can change it)."""

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


class SupportsExecute(Protocol):
    """Anything with a DuckDB-like ``execute``, such as ``duckdb.DuckDBPyConnection``."""

    def execute(self, query: str, /) -> object:
        """Run one or more SQL statements."""
        ...


def register_macros(con: SupportsExecute) -> None:
    """Create (or replace) the sqlops macros as TEMP macros on a connection.

    TEMP macros live only as long as ``con`` and take precedence over stored ones, so this
    works on read-only connections and on a warehouse that stores another version of the
    library. Cursors from ``con.cursor()`` are separate connections and need their own call.

    Args:
        con: An open DuckDB connection.
    """
    con.execute(temp_sql())


def temp_sql() -> str:
    """``MACRO_SQL`` with every macro created TEMP."""
    return _CREATE.sub(r"CREATE OR REPLACE TEMP MACRO \1", MACRO_SQL)


def library_hash() -> str:
    """A hash of the whole library text: a warehouse storing another one gets this one."""
    return _hash(MACRO_SQL)


def macro_names() -> list[str]:
    """The names of the macros ``MACRO_SQL`` defines, in file order."""
    return list(_definitions(MACRO_SQL))


def macro_digest(sql: str) -> str:
    """A hash of the macros a query calls, each with the macros it calls; ``""`` if none.

    Calls are found by name followed by ``(`` (case-insensitive, quoted or not): a mention
    in a comment or string only costs a rebuild, and no call is missed. Comments in
    ``macros.sql`` are not hashed.

    >>> macro_digest("select 1") == "" and macro_digest("select zscore(x)") != ""
    True
    >>> macro_digest("select ZScore (x)") == macro_digest("select zscore(y)")
    True
    """
    hashes, _ = _hashes(MACRO_SQL)
    called = sorted(_called(sql.lower()))
    return _hash("\n".join(f"{name} {hashes[name]}" for name in called)) if called else ""


_OVER = re.compile(r"(?<![\w$])over(?![\w$])")


def may_window(sql: str) -> bool:
    """Whether a query may hold a window function: it says ``OVER`` or calls a macro that
    does. A cheap text test (a mention in a comment counts) that lets callers skip asking
    DuckDB for a plan when none can have a window.

    >>> may_window("select zscore(x) from t"), may_window("select clip(x, 0, 1) from t")
    (True, False)
    >>> may_window("select sum(x) OVER () from t"), may_window("select overall from t")
    (True, False)
    """
    lowered = sql.lower()
    return bool(_OVER.search(lowered)) or bool(_called(lowered) & _windowed(MACRO_SQL))


def _called(lowered: str) -> set[str]:
    """The library's macros a lower-cased query calls."""
    hashes, pattern = _hashes(MACRO_SQL)
    if not any(name in lowered for name in hashes):  # 15x cheaper than the pattern
        return set()
    return set(pattern.findall(lowered))


@functools.lru_cache(maxsize=4)
def _windowed(text: str) -> frozenset[str]:
    """The macros whose statement holds a window, directly or through a macro it calls."""
    bodies = _definitions(text)
    _, pattern = _hashes(text)
    direct = {name for name, body in bodies.items() if _OVER.search(body.lower())}
    found = set(direct)
    changed = True
    while changed:
        changed = False
        for name, body in bodies.items():
            if name not in found and set(pattern.findall(body.lower())) & found:
                found.add(name)
                changed = True
    return frozenset(found)


_CREATE = re.compile(r"^CREATE OR REPLACE MACRO (\w+)\b", re.MULTILINE)


def _definitions(text: str) -> dict[str, str]:
    """Each macro's CREATE statement, without comment lines, by name."""
    starts = list(_CREATE.finditer(text))
    ends = [m.start() for m in starts[1:]] + [len(text)]
    return {
        m.group(1).lower(): "\n".join(
            line
            for line in text[m.start() : end].splitlines()
            if not line.lstrip().startswith("--")
        ).strip()
        for m, end in zip(starts, ends, strict=True)
    }


@functools.lru_cache(maxsize=4)
def _hashes(text: str) -> tuple[dict[str, str], re.Pattern[str]]:
    """Per macro, the hash of its statement and of every macro it calls (transitively);
    and the pattern that finds calls of the library's macros."""
    bodies = _definitions(text)
    names = sorted(bodies, key=len, reverse=True)  # longest first: zscore_samp before zscore
    # applied to lower-cased SQL (names are case-insensitive): 2x faster than IGNORECASE
    pattern = re.compile(r'(?<![\w$])"?(' + "|".join(names) + r')"?\s*\(')
    calls = {name: set(pattern.findall(body.lower())) - {name} for name, body in bodies.items()}
    hashes = {}
    for name in bodies:
        seen, todo = {name}, [name]
        while todo:
            for callee in calls[todo.pop()] - seen:
                seen.add(callee)
                todo.append(callee)
        hashes[name] = _hash("\n".join(bodies[n] for n in sorted(seen)))
    return hashes, pattern


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


MACRO_NAMES: frozenset[str] = frozenset(_definitions(MACRO_SQL))
"""Every macro defined by ``MACRO_SQL``, including the internal ``_sqlops_*`` helpers."""
