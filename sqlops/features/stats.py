"""Per-feature statistics (Feast's set), computed in DuckDB in one scan plus one sample.

The scan computes, for every column at once, what is cheap to compute exactly: row count,
null count and rate, mean, std (sample, as pandas and Feast), min and max, and a
HyperLogLog distinct count. What needs sorting or hashing every value (percentiles, exact
distinct counts, histograms) is computed on a sample of about ``SAMPLE_ROWS`` rows, kept
in a temporary table: the whole relation (so exact) when it has at most that many rows, and
labelled (``sample_rows``, ``distinct_exact``) when it has more. Computing all of it
exactly cost more than the build it described (measured: 3.6 s on top of a 2.2 s build of
5M rows, 3.7 s of it in exact distinct counts).

Numeric histograms have ``BINS`` equal-width bins between min and max, or the ``edges``
given (a training set uses its views' edges, so later data is compared on the same bins);
other columns get their ``TOP`` most frequent values and a count of the rest.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlops.execute.engine import Engine
from sqlops.execute.materialize import quote

BINS = 10
TOP = 10
SAMPLE_ROWS = 100_000
PERCENTILES = (0.5, 0.75, 0.9, 0.95, 0.99)
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

    ``edges`` fixes a numeric column's histogram bins (values outside them are counted in
    ``below`` / ``above``).
    """
    if not types:
        return {}
    out = _scan(con, relation, types)
    total = next(iter(out.values()))["rows"]
    sample = f"__sqlops_stats_{uuid.uuid4().hex[:12]}"
    cols = ", ".join(quote(n) for n in types)
    # DuckDB's system sampling keeps whole vectors (~2,048 rows) at random: ~10x cheaper
    # than a reservoir, which reads every row
    using = (
        f" USING SAMPLE {100 * SAMPLE_ROWS / total:.6f}% (system, 0)" if total > SAMPLE_ROWS else ""
    )
    con.execute(f"CREATE TEMP TABLE {quote(sample)} AS SELECT {cols} FROM {relation}{using}")
    try:
        _sampled(con, quote(sample), types, out, edges or {})
    finally:
        con.execute(f"DROP TABLE IF EXISTS {quote(sample)}")
    return out


def _scan(con: Engine, relation: str, types: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The exact scalars (and the HyperLogLog distinct count) in one scan."""
    parts = ["count(*)"]
    for name, dtype in types.items():
        col = quote(name)
        value = f"CAST({col} AS DOUBLE)" if is_numeric(dtype) else col
        parts.append(f"count({col}), approx_count_distinct({col}), min({value}), max({value})")
        if is_numeric(dtype):
            parts.append(f"avg({value}), stddev_samp({value})")
    row = con.execute(f"SELECT {', '.join(parts)} FROM {relation}").fetchall()[0]
    total = int(row[0])
    out: dict[str, dict[str, Any]] = {}
    at = 1
    for name, dtype in types.items():
        present = int(row[at])
        stats: dict[str, Any] = {
            "type": dtype,
            "rows": total,
            "nulls": total - present,
            "null_rate": (total - present) / total if total else 0.0,
            "distinct": int(row[at + 1]),
            "distinct_exact": False,
        }
        if is_numeric(dtype):
            stats.update(min=_num(row[at + 2]), max=_num(row[at + 3]))
            stats.update(mean=_num(row[at + 4]), std=_num(row[at + 5]))
            at += 6
        else:
            stats.update(min=_plain(row[at + 2]), max=_plain(row[at + 3]))
            at += 4
        out[name] = stats
    return out


def _sampled(
    con: Engine,
    sample: str,
    types: Mapping[str, str],
    out: dict[str, dict[str, Any]],
    fixed: Mapping[str, Sequence[float]],
) -> None:
    """Percentiles, histograms and exact distinct counts from the sample table."""
    ((rows,),) = con.execute(f"SELECT count(*) FROM {sample}").fetchall()
    whole = rows == next(iter(out.values()))["rows"]
    parts: list[str] = []
    readers: list[tuple[str, str, list[float]]] = []
    quantiles = ", ".join(str(p) for p in PERCENTILES)
    for name, dtype in types.items():
        stats = out[name]
        stats["sample_rows"] = int(rows)
        col = quote(name)
        parts.append(f"count(DISTINCT {col})")
        readers.append(("distinct", name, []))
        if not is_numeric(dtype):
            readers.append(("top", name, []))
            parts.append(f"histogram({col})")
            continue
        value = f"CAST({col} AS DOUBLE)"
        parts.append(f"quantile_cont({value}, [{quantiles}])")
        readers.append(("percentiles", name, []))
        edges = list(fixed.get(name) or _edges(stats["min"], stats["max"]))
        if not edges:
            stats["histogram"] = {"kind": "numeric", "edges": [], "counts": []}
            continue
        parts.append(f"histogram({_bin(value, edges)})")
        readers.append(("bins", name, edges))
    row = con.execute(f"SELECT {', '.join(parts)} FROM {sample}").fetchall()[0]
    for (kind, name, edges), value in zip(readers, row, strict=True):
        stats = out[name]
        if kind == "distinct":
            if whole:
                stats.update(distinct=int(value), distinct_exact=True)
        elif kind == "percentiles":
            got = value or [None] * len(PERCENTILES)
            for p, q in zip(PERCENTILES, got, strict=True):
                stats[f"p{round(p * 100)}"] = _num(q)
        elif kind == "bins":
            counts = dict(value or {})
            n = len(edges) - 1
            stats["histogram"] = {
                "kind": "numeric",
                "edges": edges,
                "counts": [int(counts.get(i, 0)) for i in range(n)],
                "below": int(counts.get(-1, 0)),
                "above": int(counts.get(n, 0)),
            }
        else:
            counts = {k: v for k, v in dict(value or {}).items() if k is not None}
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:TOP]
            top = [{"value": _plain(v), "count": int(c)} for v, c in ranked]
            present = sum(counts.values())
            stats["histogram"] = {
                "kind": "categorical",
                "top": top,
                "other": int(present - sum(t["count"] for t in top)),
            }


def _bin(value: str, edges: Sequence[float]) -> str:
    """SQL for a value's bin: i for [edge i, edge i+1) (the last bin also holds its upper
    edge), -1 below the edges, n above, NULL for NULL."""
    lo, hi, n = edges[0], edges[-1], len(edges) - 1
    width = (hi - lo) / n if n else 0.0
    inside = (
        f"least(CAST(floor(({value} - {lo!r}) / {width!r}) AS BIGINT), {n - 1})"
        if width > 0
        else "0"
    )
    return (
        f"CASE WHEN {value} IS NULL THEN NULL WHEN {value} < {lo!r} THEN -1 "
        f"WHEN {value} > {hi!r} THEN {n} ELSE {inside} END"
    )


def _edges(lo: float | None, hi: float | None) -> list[float]:
    if lo is None or hi is None:
        return []
    if lo == hi:
        return [lo, hi]
    step = (hi - lo) / BINS
    return [lo + step * i for i in range(BINS)] + [hi]


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
