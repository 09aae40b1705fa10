"""Read CSV sources with Polars for table models: on this kind of machine its CSV parser is
about 1.5x faster than DuckDB's, and DuckDB still pushes projections and filters into the
scan (``tests/bench/seed_etl_variants.py`` measures both).

Only plain CSVs qualify (header and delimiter options, types Polars can express); anything
else, and views, which must stay valid after the build, use DuckDB's own reader.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlops.execute.materialize import quote
from sqlops.project.model import Model, Source

if TYPE_CHECKING:
    import polars as pl

_OPTIONS = {"header", "delim", "sep", "delimiter"}
_TYPES = {
    "VARCHAR": "String",
    "TEXT": "String",
    "STRING": "String",
    "BIGINT": "Int64",
    "INTEGER": "Int32",
    "INT": "Int32",
    "SMALLINT": "Int16",
    "TINYINT": "Int8",
    "DOUBLE": "Float64",
    "FLOAT": "Float32",
    "REAL": "Float32",
    "BOOLEAN": "Boolean",
    "DATE": "Date",
}


def polars_scan(source: Source) -> pl.LazyFrame | None:
    """A lazy Polars scan equivalent to the source's DuckDB reader, or None if there is none."""
    options = dict(source.options)
    if source.format != "csv" or source.hive or set(options) - _OPTIONS:
        return None
    types = {col: _TYPES.get(kind.upper()) for col, kind in source.columns.items()}
    if None in types.values():
        return None
    separator = str(options.get("delim") or options.get("sep") or options.get("delimiter") or ",")
    if len(separator) != 1:
        return None
    import polars as pl

    overrides: dict[str, Any] = {col: getattr(pl, name) for col, name in types.items() if name}
    return pl.scan_csv(
        source.location,
        has_header=bool(options.get("header", True)),
        separator=separator,
        schema_overrides=overrides or None,
        try_parse_dates=True,
        infer_schema_length=10_000,
    )


def expand(
    model: Model, models: Mapping[str, Model], scans: Mapping[str, str], depth: int = 0
) -> str | None:
    """The model's SQL reading the given scans instead of their CSV sources, or None.

    View models between the table model and the source are inlined as subqueries (DuckDB
    expands views the same way), so ``table <- view <- csv`` gets the fast scan too. Lines
    may shift; callers rerun the plain SQL on any error so messages point at the file.
    """
    if depth > 50:
        return None
    cuts: list[tuple[int, int, str]] = []
    for ref in model.reads:
        if ref.target in scans:
            replacement = quote(scans[ref.target])
        elif (view := models.get(ref.target)) is not None and view.materialized == "view":
            inner = expand(view, models, scans, depth + 1) if view.kind == "sql" else None
            if inner is None:
                continue
            replacement = f"(\n{inner}\n)"
        else:
            continue
        if not ref.aliased:
            replacement += f" AS {quote(ref.target.split('.')[-1])}"
        cuts.extend((start, end, replacement) for start, end in ref.spans)
    if not cuts:
        return None
    out, last = [], 0
    for start, end, text in sorted(cuts):
        out.append(model.sql[last:start])
        out.append(text)
        last = end
    out.append(model.sql[last:])
    return "".join(out)


def upstream_tables(model: Model, models: Mapping[str, Model]) -> set[str]:
    """The models and sources a model reads directly or through view models."""
    found: set[str] = set()
    for ref in model.reads:
        view = models.get(ref.target)
        if view is not None and view.materialized == "view":
            found |= upstream_tables(view, models)
        else:
            found.add(ref.target)
    return found


def plan_nodes(plan: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Every node of an EXPLAIN (FORMAT json) plan."""
    stack = list(plan)
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.get("children", ()))


def partition_aggregates(plan: Sequence[Mapping[str, Any]]) -> bool:
    """Whether the plan runs a window aggregate over whole partitions (``PARTITION BY``,
    no ``ORDER BY``, as ``zscore`` and ``minmax`` do). Over a table, DuckDB runs that as a
    grouped aggregate joined back to the rows; ``OVER ()`` and ranked windows keep the
    Window operator either way."""
    for node in plan_nodes(plan):
        if node.get("name") != "WINDOW":
            continue
        found = (node.get("extra_info") or {}).get("Projections", ())
        for text in [found] if isinstance(found, str) else found:
            if "PARTITION BY" in text and "ORDER BY" not in text:
                return True
    return False


def scanned_columns(plan: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[str]:
    """The columns (of ``columns``) that the plan's Python scans read: projected, or named
    in a filter pushed into the scan (DuckDB prints those quoted). With several scans, the
    union: a superset, which is all a copy of the scan needs."""
    wanted: set[str] = set()
    filters: list[str] = []
    for node in plan_nodes(plan):
        info = node.get("extra_info") or {}
        if node.get("name") != "PYTHON_ARROW_SCAN":
            continue
        projected = info.get("Projections", ())
        wanted.update([projected] if isinstance(projected, str) else projected)
        found = info.get("Filters", ())
        filters.extend([found] if isinstance(found, str) else found)
    text = "\n".join(filters)
    chosen = [c for c in columns if c in wanted or quote(c) in text]
    return chosen or list(columns[:1])
