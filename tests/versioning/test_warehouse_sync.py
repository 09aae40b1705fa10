"""The warehouse follows the version it shows: a merge or revert into the checked-out branch
updates it, a commit never drops work it did not make, a checkout never discards uncommitted
built tables silently — each checked against Polars over the CSV, on both backends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

import sqlops
from sqlops import Project
from sqlops.errors import CommitConflict, UncommittedChanges

pytestmark = pytest.mark.usefixtures("backend")

REVENUE = "select sum(revenue) as s from marts.customer_revenue"


def _expected(csv: str) -> float:
    """sum(revenue) of the scaffold's marts.customer_revenue, computed with Polars."""
    frame = pl.read_csv(csv.encode()).drop_nulls(["customer_id", "amount"])
    per_customer = frame.group_by("customer_id").agg(pl.col("amount").sum().round(2))
    return float(per_customer["amount"].sum())


def _write(path: Path, text: str, tick: int) -> None:
    path.write_text(text)
    os.utime(path, ns=(tick, tick))  # a different mtime even on coarse clocks


def _scaffold(tmp_path: Path) -> tuple[Path, str, str]:
    """An `sqlops init` project with main committed; the CSV and the CSV with its last
    row appended once more (the issue's reproduction)."""
    root = tmp_path / "proj"
    sqlops.init(root)
    original = (root / "data/orders.csv").read_text()
    return root, original, original + original.splitlines()[-1] + "\n"


def _value(project: Project, ref: str | None = None) -> float:
    return float(project.sql(REVENUE, ref=ref)["s"][0])


def test_merge_into_the_checked_out_branch_shows_the_merge(tmp_path: Path) -> None:
    root, original, appended = _scaffold(tmp_path)
    csv = root / "data/orders.csv"
    project = Project(root)
    project.build()
    project.commit("base")
    project.create_branch("b1")
    _write(csv, appended, 10**18)
    assert project.build(branch="b1").ok
    project.checkout("main")
    _write(csv, original, 2 * 10**18)
    project.build()
    project.merge("b1")
    assert _value(project) == pytest.approx(_expected(appended))
    assert _value(project, "main") == pytest.approx(_expected(appended))
    project.commit("x")  # must not put the old data back
    assert _value(project, "main") == pytest.approx(_expected(appended))
    assert project.status().uncommitted == ()


def test_revert_on_the_checked_out_branch_shows_the_revert(tmp_path: Path) -> None:
    root, original, appended = _scaffold(tmp_path)
    project = Project(root)
    project.build()
    project.commit("good")
    _write(root / "data/orders.csv", appended, 10**18)
    project.build()
    bad = project.commit("bad")
    assert bad is not None
    project.revert(bad.id)
    assert _value(project) == pytest.approx(_expected(original))
    project.commit("x")
    assert _value(project, "main") == pytest.approx(_expected(original))


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real console script; the environment (lakeFS settings too) is passed on."""
    exe = Path(sys.executable).parent / "sqlops"
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def _cli_value(root: Path, *ref: str) -> float:
    done = _cli("query", REVENUE, *ref, "--json", cwd=root)
    assert done.returncode == 0, done.stderr
    return float(json.loads(done.stdout)[0]["s"])


def test_merge_and_revert_from_the_cli_keep_the_warehouse_on_the_new_head(
    tmp_path: Path,
) -> None:
    root, original, appended = _scaffold(tmp_path)
    csv = root / "data/orders.csv"
    steps = [["build"], ["commit", "-m", "base"], ["branch", "create", "b1"]]
    for step in steps:
        assert _cli(*step, cwd=root).returncode == 0, step
    _write(csv, appended, 10**18)
    assert _cli("build", "--branch", "b1", cwd=root).returncode == 0
    assert _cli("checkout", "main", cwd=root).returncode == 0
    _write(csv, original, 2 * 10**18)
    assert _cli("build", cwd=root).returncode == 0
    assert _cli("merge", "b1", cwd=root).returncode == 0
    assert _cli_value(root) == pytest.approx(_expected(appended))
    assert _cli_value(root, "--ref", "main") == pytest.approx(_expected(appended))
    assert _cli("commit", "-m", "x", cwd=root).returncode == 0
    assert _cli_value(root, "--ref", "main") == pytest.approx(_expected(appended))
    merge_id = json.loads(_cli("log", "--json", cwd=root).stdout)["commits"][0]["id"]
    assert _cli("revert", merge_id, cwd=root).returncode == 0
    assert _cli_value(root) == pytest.approx(_expected(original))
    assert _cli("commit", "-m", "y", cwd=root).returncode == 0
    assert _cli_value(root, "--ref", "main") == pytest.approx(_expected(original))


def test_checkout_refuses_to_discard_uncommitted_tables_unless_forced(tmp_path: Path) -> None:
    root, _, appended = _scaffold(tmp_path)
    project = Project(root)
    project.build()
    project.commit("base")
    project.create_branch("b1")
    _write(root / "data/orders.csv", appended, 10**18)
    project.build()  # built, not committed
    with pytest.raises(UncommittedChanges, match=r"marts\.customer_revenue.*--force"):
        project.checkout("b1")
    assert project.branch == "main"
    assert _value(project) == pytest.approx(_expected(appended))  # nothing discarded
    refused = _cli("checkout", "b1", cwd=root)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.count("\n") == 1 and "uncommitted" in refused.stderr
    with pytest.raises(UncommittedChanges):
        project.merge("b1")  # into main: would replace the same warehouse
    project.checkout("b1", force=True)
    assert project.branch == "b1"
    assert _value(project) == pytest.approx(_value(project, "main"))


def test_status_shows_the_ref_uncommitted_tables_and_stale_models(tmp_path: Path) -> None:
    root, _, appended = _scaffold(tmp_path)
    project = Project(root)
    project.build()
    made = project.commit("base")
    assert made is not None
    clean = project.status()
    assert (clean.ref, clean.branch, clean.commit, clean.head) == ("main", "main", made.id, made.id)
    assert clean.uncommitted == () and clean.stale == ()
    _write(root / "data/orders.csv", appended, 10**18)
    stale = project.status()
    assert [name for name, _ in stale.stale] == ["staging.orders", "marts.customer_revenue"]
    project.build()
    dirty = project.status().to_dict()
    assert {(c["name"], c["kind"]) for c in dirty["uncommitted"]} == {
        ("marts.customer_revenue", "table"),
        ("raw.orders", "source"),
    }
    assert dirty["stale"] == []
    done = _cli("status", "--json", cwd=root)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["uncommitted"] == dirty["uncommitted"]
    shown = _cli("status", cwd=root).stdout
    assert "main" in shown and "marts.customer_revenue" in shown


def _two_projects(tmp_path: Path, backend: str) -> tuple[Path, Path]:
    """Two project folders (two users) writing to one version store: the lakeFS
    repository, or for the local store one versions folder both link to."""
    roots = []
    for name in ("a", "b"):
        root = tmp_path / name
        sqlops.init(root)
        if backend == "local":
            (root / ".sqlops").mkdir()
            (tmp_path / "shared").mkdir(exist_ok=True)
            (root / ".sqlops/versions").symlink_to(tmp_path / "shared")
        roots.append(root)
    return roots[0], roots[1]


_COMMIT = "import sys; from sqlops import Project; Project(sys.argv[1]).commit(sys.argv[2])"


def test_a_commit_on_a_moved_branch_keeps_the_other_writers_work(
    tmp_path: Path, backend: str
) -> None:
    a, b = _two_projects(tmp_path, backend)
    for root in (a, b):  # the same code in both folders, as from one git revision
        (root / "sql/marts/extra.sql").write_text("-- materialized: table\nselect 0 as x\n")
        (root / "sql/marts/other.sql").write_text("-- materialized: table\nselect 0 as y\n")
    first = Project(a)
    first.build()
    first.commit("base")
    second = Project(b)
    second.checkout("main")  # both warehouses at the same commit
    (a / "sql/marts/extra.sql").write_text("-- materialized: table\nselect 1 as x\n")
    first.build()
    (b / "sql/marts/other.sql").write_text("-- materialized: table\nselect 2 as y\n")
    second.build()
    # two processes commit at once, each from a warehouse based on the same old head
    procs = [
        subprocess.Popen([sys.executable, "-c", _COMMIT, str(root), f"from {root.name}"])
        for root in (a, b)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    head = first.versions.get_commit(first.versions.resolve("main"))
    assert {"marts.extra", "marts.other"} <= set(head.tree)
    assert first.sql("select x from marts.extra")["x"].to_list() == [1]
    assert second.sql("select x from marts.extra", ref="main")["x"].to_list() == [1]
    # the writer that landed second now shows the first one's table too; the one that
    # landed first says it is behind, and a checkout brings the other's table in
    for project in (first, second):
        status = project.status()
        if status.behind:
            assert status.head == head.id and status.uncommitted == ()
            project.checkout("main")
        assert project.sql("select x from marts.extra")["x"].to_list() == [1]
        assert project.sql("select y from marts.other")["y"].to_list() == [2]
        assert project.status().uncommitted == ()


def test_a_commit_that_would_replace_another_writers_table_is_refused(
    tmp_path: Path, backend: str
) -> None:
    a, b = _two_projects(tmp_path, backend)
    first = Project(a)
    first.build()
    first.commit("base")
    second = Project(b)
    second.checkout("main")
    model = "sql/marts/customer_revenue.sql"
    for root, limit in ((a, 3), (b, 4)):
        path = root / model
        path.write_text(path.read_text().replace("order by customer_id", f"limit {limit}"))
    first.build()
    landed = first.commit("three customers")
    assert landed is not None
    second.build()
    with pytest.raises(CommitConflict, match=r"main moved .* marts\.customer_revenue"):
        second.commit("four customers")
    assert second.versions.resolve("main") == landed.id
    assert second.sql("select count(*) as n from marts.customer_revenue", ref="main")["n"][0] == 3


def _warehouse_names(root: Path) -> set[str]:
    """Every view and table of the warehouse, read with plain DuckDB."""
    con = duckdb.connect(str(root / ".sqlops/warehouse.duckdb"), read_only=True)
    try:
        return {
            f"{schema}.{name}"
            for schema, name in con.execute(
                "select schema_name, view_name from duckdb_views() where not internal "
                "union all select schema_name, table_name from duckdb_tables()"
            ).fetchall()
        }
    finally:
        con.close()


def test_tables_of_deleted_models_leave_the_warehouse_and_the_next_commit(
    tmp_path: Path,
) -> None:
    root, _, _ = _scaffold(tmp_path)
    extra = root / "sql/marts/extra.sql"
    extra.write_text("-- materialized: table\nselect 1 as x\n")
    project = Project(root)
    project.build()
    kept = project.commit("with extra")
    assert kept is not None
    extra.write_text("-- materialized: table\nselect 2 as x\n")
    project.build()
    extra.unlink()
    # built, then deleted: not committed as if it were current
    assert project.commit("extra deleted, not rebuilt") is None
    assert project.table("marts.extra", ref="main")["x"].to_list() == [1]
    project.build()
    assert "marts.extra" not in _warehouse_names(root)
    assert "marts.customer_revenue" in _warehouse_names(root)
    made = project.commit("extra gone")
    assert made is not None and "marts.extra" not in made.tree
    assert "marts.customer_revenue" in made.tree
