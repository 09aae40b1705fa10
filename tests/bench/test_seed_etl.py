"""Benchmark: the seed ETL at 10M rows, `sqlops build` side by side with hand-written code.

The seed ETL: read the houses CSV, keep area_m2, age_years and price, drop rows with a
missing value, z-score age_years (population std), then the means and stds of the three.
Every contender writes the same two outputs in the same format, Parquet with snappy (what
sqlops writes): the cleaned, z-scored rows and the one-row aggregates.

- sqlops: `sqlops build --full-refresh` of a project with those three models (a view, a
  table, a table), as a user runs it: a subprocess, interpreter start-up included; with the
  default CSV reader (DuckDB's) and with the opt-in Polars reader (``csv_reader = "polars"``);
- Polars and DuckDB: the same work hand-written in a script, also in a subprocess;
- the seed's pandas code (examples/seed_pandas.py, then the z-score and aggregates) and,
  opt-in (SQLOPS_BENCH_NUMPY=1, ~30 s a run), its numpy code, which writes CSV as the seed did.

Runs are interleaved; the minimum of 3 wall times is reported with the minimum CPU time
(user + system, all threads: steadier than wall on a shared machine), the peak RSS and the
ratio to the hand-written DuckDB script. Goal: the default `sqlops build` at most as slow as
that script (1.00x, start-up counted on both sides) and faster than the seed's pandas and
numpy code. Run with
`uv run just bench` or `uv run python tests/bench/test_seed_etl.py --rows 10000000`;
`tests/bench/seed_etl_variants.py` breaks the hand-written alternatives down.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from reporting import best_of, child_env, ratio_lines

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

POLARS = """
import sys, polars as pl
csv, out = sys.argv[1], sys.argv[2]
clean = (
    pl.scan_csv(csv)
    .select("area_m2", "age_years", "price")
    .drop_nulls()
    .with_columns((pl.col("age_years") - pl.col("age_years").mean()) / pl.col("age_years").std(ddof=0))
    .collect()
)
clean.write_parquet(out + "/clean.parquet", compression="snappy")
stats = clean.select(pl.all().mean().name.prefix("mean_"), pl.all().std(ddof=0).name.prefix("std_"))
stats.write_parquet(out + "/stats.parquet", compression="snappy")
"""

DUCKDB = """
import sys, duckdb
csv, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute(f'''
COPY (
    SELECT area_m2, (age_years - avg(age_years) OVER ()) / stddev_pop(age_years) OVER () AS age_years, price
    FROM read_csv('{csv}')
    WHERE area_m2 IS NOT NULL AND age_years IS NOT NULL AND price IS NOT NULL
) TO '{out}/clean.parquet' (FORMAT parquet, COMPRESSION snappy)''')
con.execute(f'''
COPY (SELECT avg(area_m2), avg(age_years), avg(price), stddev_pop(area_m2), stddev_pop(age_years),
             stddev_pop(price) FROM '{out}/clean.parquet') TO '{out}/stats.parquet' (FORMAT parquet, COMPRESSION snappy)''')
"""

PANDAS = """
import sys
sys.path.insert(0, sys.argv[3])
import pandas as pd
import seed_pandas
csv, out = sys.argv[1], sys.argv[2]
df = seed_pandas.run(csv)
df["age_years"] = (df["age_years"] - df["age_years"].mean()) / df["age_years"].std(ddof=0)
df.to_parquet(out + "/clean.parquet", compression="snappy")
stats = {f"mean_{c}": [df[c].mean()] for c in df} | {f"std_{c}": [df[c].std(ddof=0)] for c in df}
pd.DataFrame(stats).to_parquet(out + "/stats.parquet", compression="snappy")
"""

NUMPY = """
import sys
sys.path.insert(0, sys.argv[3])
import seed_numpy
seed_numpy.run(sys.argv[1], sys.argv[2] + "/dados_limpos.csv")
"""

MODELS = {
    "sql/staging/houses.sql": "-- materialized: view\n"
    "select area_m2, age_years, price from raw.houses\n"
    "where area_m2 is not null and age_years is not null and price is not null\n",
    "sql/clean/houses_zscored.sql": "-- materialized: table\n"
    "select area_m2, zscore(age_years) as age_years, price from staging.houses\n",
    "sql/marts/house_stats.sql": "-- materialized: table\n"
    "select avg(area_m2) as mean_1, avg(age_years) as mean_2, avg(price) as mean_3,\n"
    "  stddev_pop(area_m2) as std_1, stddev_pop(age_years) as std_2, stddev_pop(price) as std_3\n"
    "from clean.houses_zscored\n",
}


def data_file(rows: int) -> Path:
    """The generated CSV, cached outside the repo (10M rows take ~10 s to generate)."""
    folder = Path(os.environ.get("SQLOPS_BENCH_DIR", Path(tempfile.gettempdir()) / "sqlops-bench"))
    path = folder / f"houses_{rows}.csv"
    if not path.exists():
        sys.path.insert(0, str(ROOT / "examples"))
        import generate_data

        folder.mkdir(parents=True, exist_ok=True)
        generate_data.write_houses_csv(path, rows)
    return path


def sqlops_project(work: Path, csv: Path, reader: str = "duckdb") -> Path:
    project = work / f"project_{reader}"
    for name, text in MODELS.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    engine = f'[engine]\ncsv_reader = "{reader}"\n'
    (project / "sqlops.toml").write_text(engine + f'[sources."raw.houses"]\npath = "{csv}"\n')
    return project


Timing = tuple[float, float, float]  # wall seconds, CPU seconds, peak RSS MiB


def timed(cmd: list[str], cwd: Path) -> Timing:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MiB) of one subprocess.

    stderr goes to a file, not a pipe: nobody reads a pipe while waiting, so a chatty child
    could fill it and block.
    """
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err, env=child_env()
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        if status != 0:
            err.seek(0)
            raise RuntimeError(f"{cmd[:3]} failed: {err.read().decode(errors='replace')}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def run(rows: int, reps: int) -> dict[str, Timing]:
    csv = data_file(rows)
    work = Path(tempfile.mkdtemp(prefix="sqlops-seed-etl-"))
    try:
        out = work / "out"
        out.mkdir()
        py = str(BIN / "python")
        build = [str(BIN / "sqlops"), "build", "--full-refresh"]
        contenders = {
            "sqlops build": (build, sqlops_project(work, csv)),
            "sqlops build (polars csv)": (build, sqlops_project(work, csv, "polars")),
            "polars (hand-written)": ([py, "-c", POLARS, str(csv), str(out)], work),
            "duckdb (hand-written)": ([py, "-c", DUCKDB, str(csv), str(out)], work),
            "pandas (seed code)": (
                [py, "-c", PANDAS, str(csv), str(out), str(ROOT / "examples")],
                work,
            ),
            "numpy (seed code)": (
                [py, "-c", NUMPY, str(csv), str(out), str(ROOT / "examples")],
                work,
            ),
        }
        if rows > 2_000_000 and os.environ.get("SQLOPS_BENCH_NUMPY") != "1":
            del contenders["numpy (seed code)"]  # ~30 s a run at 10M rows: opt in
        best = best_of(contenders, reps, timed)
        return best
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(rows: int, best: dict[str, Timing]) -> str:
    title = f"seed ETL, {rows:,} rows: min of runs incl. start-up; ratios to hand-written DuckDB"
    lines = ratio_lines(title, best, "duckdb (hand-written)", 26)
    floor = best["duckdb (hand-written)"][0]
    ratio = best["sqlops build"][0] / floor
    seed = [t[0] for name, t in best.items() if "seed code" in name]
    beats_seed = all(best["sqlops build"][0] < t for t in seed)
    lines.append(
        f"  goal: sqlops wall at most DuckDB's -> {ratio:.2f}x {'met' if ratio <= 1.0 else 'MISSED'};"
        f" faster than the seed's code: {'yes' if beats_seed else 'NO'}"
    )
    return "\n".join(lines)


@pytest.mark.bench
def test_seed_etl_benchmark() -> None:
    rows = int(os.environ.get("BENCH_ROWS", "10000000"))
    best = run(rows, int(os.environ.get("BENCH_REPS", "3")))
    print("\n" + report(rows, best))
    assert set(best) >= {"sqlops build", "polars (hand-written)", "duckdb (hand-written)"}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    print(report(args.rows, run(args.rows, args.reps)))
