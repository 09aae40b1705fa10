"""Polars frames as DuckDB scan sources (``duckdb._sources``), the adapter ``Engine.register``
hands DuckDB: DuckDB asks for columns and filters, Polars reads only those.

Kept apart from ``engine.py`` because it is built on DuckDB's Python scan-source protocol,
an internal interface (hence the ``duckdb`` upper bound in ``pyproject.toml``), and on
Polars; the engine only calls ``polars_source``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any


def polars_source(frame: Any) -> Any:
    """A Polars frame wrapped so DuckDB reads it through the Arrow C stream interface.

    DuckDB's own Polars reader converts every frame with ``to_arrow()``, which imports pyarrow
    (0.3-0.5 s of start-up, more than reading a small CSV). The wrapper narrows a scan to the
    columns DuckDB asks for in Polars (so a CSV scan parses only those) and hands over Polars'
    own Arrow export. Anything else, and DuckDB builds without extensible scan sources, get
    the object itself.
    """
    source = _polars_source_class()
    if source is None or not type(frame).__module__.startswith("polars"):
        return frame
    import polars as pl

    if not isinstance(frame, pl.DataFrame | pl.LazyFrame):
        return frame
    schema = frame.collect_schema()
    if not all(_exportable(dtype) for dtype in schema.values()):
        return frame
    return source(frame.lazy(), schema, frame.height if isinstance(frame, pl.DataFrame) else None)


def _exportable(dtype: Any) -> bool:
    """False for what Polars cannot export (Object) or exports in a form DuckDB refuses (Null
    arrays without a validity bitmap), at any depth; DuckDB's own reader handles both."""
    import polars as pl

    if dtype in (pl.Object, pl.Null):
        return False
    if isinstance(dtype, pl.List | pl.Array):
        return _exportable(dtype.inner)
    if isinstance(dtype, pl.Struct):
        return all(_exportable(field.dtype) for field in dtype.fields)
    return True


@functools.cache
def _polars_source_class() -> type | None:
    """The class of ``polars_source``'s wrapper, built on DuckDB's Python scan-source protocol
    (``duckdb._sources``: ``accepts`` a filter, ``stream`` the asked columns); None without it."""
    try:
        from duckdb._sources import ArrowScanSource
        from duckdb._sources.nodes import Binary, Col, In, Postfix, Unary, Untranslatable
        from duckdb._sources.to_polars import to_polars
    except ImportError:  # a DuckDB without Python scan sources reads Polars itself
        return None
    import polars as pl

    def nan_safe(node: Any, schema: pl.Schema) -> bool:
        """Whether a filter keeps the same rows when a Parquet scan prunes row groups by their
        min/max statistics, which leave NaN out: no comparison on a floating-point column."""
        if isinstance(node, Postfix):  # IS [NOT] NULL; NaN is not NULL
            return True
        if isinstance(node, Col):
            dtype = schema.get(node.parts[0])
            return dtype is not None and not dtype.is_float() and not dtype.is_nested()
        if isinstance(node, Binary):
            return nan_safe(node.left, schema) and nan_safe(node.right, schema)
        if isinstance(node, Unary):
            return nan_safe(node.operand, schema)
        if isinstance(node, In):
            return nan_safe(node.operand, schema)
        return True

    class PolarsSource(ArrowScanSource):
        """A Polars LazyFrame, filtered and narrowed in Polars and collected once per scan."""

        schema_is_stable = True

        def __init__(self, frame: pl.LazyFrame, schema: pl.Schema, height: int | None) -> None:
            super().__init__(frame)
            self.schema = schema
            self.height = height

        def rows(self) -> int | None:
            return self.height

        def __arrow_c_schema__(self) -> object:
            return self.schema.__arrow_c_schema__()

        def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
            return self.obj.collect().__arrow_c_stream__(requested_schema)

        def accepts(self, predicate: Any) -> bool:
            """Take a filter that DuckDB's translator says Polars evaluates exactly alike."""
            try:
                to_polars(predicate, self.schema)
            except Untranslatable:
                return False
            return nan_safe(predicate, self.schema)

        def stream(
            self, columns: Sequence[int] | None, filters: Sequence[Any]
        ) -> tuple[object, bool]:
            plan = self.obj
            for predicate in filters:
                plan = plan.filter(to_polars(predicate, self.schema))
            # A frame without columns has no rows, so a request for none reads them all.
            if not columns:
                return plan.collect().__arrow_c_stream__(), False
            narrowed = plan.select([pl.nth(i) for i in columns]).collect()
            return narrowed.__arrow_c_stream__(), True

    return PolarsSource
