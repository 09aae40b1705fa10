"""Benchmark: the seed ETL implemented in Polars, DuckDB, DuckDB-over-Polars, pandas, numpy.

The "seed ETL" (examples/seed_numpy.py, with examples/seed_pandas.py's read/select/dropna):
read the houses CSV, keep area_m2, age_years, price, drop rows with a missing value, z-score
age_years with the population std, compute avg + stddev_pop of the 3 columns, and write the
cleaned 3-column result to Parquet (snappy everywhere, so the writers do comparable work).

Each variant runs in a fresh subprocess (so peak RSS = ru_maxrss of that process, imports
included; a `baseline_imports` row shows the import-only floor). Runs are interleaved
(rep 1: all variants, rep 2: all variants in rotated order, ...); the table shows min and
median seconds of the ETL itself (imports excluded) and the ratio of min to the fastest min.
All variants must agree on row count and the 6 aggregates (checked, reported). "cpu s" is the
min process CPU time (all threads) of the ETL: on a shared, oversubscribed box it is the more
stable measure of work; wall-clock ratios there are noisy (re-run with more --reps).

    uv run python tests/bench/seed_etl_variants.py --rows 10000000
    uv run python tests/bench/seed_etl_variants.py --rows 200000 --reps 1     # smoke
    uv run python tests/bench/seed_etl_variants.py --only duckdb_copy_typed,polars_collect

The CSV is generated with examples/generate_data.py into --workdir (default
/tmp/sqlops-bench), never into the repo.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
COLS = ["area_m2", "age_years", "price"]
NUMPY_IDX = [1, 3, 7]  # positions of COLS in the CSV
CSV_SCHEMA = {  # the full houses.csv schema, for "no sniffing" readers
    "house_id": "BIGINT",
    "area_m2": "DOUBLE",
    "bedrooms": "BIGINT",
    "age_years": "BIGINT",
    "distance_center_km": "DOUBLE",
    "lat": "DOUBLE",
    "lon": "DOUBLE",
    "price": "BIGINT",
}

Stages = dict[str, float | str]
Result = tuple[int, list[float], Stages]  # rows written, 6 aggregates, extra info
Runner = Callable[[str, str], Result]

# --------------------------------------------------------------------------------------------
# SQL shared by the DuckDB variants
# --------------------------------------------------------------------------------------------

NOT_NULL = "area_m2 IS NOT NULL AND age_years IS NOT NULL AND price IS NOT NULL"

ETL_SQL = f"""
WITH clean AS (SELECT area_m2, age_years, price FROM {{src}} WHERE {NOT_NULL}),
     s AS (SELECT avg(age_years) AS m, stddev_pop(age_years) AS sd FROM clean)
SELECT area_m2, (age_years - s.m) / s.sd AS age_years, price FROM clean, s
"""  # `clean` is referenced twice; DuckDB materializes the CTE, so the source is read once

PARQUET = "(FORMAT parquet, COMPRESSION snappy)"

AGG_SQL = """
SELECT count(*), avg(area_m2), avg(age_years), avg(price),
       stddev_pop(area_m2), stddev_pop(age_years), stddev_pop(price) FROM {src}
"""

DUCKDB_TYPED_COLUMNS = "{" + ", ".join(f"'{k}': '{v}'" for k, v in CSV_SCHEMA.items()) + "}"


def _read_csv_auto(csv: str) -> str:
    return f"read_csv('{csv}')"


def _read_csv_typed(csv: str) -> str:
    return (
        f"read_csv('{csv}', header=true, delim=',', auto_detect=false, "
        f"columns={DUCKDB_TYPED_COLUMNS})"
    )


def _agg_row(row: tuple) -> tuple[int, list[float]]:
    return int(row[0]), [float(x) for x in row[1:]]


# --------------------------------------------------------------------------------------------
# Variants. Each factory does its imports (outside the timer) and returns run(csv, out).
# --------------------------------------------------------------------------------------------


def baseline_imports() -> Runner:
    import duckdb  # noqa: F401
    import numpy  # noqa: F401
    import polars  # noqa: F401
    import pyarrow  # noqa: F401

    def run(csv: str, out: str) -> Result:
        return 0, [], {"note": "imports only (RSS floor)"}

    return run


# ---- (i) hand-written Polars -------------------------------------------------------------------


def _polars_etl(lf):  # type: ignore[no-untyped-def]
    import polars as pl

    age = pl.col("age_years")
    return lf.select(COLS).drop_nulls().with_columns((age - age.mean()) / age.std(ddof=0))


def _polars_aggs():  # type: ignore[no-untyped-def]
    import polars as pl

    return (
        [pl.len().alias("n")]
        + [pl.col(c).mean().alias(f"m_{c}") for c in COLS]
        + [pl.col(c).std(ddof=0).alias(f"s_{c}") for c in COLS]
    )


def polars_collect() -> Runner:
    """scan_csv -> select/drop_nulls/z-score -> collect; write_parquet + aggregates in memory."""
    import polars as pl

    def run(csv: str, out: str) -> Result:
        t = time.perf_counter()
        df = _polars_etl(pl.scan_csv(csv)).collect()
        t1 = time.perf_counter()
        df.write_parquet(out, compression="snappy")
        t2 = time.perf_counter()
        row = df.select(_polars_aggs()).row(0)
        return int(row[0]), list(row[1:]), {"collect": t1 - t, "write": t2 - t1}

    return run


def polars_collect_schema() -> Runner:
    """Same as polars_collect with an explicit schema (no type inference)."""
    import polars as pl

    types = {"BIGINT": pl.Int64, "DOUBLE": pl.Float64}
    schema = {k: types[v] for k, v in CSV_SCHEMA.items()}

    def run(csv: str, out: str) -> Result:
        df = _polars_etl(pl.scan_csv(csv, schema=schema)).collect()
        df.write_parquet(out, compression="snappy")
        row = df.select(_polars_aggs()).row(0)
        return int(row[0]), list(row[1:]), {}

    return run


def polars_sink() -> Runner:
    """scan_csv -> ... -> sink_parquet (streaming engine), aggregates by scan_parquet."""
    import polars as pl

    def run(csv: str, out: str) -> Result:
        t = time.perf_counter()
        _polars_etl(pl.scan_csv(csv)).sink_parquet(out, compression="snappy")
        t1 = time.perf_counter()
        row = pl.scan_parquet(out).select(_polars_aggs()).collect().row(0)
        return int(row[0]), list(row[1:]), {"sink": t1 - t, "aggs": time.perf_counter() - t1}

    return run


# ---- (ii) hand-written DuckDB SQL --------------------------------------------------------------


def _duckdb_copy(read: Callable[[str], str], settings: tuple[str, ...] = ()) -> Runner:
    import duckdb

    def run(csv: str, out: str) -> Result:
        con = duckdb.connect()
        for s in settings:
            con.execute(s)
        t = time.perf_counter()
        con.execute(f"COPY ({ETL_SQL.format(src=read(csv))}) TO '{out}' {PARQUET}")
        t1 = time.perf_counter()
        n, aggs = _agg_row(con.execute(AGG_SQL.format(src=f"read_parquet('{out}')")).fetchone())
        con.close()
        info: Stages = {"copy": t1 - t, "aggs": time.perf_counter() - t1}
        info["parquet_MB"] = round(os.path.getsize(out) / 1e6, 1)
        return n, aggs, info

    return run


def duckdb_copy_auto() -> Runner:
    """COPY (ETL over read_csv auto-detect) TO parquet; aggregates from the parquet."""
    return _duckdb_copy(_read_csv_auto)


def duckdb_copy_typed() -> Runner:
    """Same, read_csv with explicit columns/types and auto_detect=false (no sniffing)."""
    return _duckdb_copy(_read_csv_typed)


def duckdb_copy_typed_1thread() -> Runner:
    return _duckdb_copy(_read_csv_typed, ("SET threads = 1",))


def duckdb_copy_typed_unordered() -> Runner:
    return _duckdb_copy(_read_csv_typed, ("SET preserve_insertion_order = false",))


def _duckdb_ctas(read: Callable[[str], str], database: str | None) -> Runner:
    import duckdb

    def run(csv: str, out: str) -> Result:
        db = ":memory:"
        if database == "file":
            db = out + ".duckdb"
            for p in (db, db + ".wal"):
                if os.path.exists(p):
                    os.remove(p)
        t0 = time.perf_counter()
        con = duckdb.connect(db)
        con.execute(f"CREATE TABLE seed_etl AS {ETL_SQL.format(src=read(csv))}")
        t1 = time.perf_counter()
        con.execute(f"COPY seed_etl TO '{out}' {PARQUET}")
        t2 = time.perf_counter()
        n, aggs = _agg_row(con.execute(AGG_SQL.format(src="seed_etl")).fetchone())
        t3 = time.perf_counter()
        con.close()  # file db: final checkpoint
        t4 = time.perf_counter()
        info: Stages = {"ctas": t1 - t0, "copy": t2 - t1, "aggs": t3 - t2, "close": t4 - t3}
        info["parquet_MB"] = round(os.path.getsize(out) / 1e6, 1)
        if database == "file":
            info["db_MB"] = round(os.path.getsize(db) / 1e6, 1)
            os.remove(db)
        return n, aggs, info

    return run


def duckdb_ctas_memory_typed() -> Runner:
    """CREATE TABLE AS (in-memory db), then COPY table TO parquet, aggregates on the table."""
    return _duckdb_ctas(_read_csv_typed, None)


def duckdb_ctas_file_typed() -> Runner:
    """CREATE TABLE AS in a fresh DuckDB *file*, COPY table TO parquet, aggregates, close."""
    return _duckdb_ctas(_read_csv_typed, "file")


def duckdb_ctas_file_auto() -> Runner:
    return _duckdb_ctas(_read_csv_auto, "file")


# ---- (ii b) the z-score macro's window over an upstream table (a Parquet object) -------------

# sqlops' zscore(x) is a windowed scalar macro. Written OVER (PARTITION BY true) (the same
# single partition as OVER ()), DuckDB's window_self_join optimizer turns it into an aggregate
# joined back to the rows whenever the input may be read twice (tables, Parquet); the
# Window operator it replaces buffers every row. "zscore" is that stage alone.
ZSCORE = (
    "(age_years::DOUBLE - avg(age_years::DOUBLE) OVER {w})"
    " / nullif(stddev_pop(age_years::DOUBLE) OVER {w}, 0)"
)


def _duckdb_zscore_parquet(window: str) -> Runner:
    import duckdb

    def run(csv: str, out: str) -> Result:
        con = duckdb.connect()
        clean = out + ".clean.parquet"
        t0 = time.perf_counter()
        con.execute(
            f"COPY (SELECT {', '.join(COLS)} FROM {_read_csv_typed(csv)} WHERE {NOT_NULL}) "
            f"TO '{clean}' {PARQUET}"
        )
        t1 = time.perf_counter()
        z = ZSCORE.format(w=window)
        con.execute(
            f"COPY (SELECT area_m2, {z} AS age_years, price FROM read_parquet('{clean}')) "
            f"TO '{out}' {PARQUET}"
        )
        t2 = time.perf_counter()
        n, aggs = _agg_row(con.execute(AGG_SQL.format(src=f"read_parquet('{out}')")).fetchone())
        os.remove(clean)
        return n, aggs, {"prep": t1 - t0, "zscore": t2 - t1}

    return run


def duckdb_zscore_parquet_over() -> Runner:
    """Upstream table as Parquet, then zscore written OVER (): the Window operator."""
    return _duckdb_zscore_parquet("()")


def duckdb_zscore_parquet_partition() -> Runner:
    """Same, OVER (PARTITION BY true) as sqlops' macro: aggregate + join."""
    return _duckdb_zscore_parquet("(PARTITION BY true)")


# ---- (iii) DuckDB querying Polars / Arrow ------------------------------------------------------


def _duckdb_on(make_source: Callable[[str], object], how: str) -> Runner:
    """make_source(csv) -> python object; `how`: 'replacement' (duckdb.sql sees local `src`) or
    'register' (con.register)."""
    import duckdb
    import pyarrow  # noqa: F401 - DuckDB imports it lazily on the first Polars scan (~0.3-0.7 s)

    def run(csv: str, out: str) -> Result:
        t0 = time.perf_counter()
        src = make_source(csv)
        t1 = time.perf_counter()
        con = duckdb.connect()
        if how == "register":
            con.register("src_view", src)
            name = "src_view"
        else:
            name = "src"
        con.execute(f"COPY ({ETL_SQL.format(src=name)}) TO '{out}' {PARQUET}")
        t2 = time.perf_counter()
        n, aggs = _agg_row(con.execute(AGG_SQL.format(src=f"read_parquet('{out}')")).fetchone())
        con.close()
        return n, aggs, {"source": t1 - t0, "copy": t2 - t1, "aggs": time.perf_counter() - t2}

    return run


def duckdb_on_lazyframe() -> Runner:
    """pl.scan_csv(csv) (all columns) handed to DuckDB by replacement scan: DuckDB pushes the
    projection + IS NOT NULL filters into the LazyFrame, then it is collected once."""
    import polars as pl

    return _duckdb_on(lambda csv: pl.scan_csv(csv), "replacement")


def duckdb_on_lazyframe_projected() -> Runner:
    import polars as pl

    return _duckdb_on(lambda csv: pl.scan_csv(csv).select(COLS), "replacement")


def duckdb_register_lazyframe() -> Runner:
    import polars as pl

    return _duckdb_on(lambda csv: pl.scan_csv(csv), "register")


def duckdb_on_polars_df() -> Runner:
    """pl.scan_csv(csv).select(3 cols).collect() -> DataFrame, replacement scan."""
    import polars as pl

    return _duckdb_on(lambda csv: pl.scan_csv(csv).select(COLS).collect(), "replacement")


def duckdb_register_polars_df() -> Runner:
    import polars as pl

    return _duckdb_on(lambda csv: pl.scan_csv(csv).select(COLS).collect(), "register")


def duckdb_on_polars_to_arrow() -> Runner:
    import polars as pl

    return _duckdb_on(lambda csv: pl.scan_csv(csv).select(COLS).collect().to_arrow(), "replacement")


def duckdb_on_pyarrow_csv() -> Runner:
    """pyarrow.csv.read_csv(include_columns=3 cols) -> Arrow table, replacement scan."""
    import pyarrow.csv as pacsv

    def read(csv: str):  # type: ignore[no-untyped-def]
        return pacsv.read_csv(csv, convert_options=pacsv.ConvertOptions(include_columns=COLS))

    return _duckdb_on(read, "replacement")


# ---- (iv) pandas, (v) numpy: the seed code -----------------------------------------------------


def _pandas_rest(df, out: str) -> Result:  # type: ignore[no-untyped-def]
    # seed_numpy's z-score + aggregates, written in pandas (std(ddof=0) = numpy's std)
    df["age_years"] = (df["age_years"] - df["age_years"].mean()) / df["age_years"].std(ddof=0)
    aggs = [float(df[c].mean()) for c in COLS] + [float(df[c].std(ddof=0)) for c in COLS]
    df.to_parquet(out, compression="snappy", index=False)
    return len(df), aggs, {}


def pandas_seed() -> Runner:
    """The seed's pandas code as written (read everything with the C engine, select, dropna)."""
    import pandas as pd
    import pyarrow  # noqa: F401

    def run(csv: str, out: str) -> Result:
        df = pd.read_csv(csv)
        df = df[COLS]
        df = df.dropna()
        return _pandas_rest(df.copy(), out)

    return run


def pandas_pyarrow_usecols() -> Runner:
    """Idiomatic faster pandas: read_csv(usecols=..., engine='pyarrow')."""
    import pandas as pd
    import pyarrow  # noqa: F401

    def run(csv: str, out: str) -> Result:
        df = pd.read_csv(csv, usecols=COLS, engine="pyarrow")
        df = df[COLS].dropna()
        return _pandas_rest(df.copy(), out)

    return run


def _numpy_rest(data, out: str) -> Result:  # type: ignore[no-untyped-def]
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    mask = ~np.isnan(data).any(axis=1)
    data = data[mask]
    data[:, 1] = (data[:, 1] - data[:, 1].mean()) / data[:, 1].std()
    aggs = [data[:, i].mean() for i in range(3)] + [data[:, i].std() for i in range(3)]
    pq.write_table(pa.table({c: data[:, i] for i, c in enumerate(COLS)}), out, compression="snappy")
    return len(data), [float(a) for a in aggs], {}


def numpy_seed() -> Runner:
    """The seed's numpy code: loadtxt (+ converters for empty fields), cols, isnan mask, ..."""
    import numpy as np

    def run(csv: str, out: str) -> Result:
        raw = np.loadtxt(csv, delimiter=",", skiprows=1, converters=lambda s: float(s or "nan"))
        return _numpy_rest(raw[:, NUMPY_IDX], out)

    return run


def numpy_genfromtxt() -> Runner:
    """genfromtxt (empty -> nan natively); slow and memory-hungry, opt-in (--with-genfromtxt)."""
    import numpy as np

    def run(csv: str, out: str) -> Result:
        raw = np.genfromtxt(csv, delimiter=",", skip_header=1)
        return _numpy_rest(raw[:, NUMPY_IDX], out)

    return run


# ---- (vi) ingest only: "how fast does a CSV get into a DuckDB query?" --------------------------

INGEST_SQL = (
    "SELECT count(*), avg(area_m2), avg(age_years), avg(price), 0, 0, 0 "
    f"FROM {{src}} WHERE {NOT_NULL}"
)


def _ingest(make_src: Callable[[str], tuple[object, str]]) -> Runner:
    import duckdb
    import pyarrow  # noqa: F401 - see _duckdb_on

    def run(csv: str, out: str) -> Result:
        con = duckdb.connect()
        src, name = make_src(csv)
        if name == "src_view":
            con.register(name, src)
        n, aggs = _agg_row(con.execute(INGEST_SQL.format(src=name)).fetchone())
        return n, aggs[:3], {}

    return run


def ingest_duckdb_read_csv_auto() -> Runner:
    return _ingest(lambda csv: (None, _read_csv_auto(csv)))


def ingest_duckdb_read_csv_typed() -> Runner:
    return _ingest(lambda csv: (None, _read_csv_typed(csv)))


def ingest_duckdb_lazyframe() -> Runner:
    import polars as pl

    return _ingest(lambda csv: (pl.scan_csv(csv), "src"))


def ingest_duckdb_polars_df() -> Runner:
    import polars as pl

    return _ingest(lambda csv: (pl.scan_csv(csv).select(COLS).collect(), "src"))


def ingest_duckdb_pyarrow_csv() -> Runner:
    import pyarrow.csv as pacsv

    return _ingest(
        lambda csv: (
            pacsv.read_csv(csv, convert_options=pacsv.ConvertOptions(include_columns=COLS)),
            "src",
        )
    )


def ingest_polars_only() -> Runner:
    """Reference: the same aggregate in Polars alone (no DuckDB)."""
    import polars as pl

    def run(csv: str, out: str) -> Result:
        df = (
            pl.scan_csv(csv)
            .select(COLS)
            .drop_nulls()
            .select(pl.len(), *[pl.col(c).mean() for c in COLS])
            .collect()
        )
        row = df.row(0)
        return int(row[0]), [float(x) for x in row[1:]], {}

    return run


# --------------------------------------------------------------------------------------------

ETL_VARIANTS: dict[str, tuple[str, Callable[[], Runner], dict[str, str]]] = {
    # name: (group, factory, extra env)
    "polars_collect": ("i polars", polars_collect, {}),
    "polars_collect_1thread": ("i polars", polars_collect, {"POLARS_MAX_THREADS": "1"}),
    "polars_collect_schema": ("i polars", polars_collect_schema, {}),
    "polars_sink": ("i polars", polars_sink, {}),
    "duckdb_copy_auto": ("ii duckdb", duckdb_copy_auto, {}),
    "duckdb_copy_typed": ("ii duckdb", duckdb_copy_typed, {}),
    "duckdb_copy_typed_1thread": ("ii duckdb", duckdb_copy_typed_1thread, {}),
    "duckdb_copy_typed_unordered": ("ii duckdb", duckdb_copy_typed_unordered, {}),
    "duckdb_ctas_memory_typed": ("ii duckdb", duckdb_ctas_memory_typed, {}),
    "duckdb_ctas_file_typed": ("ii duckdb", duckdb_ctas_file_typed, {}),
    "duckdb_ctas_file_auto": ("ii duckdb", duckdb_ctas_file_auto, {}),
    "duckdb_zscore_parquet_over": ("ii duckdb", duckdb_zscore_parquet_over, {}),
    "duckdb_zscore_parquet_partition": ("ii duckdb", duckdb_zscore_parquet_partition, {}),
    "duckdb_on_lazyframe": ("iii duckdb+polars", duckdb_on_lazyframe, {}),
    "duckdb_on_lazyframe_projected": ("iii duckdb+polars", duckdb_on_lazyframe_projected, {}),
    "duckdb_register_lazyframe": ("iii duckdb+polars", duckdb_register_lazyframe, {}),
    "duckdb_on_polars_df": ("iii duckdb+polars", duckdb_on_polars_df, {}),
    "duckdb_register_polars_df": ("iii duckdb+polars", duckdb_register_polars_df, {}),
    "duckdb_on_polars_to_arrow": ("iii duckdb+polars", duckdb_on_polars_to_arrow, {}),
    "duckdb_on_pyarrow_csv": ("iii duckdb+arrow", duckdb_on_pyarrow_csv, {}),
    "pandas_seed": ("iv pandas", pandas_seed, {}),
    "pandas_pyarrow_usecols": ("iv pandas", pandas_pyarrow_usecols, {}),
    "numpy_seed": ("v numpy", numpy_seed, {}),
    "numpy_genfromtxt": ("v numpy", numpy_genfromtxt, {}),
}
INGEST_VARIANTS: dict[str, tuple[str, Callable[[], Runner], dict[str, str]]] = {
    "ingest_duckdb_read_csv_auto": ("ingest", ingest_duckdb_read_csv_auto, {}),
    "ingest_duckdb_read_csv_typed": ("ingest", ingest_duckdb_read_csv_typed, {}),
    "ingest_duckdb_lazyframe": ("ingest", ingest_duckdb_lazyframe, {}),
    "ingest_duckdb_polars_df": ("ingest", ingest_duckdb_polars_df, {}),
    "ingest_duckdb_pyarrow_csv": ("ingest", ingest_duckdb_pyarrow_csv, {}),
    "ingest_polars_only": ("ingest", ingest_polars_only, {}),
}
ALL_VARIANTS = {"baseline_imports": ("-", baseline_imports, {}), **ETL_VARIANTS, **INGEST_VARIANTS}
SLOW = {"numpy_genfromtxt"}  # opt-in


def child(variant: str, csv: str, out: str) -> None:
    factory = ALL_VARIANTS[variant][1]
    t = time.perf_counter()
    run = factory()
    t_import = time.perf_counter() - t
    t, c = time.perf_counter(), time.process_time()
    n, aggs, info = run(csv, out)
    seconds, cpu = time.perf_counter() - t, time.process_time() - c
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu": cpu,
                "import": t_import,
                "rows": n,
                "aggs": aggs,
                "info": info,
                "rss_mb": peak_rss_mb(),
            }
        )
    )


def peak_rss_mb() -> float:
    """Peak RSS of this process. VmHWM, not ru_maxrss: Linux carries ru_maxrss over execve, so
    a child would report max(parent, child)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- probe: what does DuckDB do with a LazyFrame? ----------------------------------------------


def probe_lazyframe_pushdown(csv: str) -> list[str]:
    """Log the LazyFrame methods DuckDB calls for the ETL query (replacement scan)."""
    import duckdb
    import polars as pl

    calls: list[str] = []
    saved = {}
    for name in ("collect", "select", "filter", "head", "slice", "collect_batches", "sink_parquet"):
        if not hasattr(pl.LazyFrame, name):
            continue
        orig = saved[name] = getattr(pl.LazyFrame, name)

        def wrap(self, *a, _o=orig, _n=name, **k):  # type: ignore[no-untyped-def]
            args = ", ".join([str(x)[:60] for x in a] + [f"{kk}={v!s:.40}" for kk, v in k.items()])
            calls.append(f"{_n}({args})")
            return _o(self, *a, **k)

        setattr(pl.LazyFrame, name, wrap)
    try:
        src = pl.scan_csv(csv)  # noqa: F841
        duckdb.sql(ETL_SQL.format(src="src")).fetchall()
    finally:
        for name, orig in saved.items():
            setattr(pl.LazyFrame, name, orig)
    return calls


# ---- parent ------------------------------------------------------------------------------------


def ensure_csv(rows: int, workdir: Path) -> Path:
    csv = workdir / f"houses_{rows}.csv"
    if not csv.exists():
        sys.path.insert(0, str(REPO / "examples"))
        from generate_data import write_houses_csv

        t = time.perf_counter()
        write_houses_csv(csv, rows)
        print(
            f"generated {csv} ({csv.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f}s"
        )
    with open(csv, "rb") as f:  # warm the page cache
        while f.read(1 << 24):
            pass
    return csv


def run_child(variant: str, csv: Path, workdir: Path) -> dict:
    env = {**os.environ, **ALL_VARIANTS[variant][2]}
    out = workdir / f"{variant}.parquet"
    proc = subprocess.run(
        [sys.executable, __file__, "--child", variant, "--csv", str(csv), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1]}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    if out.exists():
        out.unlink()
    return res


def check(results: dict[str, list[dict]], names: list[str], ref_name: str) -> dict[str, str]:
    import math

    ref = next((r for r in results.get(ref_name, []) if "error" not in r), None)
    status: dict[str, str] = {}
    for name in names:
        runs = [r for r in results[name] if "error" not in r]
        if not runs:
            status[name] = "ERROR: " + results[name][0]["error"][:60]
            continue
        if ref is None or name == "baseline_imports":
            status[name] = ""
            continue
        r = runs[0]
        k = len(r["aggs"])
        ok = r["rows"] == ref["rows"] and all(
            math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
            for a, b in zip(r["aggs"], ref["aggs"][:k], strict=True)
        )
        status[name] = "ok" if ok else f"MISMATCH rows={r['rows']} aggs={r['aggs']}"
    return status


def print_table(
    title: str, results: dict[str, list[dict]], names: list[str], status: dict[str, str]
) -> None:
    mins = {
        n: min(r["seconds"] for r in results[n] if "error" not in r)
        for n in names
        if any("error" not in r for r in results[n])
    }
    timed = {n: s for n, s in mins.items() if n != "baseline_imports"}
    fastest = min(timed.values()) if timed else 1.0
    print(f"\n{title}")
    print(
        f"{'variant':32s} {'group':18s} {'min s':>7s} {'ratio':>6s} {'median':>7s} "
        f"{'cpu s':>6s} {'RSS MB':>7s} {'imp s':>5s}  check / stages (of the min run)"
    )
    for n in sorted(names, key=lambda n: mins.get(n, 1e9) if n != "baseline_imports" else -1):
        runs = [r for r in results[n] if "error" not in r]
        if not runs:
            print(f"{n:32s} {ALL_VARIANTS[n][0]:18s} {status[n]}")
            continue
        best = min(runs, key=lambda r: r["seconds"])
        med = statistics.median(r["seconds"] for r in runs)
        rss = max(r["rss_mb"] for r in runs)
        cpu = min(r.get("cpu", float("nan")) for r in runs)
        ratio = "" if n == "baseline_imports" else f"{mins[n] / fastest:6.2f}"
        info = " ".join(
            f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in best["info"].items()
        )
        print(
            f"{n:32s} {ALL_VARIANTS[n][0]:18s} {mins[n]:7.2f} {ratio:>6s} {med:7.2f} "
            f"{cpu:6.2f} {rss:7.0f} {best['import']:5.2f}  {status[n]} {info}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workdir", default="/tmp/sqlops-bench")
    ap.add_argument("--only", default="", help="comma-separated variant names")
    ap.add_argument("--skip", default="", help="comma-separated variant names to skip")
    ap.add_argument("--no-ingest", action="store_true", help="skip the ingest-only table")
    ap.add_argument(
        "--with-genfromtxt", action="store_true", help="also run numpy.genfromtxt (slow)"
    )
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--csv", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.csv, args.out)
        return 0

    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    csv = ensure_csv(args.rows, workdir)

    names = ["baseline_imports", *ETL_VARIANTS]
    if not args.no_ingest:
        names += list(INGEST_VARIANTS)
    if args.only:
        names = ["baseline_imports", *args.only.split(",")]
    skip = set(args.skip.split(",")) | (set() if args.with_genfromtxt or args.only else SLOW)
    names = [n for n in names if n not in skip]

    import duckdb
    import polars as pl

    dthreads = duckdb.sql("select current_setting('threads')").fetchall()[0][0]
    print(
        f"rows={args.rows:,} csv={csv} ({csv.stat().st_size / 1e6:.0f} MB) cores={os.cpu_count()} "
        f"duckdb={duckdb.__version__} threads={dthreads} "
        f"polars={pl.__version__} threads={pl.thread_pool_size()} reps={args.reps}"
    )
    print(f"load at start: {os.getloadavg()}")
    print(
        "DuckDB -> LazyFrame calls for the ETL query:",
        "; ".join(probe_lazyframe_pushdown(str(csv))),
    )

    results: dict[str, list[dict]] = {n: [] for n in names}
    for rep in range(args.reps):
        order = names[rep % len(names) :] + names[: rep % len(names)]  # rotate start per rep
        for n in order:
            t = time.perf_counter()
            r = run_child(n, csv, workdir)
            results[n].append(r)
            print(
                f"  rep {rep + 1} {n:32s} {r.get('seconds', float('nan')):7.2f}s"
                f" wall {time.perf_counter() - t:6.2f}s"
                f" {r.get('error', '')}",
                file=sys.stderr,
                flush=True,
            )

    etl = [n for n in names if n in ETL_VARIANTS or n == "baseline_imports"]
    ingest = [n for n in names if n in INGEST_VARIANTS]
    ref = "duckdb_copy_typed" if "duckdb_copy_typed" in names else etl[-1]
    print_table(
        "Seed ETL (CSV -> 3 cols, dropna, z-score, aggs, Parquet); seconds exclude imports",
        results,
        etl,
        check(results, etl, ref),
    )
    if ingest:
        print_table(
            "Ingest only: SELECT count, avg x3 ... WHERE not null, from each CSV path into DuckDB",
            results,
            ingest,
            check(results, ingest, "ingest_polars_only"),
        )
    print(f"\nload at end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
