"""Write-audit-publish: checks run against the exact version about to be merged, and a
failure refuses the merge naming each check and table — on both backends."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import polars as pl
import pytest

from sqlops import Project
from sqlops.errors import ChecksFailed, ConfigError, MergeConflict
from sqlops.versioning.checks import MergeCandidate

pytestmark = pytest.mark.usefixtures("backend")

BAD_ROWS = "6,40,-50.0,2026-01-05\n7,50,-1.0,2026-01-06\n"


def no_negative_revenue(version: MergeCandidate) -> list[tuple[str, str]]:
    bad = version.sql("select count(*) as n from marts.revenue where revenue < 0")["n"][0]
    return [("marts.revenue", f"{bad} customers with negative revenue")] if bad else []


def top_is_not_empty(version: MergeCandidate) -> list[tuple[str, str]]:
    return [] if version.table("marts.top").height else [("marts.top", "no rows")]


def _dev_with_rows(root: Path, rows: str) -> Project:
    """main built and committed; dev built from a CSV with ``rows`` appended."""
    project = Project(root)
    project.build()
    project.commit("base")
    project.create_branch("dev")
    csv = root / "data/orders.csv"
    csv.write_text(csv.read_text() + rows)
    os.utime(csv, ns=(10**18, 10**18))
    assert project.build(branch="dev").ok
    return project


def test_failing_check_refuses_the_merge_and_names_check_and_table(orders_project: Path) -> None:
    project = _dev_with_rows(orders_project, BAD_ROWS)
    project.add_check(no_negative_revenue)
    project.add_check(top_is_not_empty)
    main_before = project.branches()["main"]
    with pytest.raises(ChecksFailed) as caught:
        project.merge("dev", into="main")
    # independently: customers whose summed amount on dev is negative
    raw = pl.read_csv(orders_project / "data/orders.csv").drop_nulls(["customer_id", "amount"])
    negative = raw.group_by("customer_id").agg(pl.col("amount").sum()).filter(pl.col("amount") < 0)
    assert [(f.check, f.table) for f in caught.value.failures] == [
        ("no_negative_revenue", "marts.revenue")
    ]
    assert f"{negative.height} customers with negative revenue" in str(caught.value)
    assert "\n" not in str(caught.value) and "nothing was merged" in str(caught.value)
    assert project.branches()["main"] == main_before


def test_passing_checks_merge_the_audited_commit(orders_project: Path) -> None:
    project = _dev_with_rows(orders_project, "6,40,50.0,2026-01-05\n")
    seen: list[MergeCandidate] = []

    @project.add_check
    def record(version: MergeCandidate) -> None:
        seen.append(version)

    project.add_check(no_negative_revenue)
    merged = project.merge("dev", into="main")
    assert merged.parents[1] == seen[0].commit == project.branches()["dev"]
    assert "2 pre-merge checks passed" in merged.message
    assert set(seen[0].changed) == {"marts.revenue", "marts.top", "raw.orders"}
    assert seen[0].source == "dev" and seen[0].into == "main"


def test_every_failure_is_collected_and_a_broken_check_fails_closed(
    orders_project: Path,
) -> None:
    project = _dev_with_rows(orders_project, BAD_ROWS)

    def broken(version: MergeCandidate) -> None:
        version.sql("select * from marts.nope")

    project.add_check(broken)
    project.add_check(no_negative_revenue)
    project.add_check(lambda version: ["dev is frozen"])
    with pytest.raises(ChecksFailed) as caught:
        project.merge("dev")
    failures = [(f.check, f.table) for f in caught.value.failures]
    assert failures == [
        ("broken", ""),
        ("no_negative_revenue", "marts.revenue"),
        ("<lambda>", ""),
    ]
    assert "raised ExecutionError" in caught.value.failures[0].message


def test_checks_from_the_config(orders_project: Path) -> None:
    module = f"audit_{uuid.uuid4().hex[:8]}"
    (orders_project / f"{module}.py").write_text(
        "def positive(version):\n"
        "    n = version.sql('select count(*) n from marts.revenue where revenue < 0')['n'][0]\n"
        "    return [('marts.revenue', f'{n} negative')] if n else None\n"
    )
    config = orders_project / "sqlops.toml"
    config.write_text(f'[versions]\npre_merge = ["{module}:positive"]\n' + config.read_text())
    project = _dev_with_rows(orders_project, BAD_ROWS)
    with pytest.raises(ChecksFailed, match=r"positive on marts\.revenue: 2 negative"):
        project.merge("dev", into="main")


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ('"nocolon"', "is not 'module:function'"),
        ('"missing_mod_xyz:f"', "importing 'missing_mod_xyz' failed"),
        ('"os:no_such_function"', "module 'os' has no function 'no_such_function'"),
    ],
)
def test_bad_check_entries_are_config_errors(orders_project: Path, entry: str, match: str) -> None:
    config = orders_project / "sqlops.toml"
    original = config.read_text()
    project = _dev_with_rows(orders_project, BAD_ROWS)
    config.write_text(f"[versions]\npre_merge = [{entry}]\n" + original)
    main_before = project.branches()["main"]
    with pytest.raises(ConfigError, match=match):
        Project(orders_project).merge("dev", into="main")
    assert project.branches()["main"] == main_before


def test_conflicts_still_name_the_branch_when_checks_pass(orders_project: Path) -> None:
    project = _dev_with_rows(orders_project, "6,40,50.0,2026-01-05\n")
    project.checkout("main")
    csv = orders_project / "data/orders.csv"
    csv.write_text(csv.read_text() + "9,60,1.0,2026-03-01\n")
    os.utime(csv, ns=(2 * 10**18, 2 * 10**18))
    project.build()
    project.commit("main moved")
    project.add_check(lambda version: None)
    with pytest.raises(MergeConflict, match=r"merging dev into main conflicts .*raw\.orders"):
        project.merge("dev")
