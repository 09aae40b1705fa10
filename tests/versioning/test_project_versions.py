"""Data versions through the Project API: commit what a build made, travel in time, branch,
merge and check out — compared with what was built, not with the store's own records."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sqlops import Project
from sqlops.errors import MergeConflict, RefNotFound, VersioningError

# every test runs against the embedded store and against a real lakeFS server
pytestmark = pytest.mark.usefixtures("backend")


def _append(csv: Path, line: str, tick: int) -> None:
    csv.write_text(csv.read_text() + line)
    os.utime(csv, ns=(tick, tick))


def test_commit_log_and_time_travel(orders_project: Path) -> None:
    project = Project(orders_project)
    project.build()
    first_top = project.table("marts.top")
    first = project.commit("first build")
    assert first is not None
    assert first.metadata["sqlops_version"]
    assert {"marts.revenue", "marts.top", "raw.orders"} <= set(first.tree)
    assert project.commit("again") is None  # nothing changed
    _append(orders_project / "data/orders.csv", "6,40,99.0,2026-01-05\n", 10**18)
    project.build()
    second = project.commit("more orders")
    assert second is not None and second.parents == (first.id,)
    assert project.table("marts.top").height == first_top.height + 1
    assert_frame_equal(
        project.table("marts.top", ref="main~1").sort("customer_id"), first_top.sort("customer_id")
    )
    assert [c.message for c in project.log("marts.top")] == ["more orders", "first build"]
    raw_then = project.table("raw.orders", ref=first.id[:10])
    assert raw_then.height == 5  # the source was snapshotted as the build read it


def test_unchanged_tables_share_objects_between_commits(orders_project: Path) -> None:
    project = Project(orders_project)
    project.build()
    first = project.commit("one")
    path = orders_project / "sql/marts/top.sql"
    path.write_text(path.read_text().replace("> 10", "> 12.5"))
    project.build()
    second = project.commit("two")
    assert first is not None and second is not None
    assert first.tree["marts.revenue"] == second.tree["marts.revenue"]
    assert first.tree["marts.top"].parts != second.tree["marts.top"].parts
    assert project.diff("main~1").changed == ("marts.top",)


def test_checkout_switches_the_warehouse_and_back(orders_project: Path) -> None:
    project = Project(orders_project)
    project.build()
    project.commit("v1")
    project.tag("v1")
    before = project.table("marts.revenue")
    _append(orders_project / "data/orders.csv", "6,10,1000.0,2026-01-05\n", 10**18)
    project.build()
    project.commit("v2")
    project.checkout("v1")
    assert_frame_equal(
        project.table("marts.revenue").sort("customer_id"), before.sort("customer_id")
    )
    with pytest.raises(VersioningError, match="not on a branch"):
        project.commit("detached")
    project.checkout("main")
    assert project.table("marts.revenue").filter(pl.col("customer_id") == 10)["revenue"][0] > 1000
    assert {n.action for n in project.plan().models} == {"skip"}


def test_branches_merge_and_conflicts(orders_project: Path) -> None:
    project = Project(orders_project)
    project.build()
    project.commit("base")
    project.create_branch("dev")
    project.checkout("dev")
    path = orders_project / "sql/marts/top.sql"
    path.write_text(path.read_text().replace("> 10", "> 12"))
    project.build()
    project.commit("dev: stricter top")
    assert project.table("marts.top", ref="main").height == 2
    merged = project.merge("dev", into="main")
    assert len(merged.parents) == 2
    assert project.table("marts.top", ref="main").height == project.table("marts.top").height
    # conflicting edits of the same table on both branches
    project.checkout("main")
    path.write_text(path.read_text().replace("> 12", "> 5"))
    project.build()
    project.commit("main: looser top")
    project.checkout("dev")
    path.write_text(path.read_text().replace("> 5", "> 13"))
    project.build()
    project.commit("dev: even stricter")
    with pytest.raises(MergeConflict, match=r"marts\.top"):
        project.merge("dev", into="main")


def test_revert_restores_the_previous_tables(orders_project: Path) -> None:
    project = Project(orders_project)
    project.build()
    project.commit("good")
    good = project.table("marts.top", ref="main")
    path = orders_project / "sql/marts/top.sql"
    path.write_text(path.read_text().replace("> 10", "> 1000"))
    project.build()
    bad = project.commit("bad")
    assert bad is not None
    project.revert(bad.id)
    assert_frame_equal(
        project.table("marts.top", ref="main").sort("customer_id"), good.sort("customer_id")
    )


def test_bad_refs_name_close_ones(orders_project: Path) -> None:
    project = Project(orders_project)
    project.build()
    project.commit("c")
    project.create_branch("feature-a")
    with pytest.raises(RefNotFound, match="did you mean feature-a"):
        project.table("marts.top", ref="feature-b")
    with pytest.raises(VersioningError, match="checked out"):
        project.delete_branch("main")


def test_build_on_a_branch_commits_with_run_metadata(orders_project: Path) -> None:
    project = Project(orders_project)
    project.build()
    project.commit("base")
    project.create_branch("dev")
    path = orders_project / "sql/marts/top.sql"
    path.write_text(path.read_text().replace("> 10", "> 12.5"))
    result = project.build(branch="dev")
    assert result.ok and project.branch == "dev"
    head = project.log(ref="dev", limit=1)[0]
    assert head.metadata["run_id"] == result.run_id
    assert "marts.top" in head.metadata["fingerprints"]
    assert project.table("marts.top", ref="dev").height == 1
    assert project.table("marts.top", ref="main").height == 2
    with pytest.raises(VersioningError, match="no branch 'nope'"):
        project.build(branch="nope")


def test_gc_keeps_what_commits_and_the_warehouse_use(orders_project: Path, backend: str) -> None:
    project = Project(orders_project)
    project.build()
    made = project.commit("one")
    assert made is not None
    committed = project.table("marts.top", ref="main")
    path = orders_project / "sql/marts/top.sql"
    path.write_text(path.read_text().replace("> 10", "> 12.5"))
    project.build()  # the committed object of marts.top is kept: a commit references it
    stray = project.objects.temp_path().parent.parent / "ff" / "0000.parquet"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"not referenced")
    removed, _ = project.gc()
    assert not stray.exists()
    old_top = project.objects.path(made.tree["marts.top"].parts[0])
    if backend == "local":
        assert removed == 1 and old_top.exists()
    else:  # the local folder is only a cache of lakeFS: the old part is read back from it
        assert not old_top.exists()
    assert_frame_equal(project.table("marts.top", ref="main"), committed)
    assert project.table("marts.top").height == 1
    assert project.fsck() == []


def test_fsck_names_the_table_of_a_corrupt_object(orders_project: Path) -> None:
    project = Project(orders_project)
    project.build()
    made = project.commit("one")
    assert made is not None
    part = made.tree["marts.top"].parts[0]
    project.objects.path(part).write_bytes(b"garbage")
    problems = project.fsck()
    assert any("table marts.top" in p and "corrupt" in p for p in problems)


def test_row_diff_by_key_matches_an_independent_comparison(orders_project: Path) -> None:
    project = Project(orders_project)
    path = orders_project / "sql/marts/ids.sql"
    path.write_text(
        "-- materialized: table\nselect range as id, range * 2 as v, 'w' || range as w "
        "from range(100)"
    )
    project.build()
    project.commit("before")
    before = project.table("marts.ids")
    path.write_text(
        "-- materialized: table\nselect range as id, case when range % 10 = 0 then -1 "
        "else range * 2 end as v, case when range % 7 = 0 then null else 'w' || range end "
        "as w from range(5, 120)"
    )
    project.build()
    project.commit("after")
    after = project.table("marts.ids")
    got = project.diff_rows("marts.ids", "main~1", "main", ["id"])
    joined = before.join(after, on="id", how="inner", suffix="_b")
    expected_changed = {
        row["id"]: (
            [c for c in ("v", "w") if row[c] != row[f"{c}_b"]],
            {"v": row["v"], "w": row["w"]},
            {"v": row["v_b"], "w": row["w_b"]},
        )
        for row in joined.iter_rows(named=True)
        if row["v"] != row["v_b"] or row["w"] != row["w_b"]
    }
    added = set(after["id"]) - set(before["id"])
    removed = set(before["id"]) - set(after["id"])
    rows = {r["id"]: r for r in got.to_dicts()}
    assert {i for i, r in rows.items() if r["change"] == "added"} == added
    assert {i for i, r in rows.items() if r["change"] == "removed"} == removed
    changed = {
        i: (r["changed"], r["old"], r["new"]) for i, r in rows.items() if r["change"] == "changed"
    }
    assert changed == expected_changed
    old_rows = {r["id"]: r for r in before.to_dicts()}
    for i in removed:  # a removed row shows its old values, and no new ones
        assert rows[i]["old"] == {"v": old_rows[i]["v"], "w": old_rows[i]["w"]}
        assert rows[i]["new"] is None
    with pytest.raises(VersioningError, match="needs a key"):
        project.diff_rows("marts.ids", "main~1", "main", [])
    with pytest.raises(VersioningError, match="no key column 'nope'"):
        project.diff_rows("marts.ids", "main~1", "main", ["nope"])


def test_diff_rows_from_the_cli_names_old_and_new_values(orders_project: Path) -> None:
    import json
    import subprocess
    import sys

    path = orders_project / "sql/marts/ids.sql"
    path.write_text("-- materialized: table\nselect 1 as id, 10 as v, 'x' as w")
    project = Project(orders_project)
    project.build()
    project.commit("one")
    path.write_text("-- materialized: table\nselect 1 as id, 11 as v, 'x' as w")
    project.build()
    project.commit("two")
    exe = Path(sys.executable).parent / "sqlops"
    args = [str(exe), "diff", "main~1", "main", "marts.ids", "--rows", "--key", "id"]
    shown = subprocess.run(args, cwd=orders_project, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert "v: 10 -> 11" in shown.stdout and "w:" not in shown.stdout
    data = subprocess.run([*args, "--json"], cwd=orders_project, capture_output=True, text=True)
    assert json.loads(data.stdout) == [
        {
            "change": "changed",
            "id": 1,
            "changed": ["v"],
            "old": {"v": 10, "w": "x"},
            "new": {"v": 11, "w": "x"},
        }
    ]


def test_queries_at_a_ref_see_that_version(orders_project: Path) -> None:
    project = Project(orders_project)
    project.build()
    project.commit("one")
    _append(orders_project / "data/orders.csv", "6,40,99.0,2026-01-05\n", 10**18)
    project.build()
    project.commit("two")
    q = "select count(*) as n from marts.top"
    assert project.sql(q)["n"][0] == 3
    assert project.sql(q, ref="main~1")["n"][0] == 2
    import sqlops

    got = sqlops.query("select count(*) as n from raw.orders", project=orders_project, ref="main~1")
    assert got is not None and got["n"][0] == 5


def test_commits_record_the_configured_author_else_gits(
    orders_project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[user]\n\tname = Ana Lima\n\temail = ana@example.org\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    project = Project(orders_project)
    project.build()
    made = project.commit("by git's user")
    assert made is not None
    assert project.log(limit=1)[0].author == "Ana Lima <ana@example.org>"
    config = orders_project / "sqlops.toml"
    config.write_text('[versions]\nauthor = "CI bot <ci@example.org>"\n' + config.read_text())
    project = Project(orders_project)
    project.create_branch("dev")
    project.checkout("dev")
    path = orders_project / "sql/marts/top.sql"
    path.write_text(path.read_text().replace("> 10", "> 12"))
    project.build()
    project.commit("by the configured author")
    project.checkout("main")
    project.merge("dev")
    authors = [c.author for c in project.log(limit=3)]
    assert authors == ["CI bot <ci@example.org>"] * 2 + ["Ana Lima <ana@example.org>"]
