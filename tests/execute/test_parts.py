"""Tables as deterministic parts: equal rows give equal bytes, so a commit after a small
change stores only the parts that cover it. Checked against plain DuckDB and Polars."""

from __future__ import annotations

import doctest
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sqlops import Project
from sqlops.execute import materialize
from sqlops.execute import parts as part_writer
from sqlops.storage.objects import ObjectStore
from sqlops.versioning.store import Commit

from conftest import ProjectFactory, write_parquet

ROWS = 200_000
# ~50 bytes a row: with 1 MiB parts (set below) that is 16,384 rows a part, 13 parts
GEN = """SELECT i AS id, hash(i) AS h, md5(i::VARCHAR) AS s, (i % 97)::INTEGER AS cat
FROM range({n}) t(i)"""


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts of 1 MiB instead of 32, so a table of a few MB has many of them."""
    monkeypatch.setattr(part_writer, "PART_BYTES", 1 << 20)


def _expected(select: str) -> pl.DataFrame:
    con = duckdb.connect()
    frame = pl.from_arrow(con.sql(select).to_arrow_table())
    con.close()
    assert isinstance(frame, pl.DataFrame)
    return frame


def _project(make_project: ProjectFactory, model: str = "select * from raw.big") -> Path:
    root = make_project(
        {
            "sqlops.toml": '[sources."raw.big"]\npath = "data/big.parquet"\n',
            "sql/s/big.sql": f"-- materialized: table\n{model}\n",
        }
    )
    (root / "data").mkdir(exist_ok=True)
    write_parquet(root / "data/big.parquet", GEN.format(n=ROWS))
    return root


def _sizes(project: Project, parts: tuple[str, ...]) -> int:
    return sum(project.objects.path(p).stat().st_size for p in parts)


def _commit_change(make_project: ProjectFactory, source: str) -> tuple[Project, Commit, Commit]:
    """Build and commit the project, rewrite its source as ``source``, build and commit
    again: ``(project, first commit, second commit)``."""
    root = _project(make_project)
    project = Project(root)
    project.build()
    before = project.commit("one")
    assert before is not None
    write_parquet(root / "data/big.parquet", source)
    project.build()
    after = project.commit("changed")
    assert after is not None
    return project, before, after


def _new_bytes(project: Project, before: Commit, after: Commit, table: str) -> float:
    """Bytes of ``after``'s parts that ``before`` did not hold, over the table's bytes."""
    old, new = set(before.tree[table].parts), after.tree[table].parts
    return _sizes(project, tuple(p for p in new if p not in old)) / _sizes(project, new)


def test_a_large_table_is_split_into_parts_that_read_back_in_order(
    make_project: ProjectFactory, small_parts: None
) -> None:
    root = _project(make_project)
    project = Project(root)
    assert project.build().ok
    made = project.commit("one")
    assert made is not None
    parts = made.tree["s.big"].parts
    assert len(parts) == 13  # ceil(200,000 / 16,384)
    heights = [pl.read_parquet(project.objects.path(p)).height for p in parts]
    assert heights == [16_384] * 12 + [ROWS - 12 * 16_384]
    assert_frame_equal(project.table("s.big"), _expected(GEN.format(n=ROWS)))
    assert_frame_equal(project.table("s.big", ref="main"), _expected(GEN.format(n=ROWS)))


def test_a_small_table_is_one_part(make_project: ProjectFactory) -> None:
    root = _project(make_project)
    project = Project(root)
    project.build()
    made = project.commit("one")
    assert made is not None
    assert len(made.tree["s.big"].parts) == 1  # 200,000 rows of ~50 bytes < 32 MiB


@pytest.mark.parametrize("threads", [1, 4])
def test_the_same_rows_give_the_same_parts_whatever_the_thread_count(
    make_project: ProjectFactory, small_parts: None, threads: int
) -> None:
    root = _project(make_project)
    first = Project(root, threads=2)
    first.build()
    made = first.commit("one")
    assert made is not None
    again = Project(root, threads=threads)
    again.build(full_refresh=True)
    assert again.commit("same rows, rebuilt") is None  # every part identical: nothing to commit


def test_a_contiguous_one_percent_change_stores_few_new_bytes(
    make_project: ProjectFactory, small_parts: None
) -> None:
    changed = GEN.format(n=ROWS).replace(
        "md5(i::VARCHAR) AS s",
        "md5(i::VARCHAR || CASE WHEN i BETWEEN 70000 AND 71999 THEN 'x' ELSE '' END) AS s",
    )
    project, before, after = _commit_change(make_project, changed)
    assert_frame_equal(project.table("s.big"), _expected(changed))
    assert 0 < _new_bytes(project, before, after, "s.big") <= 0.10
    # the source snapshot is cut the same way
    assert 0 < _new_bytes(project, before, after, "raw.big") <= 0.10
    assert_frame_equal(project.table("s.big", ref="main~1"), _expected(GEN.format(n=ROWS)))


def test_appended_rows_keep_every_full_part(
    make_project: ProjectFactory, small_parts: None
) -> None:
    grown = GEN.format(n=ROWS + 2_000)
    project, before, after = _commit_change(make_project, grown)
    assert after.tree["s.big"].parts[:12] == before.tree["s.big"].parts[:12]
    assert _new_bytes(project, before, after, "s.big") <= 0.10
    assert_frame_equal(project.table("s.big"), _expected(grown))


def test_an_incremental_commit_stores_only_the_new_rows(
    make_project: ProjectFactory, small_parts: None
) -> None:
    root = _project(make_project)
    model = root / "sql/s/big.sql"
    model.write_text("-- materialized: incremental\n-- cursor: id\nselect * from raw.big\n")
    project = Project(root)
    project.build()
    before = project.commit("one")
    assert before is not None
    write_parquet(root / "data/big.parquet", GEN.format(n=ROWS + 3_000))
    project.build()
    after = project.commit("3,000 new rows")
    assert after is not None
    old = set(before.tree["s.big"].parts)
    new = [p for p in after.tree["s.big"].parts if p not in old]
    added = pl.concat([pl.read_parquet(project.objects.path(p)) for p in new])
    expected = _expected(GEN.format(n=ROWS + 3_000) + f" WHERE i >= {ROWS}")
    assert_frame_equal(added, expected)
    assert_frame_equal(project.table("s.big"), _expected(GEN.format(n=ROWS + 3_000)))


def test_an_upsert_rewrites_only_the_parts_holding_updated_keys(
    make_project: ProjectFactory, small_parts: None
) -> None:
    base = GEN.format(n=ROWS).replace("AS cat", "AS cat, i AS ts")
    root = _project(make_project)
    write_parquet(root / "data/big.parquet", base)
    (root / "sql/s/big.sql").write_text(
        "-- materialized: incremental\n-- unique_key: id\n-- cursor: ts\nselect * from raw.big\n"
    )
    project = Project(root)
    project.build()
    before = project.commit("one")
    assert before is not None
    updates = (
        "SELECT i AS id, hash(i) AS h, 'updated' AS s, (i % 97)::INTEGER AS cat, "
        f"{ROWS} + i AS ts FROM range(70000, 70100) t(i)"
    )
    write_parquet(root / "data/big.parquet", f"{base} UNION ALL {updates}")
    assert project.build().ok
    after = project.commit("100 rows updated")
    assert after is not None
    expected = _expected(
        f"SELECT * FROM ({base}) WHERE id NOT BETWEEN 70000 AND 70099 UNION ALL {updates}"
    )
    assert_frame_equal(project.table("s.big").sort("id"), expected.sort("id"))
    # 12 of 13 parts kept; the one holding ids 65,536-81,919 rewritten with the updates
    kept = set(before.tree["s.big"].parts) & set(after.tree["s.big"].parts)
    assert len(kept) == 12
    assert _new_bytes(project, before, after, "s.big") <= 0.10


def test_an_empty_table_is_one_empty_part_with_its_columns(make_project: ProjectFactory) -> None:
    root = _project(make_project, "select id, s from raw.big where false")
    project = Project(root)
    project.build()
    made = project.commit("one")
    assert made is not None
    (part,) = made.tree["s.big"].parts
    assert pl.read_parquet(project.objects.path(part)).columns == ["id", "s"]
    assert project.table("s.big").height == 0


def test_equal_rows_of_two_tables_stay_two_objects(make_project: ProjectFactory) -> None:
    root = make_project(
        {
            "sql/s/a.sql": "-- materialized: table\nselect 1 as x",
            "sql/s/b.sql": "-- materialized: table\nselect 1 as x",
        }
    )
    project = Project(root)
    project.build()
    made = project.commit("one")
    assert made is not None
    assert made.tree["s.a"].parts != made.tree["s.b"].parts  # fsck can name each table


def test_a_column_named_rowid_keeps_the_table_whole(
    make_project: ProjectFactory, small_parts: None
) -> None:
    root = _project(make_project, "select id as rowid, s from raw.big")
    project = Project(root)
    project.build()
    made = project.commit("one")
    assert made is not None
    assert len(made.tree["s.big"].parts) == 1
    expected = _expected(f"SELECT i AS rowid, md5(i::VARCHAR) AS s FROM range({ROWS}) t(i)")
    assert_frame_equal(project.table("s.big"), expected)


def test_large_tables_staged_at_once_by_two_cursors_both_succeed(tmp_path: Path) -> None:
    # Two models of one build stage their rows in the same in-memory database, each from
    # its own cursor; the first two to start attach it at the same moment.
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from sqlops.execute.engine import Engine

    store = ObjectStore(tmp_path / "objects", tmp_path)
    rows = part_writer.MIN_PART_ROWS * 3

    def write(cursor: Engine, barrier: Barrier, k: int) -> tuple[tuple[str, ...], int]:
        barrier.wait()
        select = f"SELECT range AS i, {k} AS k FROM range({rows})"
        return part_writer.write_parts(cursor, select, store, f"s.t{k}", expected_rows=rows)

    for _ in range(25):
        engine = Engine.open(threads=2)
        barrier = Barrier(2)
        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(write, engine.fork(), barrier, k) for k in range(2)]
            results = [future.result() for future in futures]
        engine.close()
        assert [count for _, count in results] == [rows, rows]


@pytest.mark.parametrize("module", [part_writer, materialize])
def test_docstring_examples(module: object) -> None:
    assert doctest.testmod(module).failed == 0  # type: ignore[arg-type]
