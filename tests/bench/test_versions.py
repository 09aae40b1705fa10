"""Version-store benchmark: the local store's data versions against plain DuckDB floors.

Everything goes through the public API (``sqlops.Project``), on data generated in DuckDB
from ``range()`` with hash-derived columns (deterministic, fast to make). Side by side in
one run, min of ``BENCH_REPS`` (3) with reps interleaved, wall and CPU time:

* committing a ~1 GiB table model (fresh ``build()`` + ``commit()``) vs the floor: plain
  DuckDB ``COPY (same query) TO 'x.parquet'`` + blake3 of the file; the same for a 1 GiB
  Parquet file source, which a commit snapshots; and a commit with nothing changed;
* storage: new bytes / table bytes after changing 1% of the rows in one contiguous range,
  1% scattered at random, appending 1% (DVC stores 100% in every case), and what an
  incremental model's commit adds after 1% new rows;
* checkout: switching the warehouse between two versions of the 1 GiB table;
* branch creation with ~0.1 GiB and with ~5 GiB stored;
* row diff of two 10M-row versions by key (``project.diff_rows``) vs a hand-written DuckDB
  FULL OUTER JOIN over the same Parquet parts.

Only correctness is asserted (diffs equal the hand-written query's, storage reuses parts,
incremental parts hold exactly the new rows); timings are printed, never checked.

    uv run pytest -m bench -s -p no:cacheprovider tests/bench/test_versions.py
    BENCH_ROWS=2000000 uv run pytest -m bench -s tests/bench/test_versions.py   # smoke
    uv run python tests/bench/test_versions.py --workdir /tmp/sqlops-bench-versions

Work files go to a temporary folder (pytest) or ``--workdir``, and are removed at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import blake3
import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sqlops import Project

from reporting import terminal_log

pytestmark = pytest.mark.bench

# ~48 bytes a row in Parquet: 20M rows ~ 0.95 GiB
TABLE = """SELECT i AS id, hash(i) AS h, (hash(i * 7) % 1000000) / 100.0 {change} AS amount,
    md5(i::VARCHAR) AS s, (i % 97)::INTEGER AS cat, DATE '2020-01-01' + (i % 1000)::INTEGER AS day
FROM range({n}) t(i)"""
# incompressible filler for the "5 GiB stored" case: 8 hash columns, 64 bytes a row
FILLER = "SELECT {cols} FROM range({start}, {stop}) t(i)"
FILLER_COLS = ", ".join(f"hash(i, {k}) AS c{k}" for k in range(8))
DIFF = """SELECT i AS id, (hash(i) % 1000000007)::BIGINT {change} AS a, (i % 1000)::INTEGER AS b, md5(i::VARCHAR) AS c
FROM range({n}) t(i) {where}"""


@dataclass
class Timing:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def min(self) -> float:
        return min(self.wall)

    @property
    def cpu_min(self) -> float:
        return min(self.cpu) if self.cpu else float("nan")

    @property
    def median(self) -> float:
        return statistics.median(self.wall)


@dataclass
class Results:
    rows: int
    reps: int
    times: dict[str, Timing] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)

    def sum_last(self, label: str, *parts: str) -> None:
        """Record under ``label`` the sum of the last measurement of each of ``parts``."""
        timing = self.times.setdefault(label, Timing())
        timing.wall.append(sum(self.times[p].wall[-1] for p in parts))
        timing.cpu.append(sum(self.times[p].cpu[-1] for p in parts))

    def timed(self, label: str, fn: Callable[[], Any]) -> Any:
        """Run ``fn``, adding its wall and CPU time (this process, every thread) to label."""
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        out = fn()
        wall, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
        timing = self.times.setdefault(label, Timing())
        timing.wall.append(wall)
        timing.cpu.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
        return out


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def duck(sql: str) -> None:
    con = duckdb.connect()
    try:
        con.execute(sql)
    finally:
        con.close()


def blake3_file(path: Path) -> str:
    """The fastest plain blake3 of a file: memory mapped, on every core."""
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    hasher.update_mmap(path)
    return hasher.hexdigest()


def floor_copy(select: str, target: Path) -> str:
    """The floor of a commit: plain DuckDB writes the table to one Parquet file, hash it."""
    target.unlink(missing_ok=True)
    duck(f"COPY ({select}) TO '{target}' (FORMAT parquet)")
    return blake3_file(target)


def write_project(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def model(select: str, header: str = "-- materialized: table") -> str:
    return f"{header}\n{select}\n"


def fresh(root: Path) -> Project:
    shutil.rmtree(root / ".sqlops", ignore_errors=True)
    return Project(root)


def part_bytes(project: Project, parts: tuple[str, ...] | list[str]) -> int:
    return sum(project.objects.path(p).stat().st_size for p in parts)


def new_share(project: Project, before: Any, after: Any, table: str) -> tuple[float, int, int]:
    """(new bytes / table bytes, new parts, parts) of ``after`` relative to ``before``."""
    old = set(before.tree[table].parts)
    parts = after.tree[table].parts
    new = [p for p in parts if p not in old]
    return part_bytes(project, new) / part_bytes(project, parts), len(new), len(parts)


def stored_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in (root / ".sqlops/versions/objects").glob("??/*.parquet"))


def bump(path: Path) -> None:
    """A rewritten source file must look new to the build even within one mtime tick."""
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))


def build(project: Project) -> None:
    """Build, failing with every model's error (not just "not ok")."""
    result = project.build()
    assert result.ok, [(n.name, n.error) for n in result.nodes if n.error]


def commit(project: Project, message: str) -> Any:
    made = project.commit(message)
    assert made is not None, message
    return made


# ------------------------------------------------------------------------------------------
# the sections
# ------------------------------------------------------------------------------------------


def bench_table_commit(res: Results, work: Path, log: Callable[[str], None]) -> None:
    """A ~1 GiB table model: build + commit vs COPY + hash; unchanged commit; changes;
    checkout between versions."""
    n = res.rows
    select = TABLE.format(n=n, change="")
    root = write_project(work / "table", {"sql/s/big.sql": model(select)})
    floor_file = work / "floor.parquet"
    for rep in range(res.reps):
        log(f"  1 GiB table model, rep {rep + 1}/{res.reps}")
        res.timed("floor: COPY table + blake3", lambda: floor_copy(select, floor_file))
        project = fresh(root)
        built = res.timed("sqlops: build table model", project.build)
        assert built.ok
        made = res.timed("sqlops: commit after build", lambda p=project: commit(p, "v1"))
        res.sum_last(
            "sqlops: build + commit", "sqlops: build table model", "sqlops: commit after build"
        )
    res.facts["table bytes"] = part_bytes(project, made.tree["s.big"].parts)
    res.facts["table parts"] = len(made.tree["s.big"].parts)
    res.facts["floor file bytes"] = floor_file.stat().st_size
    floor_file.unlink()
    res.checks["built equal"] = _same_sum(project, select)
    for _ in range(res.reps):
        res.timed("sqlops: commit, nothing changed", lambda p=project: p.commit("again"))
    project.tag("v1")

    log("  1% of rows changed in one contiguous range")
    lo = n * 37 // 100
    contiguous = TABLE.format(
        n=n, change=f"+ CASE WHEN i BETWEEN {lo} AND {lo + n // 100 - 1} THEN 1 ELSE 0 END"
    )
    (root / "sql/s/big.sql").write_text(model(contiguous))
    build(project)
    v2 = commit(project, "1% contiguous")
    project.tag("v2")
    res.facts["contiguous"] = new_share(project, made, v2, "s.big")
    res.checks["contiguous equal"] = _same_sum(project, contiguous)

    log("  checkout between the two versions")
    for _ in range(res.reps):
        res.timed("sqlops: checkout v1", lambda p=project: p.checkout("v1"))
        res.timed("sqlops: checkout v2", lambda p=project: p.checkout("v2"))
    res.checks["checkout reads v2"] = _same_sum(project, contiguous)
    project.checkout("v1")
    res.checks["checkout reads v1"] = _same_sum(project, select)
    project.checkout("main")

    log("  1% of rows changed at random")
    scattered = TABLE.format(n=n, change="+ CASE WHEN hash(i, 42) % 100 = 0 THEN 1 ELSE 0 END")
    (root / "sql/s/big.sql").write_text(model(scattered))
    build(project)
    v3 = commit(project, "1% scattered")
    res.facts["scattered"] = new_share(project, v2, v3, "s.big")

    log("  1% more rows appended")
    grown = TABLE.format(n=n + n // 100, change="")
    (root / "sql/s/big.sql").write_text(model(grown))
    build(project)
    v4 = commit(project, "1% appended")
    res.facts["appended"] = new_share(project, made, v4, "s.big")
    res.checks["appended equal"] = _same_sum(project, grown)
    shutil.rmtree(root)


def _plain(sql: str) -> tuple[Any, ...]:
    con = duckdb.connect()
    try:
        row = con.execute(sql).fetchone()
        assert row is not None
        return tuple(row)
    finally:
        con.close()


# integers only: a float sum depends on the order DuckDB's threads add it up in
CHECKSUM = "select count(*), sum(hash(id, amount, s) % 1000000007)::BIGINT from "


def _same_sum(project: Project, select: str) -> bool:
    """The warehouse table's row count and checksums equal plain DuckDB's over the query."""
    got = project.sql(CHECKSUM + "s.big").row(0)
    return tuple(got) == _plain(f"{CHECKSUM}({select})")


def bench_source_snapshot(res: Results, work: Path, log: Callable[[str], None]) -> None:
    """A 1 GiB Parquet file source: a commit snapshots it into parts (vs COPY + hash)."""
    root = work / "source"
    (root / "data").mkdir(parents=True)
    src = root / "data/big.parquet"
    duck(f"COPY ({TABLE.format(n=res.rows, change='')}) TO '{src}' (FORMAT parquet)")
    write_project(root, {"sqlops.toml": '[sources."raw.big"]\npath = "data/big.parquet"\n'})
    floor_file = work / "floor-source.parquet"
    select = f"SELECT * FROM read_parquet('{src}')"
    for rep in range(res.reps):
        log(f"  1 GiB source snapshot, rep {rep + 1}/{res.reps}")
        res.timed("floor: COPY source + blake3", lambda: floor_copy(select, floor_file))
        project = fresh(root)
        build(project)
        made = res.timed("sqlops: commit (snapshot source)", lambda p=project: commit(p, "v1"))
    floor_file.unlink()
    res.facts["source parts"] = len(made.tree["raw.big"].parts)
    for _ in range(res.reps):
        res.timed("sqlops: commit source, unchanged", lambda p=project: p.commit("again"))
    log("  source file: 1% of rows changed in one contiguous range")
    n, lo = res.rows, res.rows * 61 // 100
    changed = TABLE.format(
        n=n, change=f"+ CASE WHEN i BETWEEN {lo} AND {lo + n // 100 - 1} THEN 1 ELSE 0 END"
    )
    duck(f"COPY ({changed}) TO '{src}' (FORMAT parquet)")
    bump(src)
    build(project)
    after = commit(project, "source changed")
    res.facts["source contiguous"] = new_share(project, made, after, "raw.big")
    shutil.rmtree(root)


def bench_incremental(res: Results, work: Path, log: Callable[[str], None]) -> None:
    """An incremental model over a growing file: its commit adds only the new rows."""
    log("  incremental model, 1% new rows")
    n = max(res.rows // 4, 10_000)
    root = work / "incremental"
    (root / "data").mkdir(parents=True)
    src = root / "data/events.parquet"
    duck(f"COPY ({TABLE.format(n=n, change='')}) TO '{src}' (FORMAT parquet)")
    write_project(
        root,
        {
            "sqlops.toml": '[sources."raw.events"]\npath = "data/events.parquet"\n',
            "sql/s/events.sql": model(
                "select * from raw.events", "-- materialized: incremental\n-- cursor: id"
            ),
        },
    )
    project = Project(root)
    build(project)
    before = commit(project, "v1")
    added = n // 100
    duck(f"COPY ({TABLE.format(n=n + added, change='')}) TO '{src}' (FORMAT parquet)")
    bump(src)
    build(project)
    after = commit(project, "1% new rows")
    old = set(before.tree["s.events"].parts)
    new = [p for p in after.tree["s.events"].parts if p not in old]
    new_rows = sum(
        pl.scan_parquet(project.objects.path(p)).select(pl.len()).collect().item() for p in new
    )
    new_ids = pl.concat([pl.read_parquet(project.objects.path(p), columns=["id"]) for p in new])
    res.checks["incremental new ids"] = new_ids["id"].to_list() == list(range(n, n + added))
    res.facts["incremental"] = {
        "rows": n,
        "added": added,
        "new parts": len(new),
        "new rows": new_rows,
        "new bytes": part_bytes(project, new),
        "table bytes": part_bytes(project, after.tree["s.events"].parts),
        "source": new_share(project, before, after, "raw.events"),
    }
    shutil.rmtree(root)


def bench_branches(res: Results, work: Path, log: Callable[[str], None]) -> None:
    """Branch creation with ~0.1 GiB stored, then with ~5 GiB stored."""
    root = work / "branches"
    small = TABLE.format(n=max(res.rows // 10, 1000), change="")
    write_project(root, {"sql/s/small.sql": model(small)})
    project = Project(root)
    build(project)
    commit(project, "0.1 GiB")
    res.facts["stored small"] = stored_bytes(root)
    log("  branch creation, ~0.1 GiB stored")
    for k in range(max(res.reps, 10)):
        res.timed(
            "sqlops: create branch, 0.1 GiB stored", lambda k=k: project.create_branch(f"s{k}")
        )
    # ~5 GiB more, as five ~1 GiB tables of incompressible hashes (64 bytes a row)
    per = res.rows * 5 // 6
    for k in range(5):
        sql = FILLER.format(cols=FILLER_COLS, start=k * per, stop=(k + 1) * per)
        (root / f"sql/s/filler{k}.sql").write_text(model(sql))
    log("  building ~5 GiB of tables")
    build(project)
    commit(project, "+5 GiB")
    res.facts["stored large"] = stored_bytes(root)
    log("  branch creation, ~5 GiB stored")
    for k in range(max(res.reps, 10)):
        res.timed("sqlops: create branch, 5 GiB stored", lambda k=k: project.create_branch(f"l{k}"))
    shutil.rmtree(root)


def bench_row_diff(res: Results, work: Path, log: Callable[[str], None]) -> None:
    """Row diff by key of two 10M-row versions vs a hand-written DuckDB query."""
    n = res.rows // 2
    root = work / "diff"
    v1 = DIFF.format(n=n, change="", where="")
    # v2: 1% of rows changed, 0.2% removed, 0.2% added
    v2 = DIFF.format(
        n=n + n // 500,
        change="+ CASE WHEN i % 100 = 3 THEN 1 ELSE 0 END",
        where="WHERE i % 500 <> 7",
    )
    write_project(root, {"sql/s/t.sql": model(v1)})
    project = Project(root)
    build(project)
    a = commit(project, "d1")
    (root / "sql/s/t.sql").write_text(model(v2))
    build(project)
    b = commit(project, "d2")
    paths = [[str(project.objects.path(p)) for p in c.tree["s.t"].parts] for c in (a, b)]
    hand = f"""
        SELECT CASE WHEN a.id IS NULL THEN 'added' WHEN b.id IS NULL THEN 'removed'
                    ELSE 'changed' END AS change,
               coalesce(a.id, b.id) AS id
        FROM read_parquet({paths[0]!r}) a FULL OUTER JOIN read_parquet({paths[1]!r}) b
          ON a.id = b.id
        WHERE a.id IS NULL OR b.id IS NULL OR a.a IS DISTINCT FROM b.a
           OR a.b IS DISTINCT FROM b.b OR a.c IS DISTINCT FROM b.c
        ORDER BY change, id"""

    def floor() -> pl.DataFrame:
        con = duckdb.connect()
        try:
            frame = pl.from_arrow(con.sql(hand).to_arrow_table())
        finally:
            con.close()
        assert isinstance(frame, pl.DataFrame)
        return frame

    for rep in range(res.reps):
        log(f"  row diff of two {n:,}-row versions, rep {rep + 1}/{res.reps}")
        want = res.timed("floor: hand-written DuckDB diff", floor)
        got = res.timed(
            "sqlops: project.diff_rows", lambda: project.diff_rows("s.t", a.id, b.id, ["id"])
        )
    # the floor lists what changed; diff_rows also gives each row's old and new values
    assert_frame_equal(got.select(want.columns), want, check_dtypes=False)
    res.checks["diff equal"] = True
    res.facts["diff"] = dict(got["change"].value_counts().iter_rows())
    res.facts["diff rows"] = n
    shutil.rmtree(root)


SECTIONS = {
    "table": bench_table_commit,
    "source": bench_source_snapshot,
    "incremental": bench_incremental,
    "branches": bench_branches,
    "diff": bench_row_diff,
}


def run_bench(
    work: Path, rows: int, reps: int, log: Callable[[str], None] = print, only: str = ""
) -> Results:
    res = Results(rows, reps)
    work.mkdir(parents=True, exist_ok=True)
    try:
        for name, section in SECTIONS.items():
            if only and name not in only.split(","):
                continue
            t0 = time.perf_counter()
            log(f"{name}:")
            section(res, work, log)
            res.facts[f"section {name} s"] = time.perf_counter() - t0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return res


# ------------------------------------------------------------------------------------------
# the report
# ------------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def ratio_line(res: Results, label: str, floor: str, target: str) -> str:
    t, f = res.times[label], res.times[floor]
    return (
        f"  {label:40s} {t.min:7.2f} s (cpu {t.cpu_min:6.2f} s)  floor {f.min:7.2f} s "
        f"(cpu {f.cpu_min:6.2f} s)  = {t.min / f.min:4.2f}x wall, "
        f"{t.cpu_min / f.cpu_min:4.2f}x cpu   [target {target}]"
    )


def share_line(label: str, share: tuple[float, int, int], target: str) -> str:
    frac, new, parts = share
    return f"  {label:40s} {frac:6.1%} new bytes ({new} of {parts} parts new)   [{target}]"


def report(res: Results) -> str:
    f, t = res.facts, res.times
    out = [
        "",
        f"== version-store bench: {res.rows:,}-row table, min of {res.reps} (load "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}) ==",
    ]
    if "sqlops: build + commit" in t:
        out += [
            f"1 GiB table model: {f['table bytes'] / 2**30:.2f} GiB in {f['table parts']} parts "
            f"(one-file floor {f['floor file bytes'] / 2**30:.2f} GiB)",
            ratio_line(res, "sqlops: build + commit", "floor: COPY table + blake3", "<= 1.5x"),
            f"    of which build {t['sqlops: build table model'].min:.2f} s, commit "
            f"{ms(t['sqlops: commit after build'].min).strip()}",
            f"  {'commit, nothing changed':40s} {ms(t['sqlops: commit, nothing changed'].min)}"
            "   [target < 50 ms]",
            f"  {'checkout v1 / v2 (1 GiB table)':40s} {ms(t['sqlops: checkout v1'].min)} / "
            f"{ms(t['sqlops: checkout v2'].min).strip()}   [target < 50 ms; DVC 0.6-1.0 s]",
            "storage after a change (DVC: 100% new bytes each time):",
            share_line("1% of rows, one contiguous range", f["contiguous"], "target <= 10%"),
            share_line("1% of rows appended", f["appended"], "target <= 10%"),
            share_line("1% of rows scattered at random", f["scattered"], "no target: see note"),
        ]
    if "sqlops: commit (snapshot source)" in t:
        out += [
            f"1 GiB Parquet source snapshot ({f['source parts']} parts):",
            ratio_line(
                res, "sqlops: commit (snapshot source)", "floor: COPY source + blake3", "<= 1.5x"
            ),
            f"  {'commit, source unchanged':40s} "
            f"{ms(t['sqlops: commit source, unchanged'].min)}   [target < 50 ms]",
            share_line("source file, 1% contiguous rows changed", f["source contiguous"], "<= 10%"),
        ]
    if "incremental" in f:
        inc = f["incremental"]
        out += [
            f"incremental model ({inc['rows']:,} rows, {inc['added']:,} appended): commit adds "
            f"{inc['new parts']} part(s), {inc['new rows']:,} rows, "
            f"{inc['new bytes'] / 2**20:.1f} MiB = {inc['new bytes'] / inc['table bytes']:.1%} "
            "of the table   [target: only the new rows]",
            share_line("  its file source's snapshot", inc["source"], "appended: last part + new"),
        ]
    if "sqlops: create branch, 5 GiB stored" in t:
        small, large = (
            t["sqlops: create branch, 0.1 GiB stored"],
            t["sqlops: create branch, 5 GiB stored"],
        )
        out += [
            f"branch creation ({f['stored small'] / 2**30:.2f} GiB vs "
            f"{f['stored large'] / 2**30:.2f} GiB stored):",
            f"  min {ms(small.min)} / {ms(large.min).strip()}, median {ms(small.median)} / "
            f"{ms(large.median).strip()}   [target < 20 ms, same for both]",
        ]
    if "sqlops: project.diff_rows" in t:
        out += [
            f"row diff by key, two {f['diff rows']:,}-row versions ({f['diff']}):",
            ratio_line(
                res, "sqlops: project.diff_rows", "floor: hand-written DuckDB diff", "<= 1.3x"
            ),
        ]
    sections = ", ".join(
        f"{k.split()[1]} {v:.0f} s" for k, v in f.items() if k.startswith("section ")
    )
    out.append(f"section wall times: {sections}")
    return "\n".join(out)


# ------------------------------------------------------------------------------------------
# pytest
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Results:
    log = terminal_log(request)

    rows = int(os.environ.get("BENCH_ROWS", "20000000"))
    reps = int(os.environ.get("BENCH_REPS", "3"))
    res = run_bench(tmp_path_factory.mktemp("versions"), rows, reps, log)
    log(report(res))
    return res


def test_versions_read_back_what_plain_duckdb_computes(bench: Results) -> None:
    names = ("built equal", "contiguous equal", "appended equal")
    for name in (*names, "checkout reads v1", "checkout reads v2"):
        assert bench.checks[name], name


def test_small_changes_reuse_parts(bench: Results) -> None:
    assert bench.facts["table parts"] > 1
    for name in ("contiguous", "appended", "source contiguous"):
        _share, new, parts = bench.facts[name]
        assert 0 < new < parts, name


def test_incremental_commit_stores_only_new_rows(bench: Results) -> None:
    inc = bench.facts["incremental"]
    assert inc["new rows"] == inc["added"]
    assert bench.checks["incremental new ids"]


def test_row_diff_equals_the_hand_written_query(bench: Results) -> None:
    assert bench.checks["diff equal"]
    assert set(bench.facts["diff"]) == {"added", "removed", "changed"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/sqlops-bench-versions"))
    parser.add_argument(
        "--only", default="", help=f"comma-separated subset of {','.join(SECTIONS)}"
    )
    args = parser.parse_args()
    res = run_bench(args.workdir, args.rows, args.reps, only=args.only)
    print(report(res))


if __name__ == "__main__":
    main()
