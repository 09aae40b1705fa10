"""Drift of a table's columns against a reference kept as bins and counts, never raw rows.

``profile`` reads the reference once and keeps, per numeric column, ``resolution`` (1,000)
fine bins from its quantiles (or, with at most that many distinct values, one bin per value)
and the reference's exact count in each; per categorical column the ``top`` (50) values'
counts and an "other" count; and null and row counts. ``drift`` bins the current table by
those edges in one DuckDB aggregate query (``histogram`` with the reference's edges), then
computes every metric from the two sets of counts:

* numeric: PSI over about 10 reference-quantile bins (unions of fine bins), the two-sample
  KS statistic and its asymptotic p-value, Wasserstein-1 normalized by the reference's
  (population) standard deviation;
* categorical: PSI, the chi-square goodness-of-fit p-value, Jensen-Shannon distance;
* every column: the change in its share of missing values; the table: its row count.

What the bins cost: the KS statistic is read at the fine edges, so it is exact when every
current value is a reference value (a column of at most ``resolution`` distinct values) and
otherwise low by at most the largest share of one fine bin (about 1/``resolution`` of the
reference, plus the current data's share in that bin). Its p-value is the asymptotic
Kolmogorov distribution's at sqrt(n*m/(n+m)) * D (scipy's default is exact for small
samples: within ~10% of it at a few hundred rows). Wasserstein spreads each side evenly
within a fine bin (steps between values for a discrete column: exact there); outside the
reference's range the current data's area is exact; the error is at most the sum over fine
bins of width x both sides' shares in it. PSI, chi-square and Jensen-Shannon are exact
functions of the bins they are defined over. Integers are binned as doubles (exact below
2**53).

Which metric decides (Evidently's defaults, in ``DriftConfig``): with more than 1,000 rows in
the reference, the distances (Wasserstein for numeric, Jensen-Shannon for categorical) at
>= 0.1; otherwise the tests (KS, chi-square) at p < 0.05. The other one is still reported,
with no threshold and level ``ok``. PSI is ``possible`` at 0.1 and ``drift`` at 0.25. A
numeric column with at most 5 distinct values is categorical, as in Evidently. NaN and
infinities count as missing (Evidently drops them too).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlops.errors import MonitorError
from sqlops.execute.engine import Engine
from sqlops.execute.materialize import qualified, quote
from sqlops.governance import driftstats as stats

__all__ = [
    "CategoricalProfile",
    "DriftConfig",
    "DriftResult",
    "NumericProfile",
    "Reference",
    "drift",
    "profile",
]

Level = Literal["ok", "possible", "drift"]
RESOLUTION = 1000
PSI_BINS = 10
TOP = 50
MAX_UNIQUE = 5  # a numeric column with this many distinct values or fewer is categorical
_NUMERIC = re.compile(
    r"(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|REAL|DECIMAL(\(.*\))?)", re.I
)
_CATEGORICAL = re.compile(r"(VARCHAR|BOOLEAN|UUID|ENUM\(.*\))", re.I)


@dataclass(frozen=True)
class DriftConfig:
    """Thresholds; the defaults are Evidently's (see the module docstring)."""

    large_reference: int = 1000  # reference rows above which distances decide
    distance_threshold: float = 0.1  # Wasserstein (normalized) and Jensen-Shannon: >= drifts
    p_value: float = 0.05  # KS and chi-square: p below drifts
    psi_possible: float = 0.1
    psi_drift: float = 0.25
    null_rate_threshold: float = 0.1  # an absolute change in the share of missing values
    row_count_threshold: float = 0.5  # a relative change in rows: "possible", never "drift"


@dataclass(frozen=True)
class DriftResult:
    """One metric of one column (``column`` None for the table's row count)."""

    column: str | None
    metric: str
    value: float
    threshold: float | None
    level: Level
    statistic: float | None = None  # the test's statistic, beside its p-value in ``value``

    def to_dict(self) -> dict[str, Any]:
        statistic = self.statistic
        return {
            "column": self.column,
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "level": self.level,
            "statistic": statistic if statistic is None or math.isfinite(statistic) else None,
        }


@dataclass(frozen=True)
class NumericProfile:
    """A numeric column: counts of ``(-inf, e0], (e0, e1], ..., (eK, inf)`` (one more than
    ``edges``); ``exact`` when the edges are all of the reference's distinct values."""

    name: str
    values: int
    nulls: int
    std: float
    edges: tuple[float, ...]
    counts: tuple[int, ...]
    exact: bool

    kind = "numeric"


@dataclass(frozen=True)
class CategoricalProfile:
    """A categorical column: its top values' counts (as text), and all the others'."""

    name: str
    values: int
    nulls: int
    categories: tuple[str, ...]
    counts: tuple[int, ...]
    other: int

    kind = "categorical"


ColumnProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True)
class Reference:
    """What drift is measured against: ``rows`` and one profile per column."""

    rows: int
    columns: tuple[ColumnProfile, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "rows": self.rows,
            "columns": [{"kind": c.kind, **_fields(c)} for c in self.columns],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Reference:
        try:
            if data["version"] != 1:
                raise ValueError(f"version {data['version']} (this sqlops reads 1)")
            columns = tuple(_column(c) for c in data["columns"])
            return cls(rows=int(data["rows"]), columns=columns)
        except (KeyError, TypeError, ValueError) as exc:
            raise MonitorError(
                f"not a drift reference: {exc}",
                hint="profile the reference again with this sqlops",
            ) from exc


def profile(
    engine: Engine,
    relation: str,
    columns: Sequence[str] | None = None,
    *,
    resolution: int = RESOLUTION,
    top: int = TOP,
) -> Reference:
    """The reference of ``relation`` (``schema.table``): bins and counts, no rows.

    Columns of other types (dates, lists, ...) are left out unless named, which is an error.
    """
    kinds = _kinds(engine, relation, columns)
    first = _summary(engine, relation, kinds, resolution)
    specs: list[ColumnProfile] = []
    for name, kind in kinds.items():
        row = first[name]
        if kind == "numeric" and row["distinct"] > MAX_UNIQUE:
            edges, exact = _edges(engine, relation, name, row, resolution)
            specs.append(NumericProfile(name, 0, 0, row["std"] or 0.0, edges, (), exact))
        else:
            categories = _top(engine, relation, name, top)
            specs.append(CategoricalProfile(name, 0, 0, categories, (), 0))
    rows, binned = _binned(engine, relation, specs)
    return Reference(rows=rows, columns=tuple(_counted(s, binned[s.name]) for s in specs))


def drift(
    engine: Engine, relation: str, reference: Reference, *, config: DriftConfig | None = None
) -> list[DriftResult]:
    """Each column's drift metrics against ``reference``, then the table's row count."""
    config = config or DriftConfig()
    present = dict(engine.describe(f"SELECT * FROM {qualified(relation)}"))
    missing = [c.name for c in reference.columns if c.name not in present]
    if missing:
        raise MonitorError(
            f"{relation} lacks column {', '.join(missing)} of the drift reference",
            hint="monitor the table the reference was profiled from, or profile it again",
        )
    numeric = [c.name for c in reference.columns if isinstance(c, NumericProfile)]
    changed = [c for c in numeric if column_kind(present[c]) != "numeric"]
    if changed:
        raise MonitorError(
            f"{relation}.{changed[0]} is {present[changed[0]]} now; its reference is numeric",
            hint="cast it back in the model, or profile the reference again",
        )
    rows, binned = _binned(engine, relation, reference.columns)
    large = reference.rows > config.large_reference
    results: list[DriftResult] = []
    for column in reference.columns:
        current = _counted(column, binned[column.name])
        results += _compare(column, current, binned[column.name], large, config)
        results.append(_null_rate(column, current, config))
    change = (rows - reference.rows) / reference.rows if reference.rows else 0.0
    level: Level = "possible" if abs(change) >= config.row_count_threshold else "ok"
    results.append(DriftResult(None, "row_count", change, config.row_count_threshold, level))
    return results


def _compare(
    ref: ColumnProfile,
    cur: ColumnProfile,
    found: Mapping[str, Any],
    large: bool,
    config: DriftConfig,
) -> list[DriftResult]:
    """The distribution metrics of one column (none when either side has no values)."""
    if ref.values == 0 or cur.values == 0:
        return []
    if isinstance(ref, NumericProfile) and isinstance(cur, NumericProfile):
        cuts = _psi_cuts(ref.counts)
        psi = stats.psi(_grouped(ref.counts, cuts), _grouped(cur.counts, cuts))
        below_count = int(found["below"])  # current values under the reference's minimum
        below_sum, above_sum = float(found["below_sum"]), float(found["above_sum"])
        ks = stats.ks_statistic([0, *ref.counts], [below_count, *cur.counts])
        ks_p = stats.ks_p_value(ks, ref.values, cur.values)
        area = stats.wasserstein(
            ref.edges, ref.counts, cur.counts, below_sum, above_sum, steps=ref.exact
        )
        distance = area / max(ref.std, 0.001)
        return [
            _psi_result(ref.name, psi, config),
            _test(ref.name, "ks", ks_p, ks, not large, config),
            _distance(ref.name, "wasserstein", distance, large, config),
        ]
    assert isinstance(ref, CategoricalProfile) and isinstance(cur, CategoricalProfile)
    ref_counts, cur_counts = [*ref.counts, ref.other], [*cur.counts, cur.other]
    statistic, p = stats.chi_square(ref_counts, cur_counts)
    return [
        _psi_result(ref.name, stats.psi(ref_counts, cur_counts), config),
        _test(ref.name, "chi_square", p, statistic, not large, config),
        _distance(
            ref.name, "jensen_shannon", stats.jensen_shannon(ref_counts, cur_counts), large, config
        ),
    ]


def _psi_result(column: str, value: float, config: DriftConfig) -> DriftResult:
    level: Level = "ok"
    if value >= config.psi_drift:
        level = "drift"
    elif value >= config.psi_possible:
        level = "possible"
    return DriftResult(column, "psi", value, config.psi_drift, level)


def _test(
    column: str, metric: str, p: float, statistic: float, decides: bool, config: DriftConfig
) -> DriftResult:
    if not decides:
        return DriftResult(column, metric, p, None, "ok", statistic)
    level: Level = "drift" if p < config.p_value else "ok"
    return DriftResult(column, metric, p, config.p_value, level, statistic)


def _distance(
    column: str, metric: str, value: float, decides: bool, config: DriftConfig
) -> DriftResult:
    if not decides:
        return DriftResult(column, metric, value, None, "ok")
    level: Level = "drift" if value >= config.distance_threshold else "ok"
    return DriftResult(column, metric, value, config.distance_threshold, level)


def _null_rate(ref: ColumnProfile, cur: ColumnProfile, config: DriftConfig) -> DriftResult:
    def rate(p: ColumnProfile) -> float:
        total = p.values + p.nulls
        return p.nulls / total if total else 0.0

    change = rate(cur) - rate(ref)
    level: Level = "drift" if abs(change) >= config.null_rate_threshold else "ok"
    return DriftResult(ref.name, "null_rate", change, config.null_rate_threshold, level)


def _psi_cuts(counts: Sequence[int]) -> list[int]:
    """Indices of the fine bins that end each PSI bin: where the reference's cumulative
    share first reaches 1/10, 2/10, ...; the last PSI bin runs to +inf."""
    cdf = stats.cumulative(counts)
    cuts: list[int] = []
    for j in range(1, PSI_BINS):
        index = next(i for i, share in enumerate(cdf) if share >= j / PSI_BINS - 1e-12)
        if index < len(counts) - 2 and (not cuts or index > cuts[-1]):
            cuts.append(index)
    return cuts


def _grouped(counts: Sequence[int], cuts: Sequence[int]) -> list[int]:
    bounds = [-1, *cuts, len(counts) - 1]
    return [sum(counts[bounds[j] + 1 : bounds[j + 1] + 1]) for j in range(len(bounds) - 1)]


def _kinds(engine: Engine, relation: str, columns: Sequence[str] | None) -> dict[str, str]:
    """``{column: "numeric" | "categorical"}`` by type; named ones must exist and fit."""
    types = dict(engine.describe(f"SELECT * FROM {qualified(relation)}"))
    kinds = {}
    for name in columns if columns is not None else types:
        if name not in types:
            raise MonitorError(f"{relation} has no column {name}", hint="name one of its columns")
        kind = column_kind(types[name])
        if kind is None and columns is not None:
            raise MonitorError(
                f"{relation}.{name} is {types[name]}: drift is measured on numbers and text",
                hint="leave the column out, or cast it in a model",
            )
        if kind is not None:
            kinds[name] = kind
    return kinds


def column_kind(duck_type: str) -> str | None:
    if _NUMERIC.fullmatch(duck_type):
        return "numeric"
    return "categorical" if _CATEGORICAL.fullmatch(duck_type) else None


def _value(name: str, kind: str) -> str:
    """A column as the bins see it: finite doubles, or text; anything else is NULL."""
    if kind == "numeric":
        return f"CASE WHEN isfinite({quote(name)}::DOUBLE) THEN {quote(name)}::DOUBLE END"
    return f"CAST({quote(name)} AS VARCHAR)"


def _summary(
    engine: Engine, relation: str, kinds: Mapping[str, str], resolution: int
) -> dict[str, dict[str, Any]]:
    """Distinct counts (approximate), and for numeric columns min, max, std and quantiles,
    in one scan. t-digest quantiles are enough: they only place the edges; counts are exact."""
    probs = [i / resolution for i in range(resolution + 1)]
    parts, keys = [], []
    for i, (name, kind) in enumerate(kinds.items()):
        parts.append(f"approx_count_distinct(v{i})")
        keys.append((name, "distinct"))
        if kind == "numeric":
            parts += [
                f"min(v{i})",
                f"max(v{i})",
                f"stddev_pop(v{i})",
                f"approx_quantile(v{i}, $p::FLOAT[])",
            ]
            keys += [(name, "min"), (name, "max"), (name, "std"), (name, "quantiles")]
    inner = ", ".join(f"{_value(n, k)} AS v{i}" for i, (n, k) in enumerate(kinds.items()))
    if not parts:
        return {}
    sql = f"SELECT {', '.join(parts)} FROM (SELECT {inner} FROM {qualified(relation)})"
    params = {"p": probs} if "numeric" in kinds.values() else None
    row = _one_row(engine, sql, params)
    out: dict[str, dict[str, Any]] = {name: {} for name in kinds}
    for (name, key), value in zip(keys, row, strict=True):
        out[name][key] = value
    return out


def _one_row(engine: Engine, sql: str, params: Mapping[str, Any] | None) -> tuple[Any, ...]:
    """An aggregate's row, read to the end: DuckDB refuses later work on a connection
    (``register``) while a result is half-read."""
    rows = engine.execute(sql, params).fetchall()
    return tuple(rows[0]) if rows else ()


def _edges(
    engine: Engine, relation: str, name: str, row: Mapping[str, Any], resolution: int
) -> tuple[tuple[float, ...], bool]:
    """Strictly increasing edges from the reference's min to its max: every distinct value
    when there are at most ``resolution`` of them (KS then exact), else the quantiles."""
    if row["distinct"] <= 2 * resolution:
        sql = (
            f"SELECT DISTINCT v FROM (SELECT {_value(name, 'numeric')} AS v "
            f"FROM {qualified(relation)}) WHERE v IS NOT NULL ORDER BY v LIMIT {resolution + 1}"
        )
        values = [float(v) for (v,) in engine.execute(sql).fetchall()]
        if len(values) <= resolution:
            return tuple(values), True
    inner = [float(q) for q in row["quantiles"][1:-1] if row["min"] < q < row["max"]]
    return tuple(sorted({float(row["min"]), *inner, float(row["max"])})), False


def _top(engine: Engine, relation: str, name: str, top: int) -> tuple[str, ...]:
    sql = (
        f"SELECT v FROM (SELECT {_value(name, 'categorical')} AS v FROM {qualified(relation)}) "
        f"WHERE v IS NOT NULL GROUP BY v ORDER BY count(*) DESC, v LIMIT {int(top)}"
    )
    return tuple(str(v) for (v,) in engine.execute(sql).fetchall())


def _binned(
    engine: Engine, relation: str, specs: Sequence[ColumnProfile]
) -> tuple[int, dict[str, dict[str, Any]]]:
    """The table's rows, and per column its counts in the reference's bins: one scan.

    Edges and categories are bound as parameters, never written into the SQL.
    """
    parts, keys = ["count(*)"], []
    params: dict[str, Any] = {}
    for i, spec in enumerate(specs):
        v = f"v{i}"
        parts.append(f"count({v})")
        keys.append((spec.name, "values"))
        if isinstance(spec, NumericProfile):
            params[f"e{i}"] = list(spec.edges)
            lo, hi = f"$e{i}[1]", f"$e{i}[-1]"
            parts += [
                f"histogram({v}, $e{i})",
                f"count(*) FILTER (WHERE {v} < {lo})",
                f"coalesce(sum({lo} - {v}) FILTER (WHERE {v} < {lo}), 0)",
                f"coalesce(sum({v} - {hi}) FILTER (WHERE {v} > {hi}), 0)",
            ]
            keys += [(spec.name, k) for k in ("histogram", "below", "below_sum", "above_sum")]
        else:
            params[f"c{i}"] = list(spec.categories)
            parts.append(f"histogram({v}) FILTER (WHERE list_contains($c{i}, {v}))")
            keys.append((spec.name, "histogram"))
    inner = ", ".join(f"{_value(s.name, s.kind)} AS v{i}" for i, s in enumerate(specs)) or "1"
    sql = f"SELECT {', '.join(parts)} FROM (SELECT {inner} FROM {qualified(relation)})"
    row = _one_row(engine, sql, params or None)
    out: dict[str, dict[str, Any]] = {s.name: {} for s in specs}
    for (name, key), value in zip(keys, row[1:], strict=True):
        out[name][key] = value
    return int(row[0]), {n: {**o, "rows": int(row[0])} for n, o in out.items()}


def _counted(spec: ColumnProfile, found: Mapping[str, Any]) -> ColumnProfile:
    """``spec`` with the counts one scan found (a reference's, or the current data's)."""
    values = int(found["values"])
    histogram = dict(found["histogram"] or {})
    nulls = int(found["rows"]) - values
    if isinstance(spec, NumericProfile):
        inner = [int(histogram.get(edge, 0)) for edge in spec.edges]
        counts = (*inner, values - sum(inner))
        return NumericProfile(spec.name, values, nulls, spec.std, spec.edges, counts, spec.exact)
    counts = tuple(int(histogram.get(c, 0)) for c in spec.categories)
    return CategoricalProfile(
        spec.name, values, nulls, spec.categories, counts, values - sum(counts)
    )


def _fields(column: ColumnProfile) -> dict[str, Any]:
    return {name: list(v) if isinstance(v, tuple) else v for name, v in column.__dict__.items()}


def _column(data: Mapping[str, Any]) -> ColumnProfile:
    """One column's profile from its ``to_dict`` form; a bad shape raises for ``from_dict``."""
    kind = data["kind"]
    common = (str(data["name"]), int(data["values"]), int(data["nulls"]))
    if kind == "numeric":
        edges = tuple(float(e) for e in data["edges"])
        counts = tuple(int(c) for c in data["counts"])
        if len(counts) != len(edges) + 1 or list(edges) != sorted(set(edges)):
            raise ValueError(f"column {common[0]}: edges and counts do not match")
        return NumericProfile(*common, float(data["std"]), edges, counts, bool(data["exact"]))
    if kind == "categorical":
        categories = tuple(str(c) for c in data["categories"])
        counts = tuple(int(c) for c in data["counts"])
        if len(counts) != len(categories):
            raise ValueError(f"column {common[0]}: categories and counts do not match")
        return CategoricalProfile(*common, categories, counts, int(data["other"]))
    raise ValueError(f"column {common[0]}: unknown kind {kind!r}")
