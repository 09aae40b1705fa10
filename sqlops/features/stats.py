"""Per-feature statistics (Feast's set), computed in DuckDB in two scans of a relation.

The first scan computes every scalar of every column at once: row count, null count and
rate, distinct count, mean, std (sample, as pandas and Feast), min, max and the exact
percentiles p50/p75/p90/p95/p99. The second computes the histograms, which need the first
scan's range: numeric columns get ``BINS`` equal-width bins between min and max (or the
``edges`` given, so later data is compared on the same bins), other columns their ``TOP``
most frequent values and a count of the rest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlops.execute.engine import Engine
from sqlops.execute.materialize import quote

BINS = 10
TOP = 10
PERCENTILES = (0.5, 0.75, 0.9, 0.95, 0.99)
# a categorical histogram is read whole (one map per column) while this small, else with a
# GROUP BY ... LIMIT of its own
_MAP_LIMIT = 1000
_NUMERIC = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)


def is_numeric(dtype: str) -> bool:
    return dtype.split("(")[0] in _NUMERIC


def feature_stats(
    con: Engine,
    relation: str,
    types: Mapping[str, str],
    edges: Mapping[str, Sequence[float]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Statistics of each column in ``types`` (name -> DuckDB type) of ``relation``.

    ``edges`` fixes a numeric column's histogram bins (values outside fall in the first or
    last bin's ``below``/``above`` counts).
    """
    if not types:
        return {}
    names = list(types)
    parts = ["count(*)"]
    for name in names:
        col = quote(name)
        parts.append(f"count({col}), count(DISTINCT {col})")
        if is_numeric(types[name]):
            value = f"CAST({col} AS DOUBLE)"
            quantiles = ", ".join(str(p) for p in PERCENTILES)
            parts.append(
                f"avg({value}), stddev_samp({value}), min({value}), max({value}), "
                f"quantile_cont({value}, [{quantiles}])"
            )
        else:
            parts.append(f"min({col}), max({col})")
    row = con.execute(f"SELECT {', '.join(parts)} FROM {relation}").fetchall()[0]
    total = int(row[0])
    out: dict[str, dict[str, Any]] = {}
    at = 1
    for name in names:
        numeric = is_numeric(types[name])
        present, distinct = int(row[at]), int(row[at + 1])
        stats: dict[str, Any] = {
            "type": types[name],
            "rows": total,
            "nulls": total - present,
            "null_rate": (total - present) / total if total else 0.0,
            "distinct": distinct,
        }
        if numeric:
            mean, std, lo, hi, qs = row[at + 2 : at + 7]
            stats.update(mean=_num(mean), std=_num(std), min=_num(lo), max=_num(hi))
            stats.update(
                {
                    f"p{round(p * 100)}": _num(q)
                    for p, q in zip(PERCENTILES, qs or [None] * 5, strict=True)
                }
            )
            at += 7
        else:
            stats.update(min=_plain(row[at + 2]), max=_plain(row[at + 3]))
            at += 4
        out[name] = stats
    _histograms(con, relation, types, out, edges or {})
    return out


def _histograms(
    con: Engine,
    relation: str,
    types: Mapping[str, str],
    out: dict[str, dict[str, Any]],
    fixed: Mapping[str, Sequence[float]],
) -> None:
    """Fill in each column's histogram: one scan for the numeric bins and small categories,
    one GROUP BY per column with many categories."""
    parts: list[str] = []
    readers: list[tuple[str, str, list[float]]] = []
    for name, dtype in types.items():
        stats = out[name]
        col = quote(name)
        if is_numeric(dtype):
            edges = list(fixed.get(name) or _edges(stats["min"], stats["max"]))
            if not edges:
                stats["histogram"] = {"kind": "numeric", "edges": [], "counts": []}
                continue
            lo, hi, n = edges[0], edges[-1], len(edges) - 1
            width = (hi - lo) / n if n else 0.0
            value = f"CAST({col} AS DOUBLE)"
            # bin i covers [edge i, edge i+1), the last bin also its upper edge; -1 and n
            # count values below and above the edges
            null = f"WHEN {value} IS NULL THEN NULL"  # least() would skip a NULL
            outside = f"WHEN {value} < {lo!r} THEN -1 WHEN {value} > {hi!r} THEN {n}"
            inside = (
                f"least(CAST(floor(({value} - {lo!r}) / {width!r}) AS BIGINT), {n - 1})"
                if width > 0
                else "0"
            )
            index = f"CASE {null} {outside} ELSE {inside} END"
            parts.append(f"histogram({index})")
            readers.append(("numeric", name, edges))
        elif stats["distinct"] <= _MAP_LIMIT:
            parts.append(f"histogram({col})")
            readers.append(("map", name, []))
        else:
            top = con.execute(
                f"SELECT {col}, count(*) AS n FROM {relation} WHERE {col} IS NOT NULL "
                f"GROUP BY ALL ORDER BY n DESC, {col} LIMIT {TOP}"
            ).fetchall()
            stats["histogram"] = _top(top, stats["rows"] - stats["nulls"])
    if not parts:
        return
    row = con.execute(f"SELECT {', '.join(parts)} FROM {relation}").fetchall()[0]
    for (kind, name, edges), value in zip(readers, row, strict=True):
        counts: dict[Any, int] = dict(value or {})
        stats = out[name]
        if kind == "numeric":
            n = len(edges) - 1
            stats["histogram"] = {
                "kind": "numeric",
                "edges": edges,
                "counts": [int(counts.get(i, 0)) for i in range(n)],
                "below": int(counts.get(-1, 0)),
                "above": int(counts.get(n, 0)),
            }
        else:
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:TOP]
            stats["histogram"] = _top(ranked, stats["rows"] - stats["nulls"])


def _edges(lo: float | None, hi: float | None) -> list[float]:
    if lo is None or hi is None:
        return []
    if lo == hi:
        return [lo, hi]
    step = (hi - lo) / BINS
    return [lo + step * i for i in range(BINS)] + [hi]


def _top(ranked: Sequence[tuple[Any, Any]], present: int) -> dict[str, Any]:
    top = [{"value": _plain(v), "count": int(n)} for v, n in ranked]
    return {"kind": "categorical", "top": top, "other": present - sum(t["count"] for t in top)}


def _num(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _plain(value: Any) -> Any:
    """A JSON-ready scalar."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)
