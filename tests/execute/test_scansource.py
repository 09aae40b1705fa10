"""A Polars frame registered with the engine (``scansource``: DuckDB hands the columns and
filters it can to Polars) reads what plain DuckDB reads of the same rows as Arrow: NULLs,
NaN, infinities, signed zeros, text and integers under the filters DuckDB pushes down, for a
frame, a lazy frame and a lazy Parquet scan (which prunes row groups by min/max, NaN left out).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from sqlops.execute.engine import Engine

FLOATS = [None, float("nan"), float("inf"), float("-inf"), 0.0, -0.0, 1.5, -2.25]
TEXTS = [None, "", "a", "A", "b", "ab", "é", " a"]
# projections and filters DuckDB may push into the scan (comparisons, IS NULL, IN, AND/OR)
QUERIES = [
    "select x from t",
    "select i, s from t where i > 1",
    "select * from t where i = 2 or i is null",
    "select * from t where i in (0, 3) and s is not null",
    "select * from t where x > 0",
    "select * from t where x = 'nan'::double or x is null",
    "select * from t where x <> -0.0",
    "select s, x from t where s = 'a'",
    "select * from t where s >= 'a' and s < 'b'",
    "select * from t where s like 'a%'",
    "select * from t where not (i between -1 and 1)",
    "select count(*) as c from t where x is not null and i < 3",
]


@settings(max_examples=30, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(FLOATS),
            st.one_of(st.none(), st.integers(-3, 3)),
            st.sampled_from(TEXTS),
        ),
        max_size=12,
    ),
    kind=st.sampled_from(["frame", "lazy", "parquet"]),
)
def test_a_registered_frame_reads_what_duckdb_reads_over_arrow(
    rows: list[tuple[float | None, int | None, str | None]], kind: str
) -> None:
    frame = pl.DataFrame(
        {"x": [r[0] for r in rows], "i": [r[1] for r in rows], "s": [r[2] for r in rows]},
        schema={"x": pl.Float64, "i": pl.Int64, "s": pl.String},
    )
    with tempfile.TemporaryDirectory() as tmp:
        parquet = Path(tmp) / "t.parquet"
        frame.write_parquet(parquet, row_group_size=3)
        scans = {"frame": frame, "lazy": frame.lazy(), "parquet": pl.scan_parquet(parquet)}
        engine = Engine.open()
        engine.register("t", scans[kind])
        _compare(engine, frame)


def _compare(engine: Engine, frame: pl.DataFrame) -> None:
    with duckdb.connect() as con:
        con.register("t", frame.to_arrow())
        for sql in QUERIES:
            expected = pl.from_arrow(con.sql(sql).to_arrow_table())
            assert isinstance(expected, pl.DataFrame)
            got = engine.polars(sql)
            assert got.schema == expected.schema, sql
            order = list(expected.columns)
            (
                assert_frame_equal(
                    got.sort(order, nulls_last=True),
                    expected.sort(order, nulls_last=True),
                    check_exact=True,
                ),
                sql,
            )
