"""Contracts on a real project through the real CLI: the build gate keeps the previous
version and stops descendants, warnings publish, ``check --json`` has the fixed shape, merges
into a protected branch are refused on failures, and infer/export/import round-trip."""

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

from conftest import ProjectFactory

BIN = Path(sys.executable).parent / "sqlops"
GOOD = "order_id,amount,email\n1,5.5,a@x.com\n2,7.0,b@x.com\n3,1.0,c@x.com\n"
BAD = "order_id,amount,email\n1,5.5,a@x.com\n2,-7.0,secret.b@x.com\n3,1.0,c@x.com\n2,2.0,d@x.com\n"
CONTRACT = """
import pandera.polars as pa


class Orders(pa.DataFrameModel):
    order_id: int = pa.Field(unique=True)
    amount: float = pa.Field(ge=0)
    email: str = pa.Field(str_matches=r"^[^@]+@[^@]+$")
"""
TOTAL = "-- materialized: table\nselect sum(amount) as s from stg.orders\n"
KEYS = {"table", "check", "column", "severity", "outcome", "failures", "rows",
        "failure_percent", "samples"}  # fmt: skip


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLOPS_")}
    return subprocess.run([str(BIN), *args], cwd=cwd, capture_output=True, text=True, env=env)


def make(make_project: ProjectFactory, severity: str = "error", bound: bool = True) -> Path:
    header = f"-- contract: orders\n-- contract_severity: {severity}\n" if bound else ""
    return make_project(
        {
            "sqlops.toml": """
                [sources."raw.orders"]
                path = "data/orders.csv"
                [columns."stg.orders"]
                email = { pii = "email", anonymize = "hash" }
            """,
            "data/orders.csv": GOOD,
            "contracts/orders.py": CONTRACT,
            "sql/stg/orders.sql": f"-- materialized: table\n{header}select * from raw.orders\n",
            "sql/marts/total.sql": TOTAL,
        }
    )


def test_an_error_contract_keeps_the_previous_version_and_stops_descendants(
    make_project: ProjectFactory,
) -> None:
    root = make(make_project)
    assert cli("build", cwd=root).returncode == 0
    (root / "data/orders.csv").write_text(BAD)
    done = cli("build", cwd=root)
    assert done.returncode == 1
    assert "contract of stg.orders failed" in done.stderr and "marts.total" in done.stdout
    project = sqlops.Project(root)
    kept = project.table("stg.orders").sort("order_id")
    first = pl.read_csv(GOOD.encode(), schema=kept.schema)  # what the first build published
    assert kept.equals(first)
    assert project.table("marts.total")["s"].to_list() == [13.5]
    con = duckdb.connect(str(root / ".sqlops/catalog.duckdb"), read_only=True)
    rows = dict(con.execute(
        "SELECT \"check\", failures FROM contract_results WHERE outcome = 'failed' "
        "AND run_id = (SELECT max(run_id) FROM contract_results)").fetchall())  # fmt: skip
    con.close()
    # brute force over BAD: one negative amount, two rows sharing order_id 2
    assert rows == {"greater_than_or_equal_to(0)": 1, "field_uniqueness": 2}
    assert "secret.b@x.com" not in done.stdout + done.stderr  # tagged: samples withheld


def test_a_warn_contract_reports_and_publishes(make_project: ProjectFactory) -> None:
    root = make(make_project, "warn")
    (root / "data/orders.csv").write_text(BAD)
    done = cli("build", cwd=root)
    assert done.returncode == 0, done.stderr
    assert "warn" in done.stdout and "field_uniqueness" in done.stdout
    assert sqlops.Project(root).table("stg.orders").height == 4


def test_check_json_has_the_fixed_shape_and_exit_code(make_project: ProjectFactory) -> None:
    root = make(make_project, "warn")
    assert cli("build", cwd=root).returncode == 0
    clean = cli("check", "--json", cwd=root)
    assert clean.returncode == 0
    results = json.loads(clean.stdout)["results"]
    assert results and all(set(r) >= KEYS for r in results)
    assert {r["outcome"] for r in results} == {"passed"}
    assert all(r["column"] is None or r["column"] in ("order_id", "amount", "email")
               for r in results)  # fmt: skip
    (root / "sql/stg/orders.sql").write_text(
        "-- materialized: table\n-- contract: orders\nselect * from raw.orders\n"
    )
    (root / "data/orders.csv").write_text(BAD)
    assert cli("build", "-s", "marts.total", cwd=root).returncode == 0  # stg.orders not rebuilt
    (root / "contracts/orders.py").write_text(CONTRACT.replace("ge=0", "ge=6"))
    failed = cli("check", "stg.orders", "--json", cwd=root)
    assert failed.returncode == 1
    got = {r["check"]: r for r in json.loads(failed.stdout)["results"]}
    assert got["greater_than_or_equal_to(6)"]["failures"] == 2  # 1.0 and 5.5 of GOOD
    assert got["greater_than_or_equal_to(6)"]["failure_percent"] == pytest.approx(200 / 3)


def test_a_merge_into_a_protected_branch_runs_the_contracts(make_project: ProjectFactory) -> None:
    root = make(make_project, bound=False)
    for args in (["build"], ["commit", "-m", "good"], ["branch", "create", "dev"],
                 ["checkout", "dev"]):  # fmt: skip
        assert cli(*args, cwd=root).returncode == 0, args
    (root / "data/orders.csv").write_text(BAD)
    assert cli("build", cwd=root).returncode == 0
    assert cli("commit", "-m", "bad data", cwd=root).returncode == 0
    assert cli("checkout", "main", cwd=root).returncode == 0
    (root / "sql/stg/orders.sql").write_text(
        "-- materialized: table\n-- contract: orders\nselect * from raw.orders\n"
    )
    refused = cli("merge", "dev", cwd=root)
    assert refused.returncode == 1
    assert "pre-merge check(s) failed" in refused.stderr and "stg.orders" in refused.stderr
    assert "secret.b@x.com" not in refused.stderr
    log = json.loads(cli("log", "--json", cwd=root).stdout)["commits"]
    assert log[0]["message"] == "good"  # the merge made no commit
    assert cli("branch", "create", "scratch", cwd=root).returncode == 0
    assert cli("merge", "dev", "--into", "scratch", cwd=root).returncode == 0  # not protected


def test_infer_writes_a_contract_that_passes_and_odcs_round_trips(
    make_project: ProjectFactory, tmp_path: Path
) -> None:
    root = make(make_project, bound=False)
    assert cli("build", cwd=root).returncode == 0
    inferred = cli("contract", "infer", "stg.orders", "--out", "contracts/inferred.py", cwd=root)
    assert inferred.returncode == 0, inferred.stderr
    (root / "sql/stg/orders.sql").write_text(
        "-- materialized: table\n-- contract: inferred\nselect * from raw.orders\n"
    )
    built = cli("build", cwd=root)
    assert built.returncode == 0, built.stderr
    assert cli("check", cwd=root).returncode == 0
    yaml_file = tmp_path / "orders.yaml"
    exported = cli("contract", "export", "stg.orders", "--out", str(yaml_file), cwd=root)
    assert exported.returncode == 0, exported.stderr
    text = yaml_file.read_text()
    assert "apiVersion: v3.1.0" in text and "classification: email" in text
    (root / "contracts/inferred.py").rename(root / "contracts/original.py")
    imported = cli("contract", "import", str(yaml_file), cwd=root)
    assert imported.returncode == 0, imported.stderr
    from sqlops.governance.contracts import load_contract

    a = load_contract(root, "original").schema
    b = load_contract(root, "inferred").schema
    assert {n: (str(c.dtype), c.nullable, c.unique, sorted(map(str, c.checks)))
            for n, c in a.columns.items()} == {
           n: (str(c.dtype), c.nullable, c.unique, sorted(map(str, c.checks)))
            for n, c in b.columns.items()}  # fmt: skip


@pytest.mark.parametrize(
    ("contract", "said"),
    [
        (CONTRACT.replace("email: str", "mail: str"), "stg.orders.mail"),
        ("import pandera.polars as pa\nclass Orders(pa.DataFrameModel)\n", "contracts/orders.py:2"),
    ],
)
def test_a_bad_contract_is_one_line_and_publishes_nothing(
    make_project: ProjectFactory, contract: str, said: str
) -> None:
    root = make(make_project)
    (root / "contracts/orders.py").write_text(contract)
    done = cli("build", cwd=root)
    assert done.returncode == 1 and said in done.stderr
    errors = [line for line in done.stderr.splitlines() if "stg.orders" in line]
    assert len(errors) == 1
    assert cli("query", "select * from stg.orders", cwd=root).returncode == 1


def test_the_merge_gate_holds_on_lakefs(make_project: ProjectFactory, lakefs_env: str) -> None:
    """The same refusal through the lakeFS backend (a real server): the gate runs on the
    exact commit lakeFS would merge, and main's head does not move."""
    root = make(make_project, bound=False)
    project = sqlops.Project(root)
    project.build().raise_on_error()
    good = project.commit("good")
    assert good is not None
    project.create_branch("dev")
    project.checkout("dev")
    (root / "data/orders.csv").write_text(BAD)
    project.build().raise_on_error()
    project.commit("bad data")
    project.checkout("main")
    (root / "sql/stg/orders.sql").write_text(
        "-- materialized: table\n-- contract: orders\nselect * from raw.orders\n"
    )
    with pytest.raises(sqlops.ChecksFailed) as exc:
        sqlops.Project(root).merge("dev")
    assert "stg.orders" in str(exc.value) and "secret.b@x.com" not in str(exc.value)
    assert sqlops.Project(root).versions.resolve("main") == good.id
