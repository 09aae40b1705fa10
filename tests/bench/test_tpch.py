"""Benchmark: a 22-query SQL workload (TPC-H) over CSV sources, `sqlops build` against a
hand-written DuckDB run of the same queries.

Data: the 8 TPC-H tables as CSV files from ``tpchgen-cli`` (scale 1 by default, cached outside
the repo). The queries (``tests/bench/tpch/qNN.sql``, written from the TPC-H specification's
text with its validation parameters) read ``raw.<table>``:

- sqlops: a project with the 8 CSV sources and the 22 queries as table models, built with
  ``sqlops build --full-refresh`` under ``[engine] csv_reader = "duckdb"`` (the default) and
  ``"polars"`` (the opt-in Polars CSV reader), each as a user runs it: its own process,
  start-up included;
- DuckDB (hand-written): one script, its own process, with a view per CSV over ``read_csv``
  and each query's rows written to Parquet with ``COPY`` (as sqlops writes its parts).

Runs are interleaved; the minimum wall time of the runs is reported with CPU time and peak
RSS, and the ratio to the hand-written run. After the runs, every model's rows are compared
with the hand-written run's (floats to 1e-9): a fast build with a different answer fails.
Run with ``uv run python tests/bench/test_tpch.py --scale 1`` or ``-m bench``.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from test_seed_etl import Timing, timed

from reporting import best_of, ratio_lines

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
TABLES = ("customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier")
READERS = ("duckdb", "polars")

DUCKDB = """
import pathlib, sys, duckdb
data, queries, out = sys.argv[1:4]
con = duckdb.connect()
con.execute("CREATE SCHEMA raw")
for table in sys.argv[4:]:
    con.execute(f"CREATE VIEW raw.{table} AS SELECT * FROM read_csv('{data}/{table}.csv')")
for query in sorted(pathlib.Path(queries).glob("q*.sql")):
    con.execute(f"COPY ({query.read_text()}) TO '{out}/{query.stem}.parquet' "
                "(FORMAT parquet, COMPRESSION snappy)")
"""


def data_dir(scale: float) -> Path:
    """The generated CSVs, cached outside the repo (scale 1 takes ~1 min to generate)."""
    folder = Path(os.environ.get("SQLOPS_BENCH_DIR", Path(tempfile.gettempdir()) / "sqlops-bench"))
    path = folder / f"tpch_sf{scale:g}"
    if not (path / "lineitem.csv").exists():
        path.mkdir(parents=True, exist_ok=True)
        cli = BIN / "tpchgen-cli"
        subprocess.run([str(cli), "csv", "-s", f"{scale:g}", f"--output-dir={path}"], check=True)
    return path


def queries() -> list[Path]:
    return sorted((HERE / "tpch").glob("q*.sql"))


def sqlops_project(work: Path, data: Path, reader: str) -> Path:
    project = work / f"project_{reader}"
    models = project / "sql" / "tpch"
    models.mkdir(parents=True)
    for query in queries():
        (models / query.name).write_text("-- materialized: table\n" + query.read_text())
    sources = "".join(f'[sources."raw.{t}"]\npath = "{data / t}.csv"\n' for t in TABLES)
    (project / "sqlops.toml").write_text(f'[engine]\ncsv_reader = "{reader}"\n' + sources)
    return project


def run(scale: float, reps: int) -> tuple[dict[str, Timing], list[str]]:
    """Best timings per contender, and the models whose rows differ from DuckDB's."""
    data = data_dir(scale)
    work = Path(tempfile.mkdtemp(prefix="sqlops-tpch-"))
    try:
        out = work / "out"
        out.mkdir()
        hand = [str(BIN / "python"), "-c", DUCKDB, str(data), str(HERE / "tpch"), str(out)]
        contenders: dict[str, tuple[list[str], Path]] = {
            "duckdb (hand-written)": ([*hand, *TABLES], work)
        }
        for reader in READERS:
            project = sqlops_project(work, data, reader)
            build = [str(BIN / "sqlops"), "build", "--full-refresh"]
            contenders[f"sqlops build, csv_reader={reader}"] = (build, project)
        best = best_of(contenders, reps, timed)
        wrong = [
            f"{reader} {q}"
            for reader in READERS
            for q in different(work / f"project_{reader}", out)
        ]
        return best, wrong
    finally:
        shutil.rmtree(work, ignore_errors=True)


def different(project: Path, out: Path) -> list[str]:
    """The queries whose model rows differ from the hand-written run's Parquet file."""
    import duckdb

    import sqlops

    wrong = []
    built = sqlops.Project(project)
    for query in queries():
        got = built.table(f"tpch.{query.stem}").rows()
        with duckdb.connect() as con:
            expected = con.execute(f"SELECT * FROM '{out / query.stem}.parquet'").fetchall()
        if not _same_rows(got, expected):
            wrong.append(query.stem)
    return wrong


def _same_rows(got: list[tuple[object, ...]], expected: list[tuple[object, ...]]) -> bool:
    if len(got) != len(expected):
        return False
    for a, b in zip(sorted(got, key=repr), sorted(expected, key=repr), strict=True):
        for x, y in zip(a, b, strict=True):
            if isinstance(x, float) or isinstance(y, float):
                if not math.isclose(float(x), float(y), rel_tol=1e-9):  # type: ignore[arg-type]
                    return False
            elif x != y:
                return False
    return True


def report(scale: float, best: dict[str, Timing], wrong: list[str]) -> str:
    title = f"TPC-H SF{scale:g} over CSV, 22 queries: min of runs incl. start-up; ratio to DuckDB"
    lines = ratio_lines(title, best, "duckdb (hand-written)", 32)
    lines.append(f"  answers: {'all equal' if not wrong else 'DIFFERENT: ' + ', '.join(wrong)}")
    return "\n".join(lines)


@pytest.mark.bench
def test_tpch_benchmark() -> None:
    scale = float(os.environ.get("BENCH_TPCH_SCALE", "1"))
    best, wrong = run(scale, int(os.environ.get("BENCH_REPS", "3")))
    print("\n" + report(scale, best, wrong))
    assert not wrong


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    print(report(args.scale, *run(args.scale, args.reps)))
