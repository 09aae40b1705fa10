"""Automatic aggregate features (featuretools' Deep Feature Synthesis), computed as SQL in DuckDB.

Sources declare ``index``, ``time_index`` and ``categorical``; ``[[relationships]]`` link a
parent's index to a child's foreign key. For a target table and its cutoff rows (the target's
index, a ``time``), every aggregation primitive that applies to a child's column, or to a
child's own aggregate of a grandchild (depth 2), becomes one column named as featuretools
names it: ``COUNT(sessions)``, ``MEAN(sessions.SUM(transactions.amount))``.

Semantics (featuretools'): the cutoff is inclusive and applies to every table on the path that
has a time index; COUNT and SUM of nothing are 0, every other primitive of nothing is NULL;
STD is the sample standard deviation; LAST is the value of the row with the greatest
(time index, index), NULL included. A window ``w`` keeps rows with ``t - w < time <= t``.
Cutoff rows keep their order and multiplicity: each gets an ordinal from DuckDB
(``row_number() OVER ()`` over the insertion-ordered scan), never an id made of key strings.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlops.config import RelationshipConfig, SourceConfig, parse_duration
from sqlops.errors import SynthesisError, did_you_mean
from sqlops.execute.engine import Engine
from sqlops.execute.materialize import qualified, quote
from sqlops.features.stats import is_numeric

PRIMITIVES = ("count", "sum", "mean", "std", "min", "max", "num_unique", "last")
# featuretools' stacking limits: stack_on_self=False for all but Mean; Sum's stack_on_exclude
_STACK_ON_SELF = frozenset({"mean"})
_STACK_ON_EXCLUDE = {"sum": frozenset({"count"})}
_NUMERIC_IN = frozenset({"sum", "mean", "std", "min", "max"})
_SQL = {
    "sum": "SUM({x})",
    "mean": "AVG({x})",
    "std": "STDDEV_SAMP({x})",
    "min": "MIN({x})",
    "max": "MAX({x})",
    "num_unique": "COUNT(DISTINCT {x})",
}
_ZERO_OF_NOTHING = frozenset({"count", "sum"})
_TEMPORAL = ("TIMESTAMP", "DATE")
_UNITS = {"w": "Weeks", "d": "Days", "h": "Hours", "m": "Minutes", "s": "Seconds"}
ROW, T, KEY = "__sqlops_row", "__sqlops_t", "__sqlops_key"


@dataclass(frozen=True)
class Table:
    """One dataframe of the entity set: a source with its index, time index and columns."""

    name: str
    index: str
    time_index: str | None
    columns: Mapping[str, str]
    categorical: frozenset[str] = frozenset()

    @property
    def short(self) -> str:
        """The name features use (featuretools' dataframe name): the table without schema."""
        return self.name.split(".", 1)[-1]

    def time(self, alias: str) -> str:
        """The time index as a naive UTC timestamp, as cutoffs are: DuckDB would compare a
        TIMESTAMPTZ with a naive time in the session's zone (the machine's)."""
        column = f"{alias}.{quote(self.time_index or '')}"
        aware = "TIME ZONE" in self.columns[self.time_index or ""].upper()
        return f"timezone('UTC', {column})" if aware else column

    def kind(self, column: str) -> str:
        """``categorical``, ``numeric``, ``string`` or ``other`` (no primitive applies)."""
        if column in self.categorical:
            return "categorical"
        kind = self.columns[column].upper()
        if is_numeric(kind):
            return "numeric"
        return "string" if kind == "VARCHAR" else "other"


@dataclass(frozen=True)
class Feature:
    """A generated feature: an aggregation of a child's column or of a child's feature."""

    name: str
    primitive: str
    depth: int
    path: tuple[str, ...]  # the tables aggregated, nearest first
    kind: str
    sql: str  # the aggregate over the child's rows (its columns and depth-1 features)
    column: str  # the alias of the input in the child's rows ("" for COUNT)
    window: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "primitive": self.primitive,
            "depth": self.depth,
            "path": list(self.path),
            "window": self.window,
            "sql": self.sql,
        }


@dataclass(frozen=True)
class _Input:
    """What a parent can aggregate from a child's rows: a column or a child's feature."""

    name: str
    kind: str
    primitive: str | None = None
    depth: int = 0
    path: tuple[str, ...] = ()


@dataclass
class Synthesis:
    """The features of one target and the one DuckDB query that computes them over a table
    of cutoff rows (columns ``__sqlops_row``, ``__sqlops_t``, ``__sqlops_key``)."""

    target: Table
    features: list[Feature]
    passthrough: list[str]
    sql: str


def entity_set(
    sources: Mapping[str, SourceConfig],
    relationships: Sequence[RelationshipConfig],
    columns: Mapping[str, Mapping[str, str]],
    where: str = "",
) -> tuple[dict[str, Table], tuple[RelationshipConfig, ...]]:
    """Tables and relationships, every named column checked against the data's columns
    (``columns``: relation -> column -> type); ``where`` prefixes errors (``file: ``)."""
    tables: dict[str, Table] = {}
    for name, source in sources.items():
        if not source.index:
            continue
        name = name.lower()
        cols = columns.get(name)
        if cols is None:
            raise SynthesisError(
                f"{where}source {name} is not in the warehouse; run `sqlops build` first"
            )
        named = [("index", source.index), ("time_index", source.time_index)]
        named += [("categorical", c) for c in source.categorical]
        for key, column in named:
            if column is not None and column not in cols:
                raise SynthesisError(
                    f"{where}sources.{name}.{key} names {name}.{column}, which does not exist; "
                    + (did_you_mean(column, cols) or f"columns: {', '.join(cols)}")
                )
        kind = cols[source.time_index].upper() if source.time_index else "TIMESTAMP"
        if not kind.startswith(_TEMPORAL):
            raise SynthesisError(
                f"{where}sources.{name}.time_index names {name}.{source.time_index}, which is "
                f"{kind}, not a timestamp; cast it in a model or set the source's columns"
            )
        tables[name] = Table(
            name, source.index, source.time_index, dict(cols), frozenset(source.categorical)
        )
    for rel in relationships:
        for table, column in (
            (rel.parent_table, rel.parent_column),
            (rel.child_table, rel.child_column),
        ):
            cols = tables[table].columns
            if column not in cols:
                at = f"{where.rstrip(': ')}:{rel.line}: " if where and rel.line else where
                raise SynthesisError(
                    f"{at}relationship names {table}.{column}, which does not exist; "
                    + (did_you_mean(column, cols) or f"columns: {', '.join(cols)}")
                )
    return tables, tuple(relationships)


def window_name(text: str) -> tuple[str, timedelta]:
    """``"7d"`` -> ``("Last 7 Days", 7 days)``, featuretools' name for a ``use_previous``."""
    span = parse_duration(text)
    if span is None or span <= timedelta(0) or not isinstance(text, str):
        raise SynthesisError(
            f'window {text!r} is not a positive duration; write it like "7d", "12h" or "2w"'
        )
    return "Last " + " ".join(f"{n} {_UNITS[u]}" for n, u in _split_duration(text)), span


def _split_duration(text: str) -> list[tuple[str, str]]:
    out, number = [], ""
    for ch in text.replace(" ", ""):
        if ch.isdigit():
            number += ch
        else:
            out.append((number, ch))
            number = ""
    return out


def synthesize_plan(
    tables: Mapping[str, Table],
    relationships: Sequence[RelationshipConfig],
    target: str,
    *,
    max_depth: int = 2,
    primitives: Sequence[str] | None = None,
    windows: Sequence[str] | None = None,
) -> Synthesis:
    """The features of ``target`` and the SQL that computes them (no data read)."""
    target = target.lower()
    if target not in tables:
        hint = did_you_mean(target, tables) or (
            f'declare [sources."{target}"] index = "<primary key>"'
        )
        raise SynthesisError(f"synthesize target {target} is not a source with an index; {hint}")
    if max_depth < 1:
        raise SynthesisError(f"max_depth = {max_depth} must be at least 1")
    # each primitive once (a repeat would only make duplicate names)
    asked = PRIMITIVES if primitives is None else primitives
    prims = list(dict.fromkeys(str(p).lower() for p in asked))
    for p in prims:
        if p not in PRIMITIVES:
            hint = did_you_mean(p, PRIMITIVES) or f"known: {', '.join(PRIMITIVES)}"
            raise SynthesisError(f"unknown aggregation primitive {p!r}; {hint}")
    builder = _Builder(tables, relationships, prims, max_depth)
    spans: list[tuple[str | None, timedelta | None]] = [(None, None)]
    spans += [window_name(w) for w in windows or ()]
    features: list[Feature] = []
    joins = []
    for label, span in spans:
        for link in builder.children(target):
            feats, agg = builder.aggregate(link, "cut", KEY, max_depth, span, label)
            features += feats
            joins.append((agg, feats))
    main = tables[target]
    passthrough = [c for c in main.columns if c != main.index]
    seen = set(passthrough)
    for feature in features:
        if feature.name in seen:
            raise SynthesisError(
                f"two features of {target} are named {feature.name} (two relationships to one "
                "child table, or a column of that name); keep one relationship per table pair"
            )
        seen.add(feature.name)
    on = f"tgt.{quote(main.index)} = cut.{KEY}"
    if main.time_index:
        on += f" AND {main.time('tgt')} <= cut.{T}"
    items = [f"tgt.{quote(c)}" for c in passthrough]
    froms = [f"cut LEFT JOIN {qualified(main.name)} AS tgt ON {on}"]
    for n, (agg, feats) in enumerate(joins):
        froms.append(f"LEFT JOIN {agg} AS a{n} ON a{n}.{ROW} = cut.{ROW}")
        items += [_filled(f"a{n}", f) for f in feats]
    ctes = ",\n".join(builder.ctes)
    select = ", ".join(["cut.* EXCLUDE (" + ", ".join((ROW, T, KEY)) + ")", *items])
    sql = f"WITH {ctes}\nSELECT {select}\nFROM {' '.join(froms)}\nORDER BY cut.{ROW}"
    return Synthesis(main, features, passthrough, sql)


def _filled(alias: str, feature: Feature) -> str:
    """The feature from its aggregate, with COUNT and SUM of nothing (no group) as 0."""
    col = f"{alias}.{quote(feature.name)}"
    if feature.primitive in _ZERO_OF_NOTHING:
        col = f"COALESCE({col}, 0)"
    return f"{col} AS {quote(feature.name)}"


class _Builder:
    """Walks the relationships down from the target, writing one CTE per level."""

    def __init__(
        self,
        tables: Mapping[str, Table],
        relationships: Sequence[RelationshipConfig],
        primitives: Sequence[str],
        max_depth: int,
    ) -> None:
        self.tables = tables
        self.relationships = relationships
        self.primitives = primitives
        self.max_depth = max_depth
        self.ctes: list[str] = ["cut AS (SELECT * FROM __sqlops_cutoffs)"]
        self._n = itertools.count()

    def children(self, table: str) -> list[RelationshipConfig]:
        return [r for r in self.relationships if r.parent_table == table]

    def _cte(self, body: str) -> str:
        name = f"l{next(self._n)}"
        self.ctes.append(f"{name} AS (\n{body}\n)")
        return name

    def aggregate(
        self,
        link: RelationshipConfig,
        parent_rows: str,
        parent_key: str,
        budget: int,
        span: timedelta | None,
        label: str | None,
    ) -> tuple[list[Feature], str]:
        """The features a parent gets from one child within ``budget`` depth, and the CTE
        (``ROW``, ``KEY`` and one column per feature) grouped by cutoff row and parent key."""
        child = self.tables[link.child_table]
        rows = self._rows(child, link, parent_rows, parent_key, span)
        inputs = [
            _Input(c, child.kind(c))
            for c in child.columns
            if c not in (child.index, child.time_index, link.child_column)
        ]
        if budget > 1:
            for sub in self.children(child.name):
                feats, agg = self.aggregate(sub, rows, quote(child.index), budget - 1, span, None)
                items = ", ".join(_filled("a", f) for f in feats)
                rows = self._cte(
                    f"SELECT r.*, {items} FROM {rows} AS r LEFT JOIN {agg} AS a "
                    f"ON a.{ROW} = r.{ROW} AND a.{KEY} = r.{quote(child.index)}"
                )
                inputs += [_Input(f.name, f.kind, f.primitive, f.depth, f.path) for f in feats]
        features = self._features(child, inputs, label)
        items = ", ".join(f"{f.sql} AS {quote(f.name)}" for f in features)
        agg = self._cte(
            f"SELECT {ROW}, {quote(link.child_column)} AS {KEY}, {items} FROM {rows} "
            f"GROUP BY {ROW}, {quote(link.child_column)}"
        )
        return features, agg

    def _rows(
        self,
        child: Table,
        link: RelationshipConfig,
        parent_rows: str,
        parent_key: str,
        span: timedelta | None,
    ) -> str:
        """The child's rows of each cutoff row's parents, as of the cutoff (and window)."""
        cond = [f"c.{quote(link.child_column)} = p.{parent_key}"]
        if child.time_index:
            ti = child.time("c")
            cond.append(f"{ti} <= p.{T}")
            if span is not None:
                micros = int(span.total_seconds() * 1_000_000)
                cond.append(f"{ti} > p.{T} - INTERVAL ({micros}) MICROSECOND")
        return self._cte(
            f"SELECT p.{ROW}, p.{T}, c.* FROM {parent_rows} AS p "
            f"JOIN {qualified(child.name)} AS c ON {' AND '.join(cond)}"
        )

    def _features(self, child: Table, inputs: list[_Input], label: str | None) -> list[Feature]:
        path = (child.name,)
        suffix = f", {label}" if label else ""
        out = []
        if "count" in self.primitives:
            name = f"COUNT({child.short}{suffix})"
            out.append(Feature(name, "count", 1, path, "numeric", "COUNT(*)", "", label))
        for base in inputs:
            for prim in self.primitives:
                if prim == "count" or not _applies(prim, base):
                    continue
                x = quote(base.name)
                if prim == "last":
                    order = [child.time_index, child.index] if child.time_index else [child.index]
                    by = ", ".join(quote(c) for c in order if c)
                    sql = f"LAST({x} ORDER BY {by})"
                else:
                    sql = _SQL[prim].format(x=x)
                kind = base.kind if prim == "last" else "numeric"
                name = f"{prim.upper()}({child.short}.{base.name}{suffix})"
                out.append(
                    Feature(
                        name, prim, base.depth + 1, path + base.path, kind, sql, base.name, label
                    )
                )
        return out


def _applies(prim: str, base: _Input) -> bool:
    """featuretools' input types and stacking limits."""
    if base.primitive is not None:
        if base.primitive == prim and prim not in _STACK_ON_SELF:
            return False
        if base.primitive in _STACK_ON_EXCLUDE.get(prim, ()):
            return False
    if prim in _NUMERIC_IN:
        return base.kind == "numeric"
    if prim == "num_unique":
        return base.kind in ("string", "categorical")
    return base.kind in ("numeric", "string", "categorical")  # last


def compute(engine: Engine, plan: Synthesis, cutoff_times: Any) -> Any:
    """Run the plan over the cutoff rows: their columns in order, the target's own columns,
    then the features, one row per cutoff row in its order."""
    main = plan.target
    name = f"__sqlops_cut_{uuid.uuid4().hex[:12]}"
    engine.register(name, cutoff_times)
    try:
        types = dict(engine.output_columns(f"SELECT * FROM {quote(name)}"))
        _check_cutoffs(list(types), plan)
        kind = types["time"].upper()
        if not kind.startswith(_TEMPORAL):
            raise SynthesisError(
                f"cutoff_times column 'time' is {kind}, not a timestamp; pass datetimes (or dates)"
            )
        # an aware cutoff is compared in UTC, as naive times are taken to be
        time = "timezone('UTC', \"time\")" if "TIME ZONE" in kind else 'CAST("time" AS TIMESTAMP)'
        engine.execute(
            f"CREATE OR REPLACE TEMP TABLE __sqlops_cutoffs AS SELECT *, "
            f"row_number() OVER () AS {ROW}, {time} AS {T}, "
            f"{quote(main.index)} AS {KEY} FROM {quote(name)}"
        )
        try:
            return engine.polars(plan.sql)
        finally:
            engine.execute("DROP TABLE IF EXISTS __sqlops_cutoffs")
    finally:
        engine.unregister(name)


def _check_cutoffs(cols: Sequence[str], plan: Synthesis) -> None:
    main = plan.target
    for need in (main.index, "time"):
        if need not in cols:
            raise SynthesisError(
                f"cutoff_times has no column {need!r} (the target {main.name}'s "
                f"{'index' if need == main.index else 'cutoff time'}); columns: {', '.join(cols)}"
            )
    taken = set(plan.passthrough) | {f.name for f in plan.features} | {ROW, T, KEY}
    clash = [c for c in cols if c in taken and c != main.index]
    if clash:
        raise SynthesisError(
            f"cutoff_times column {clash[0]!r} has the name of a column of {main.name} or of a "
            "feature; rename it"
        )
