"""Roles through a real project and the real CLI: every read path (table, sql, query, run,
export, training sets, online reads) as the role sees it, refusals audited without values.
Oracles: Python's ``hmac``, a hand-written Polars filter over the owner's table."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from sqlops.api import Project
from sqlops.api.query import query, run_file
from sqlops.errors import PolicyDenied, PrivacyError

from conftest import ProjectFactory

KEY = "role-test-secret"
PLANTED = "planted.secret@example.com"  # a raw tagged value in a row the role reads
CONFIG = """
[sources."raw.customers"]
path = "data/customers.csv"

[entities.customer]
join_keys = ["customer_id"]

[feature_views.cust]
source = "marts.customers"
entities = ["customer"]
timestamp = "signed_up"
features = ["score", "email"]

[columns."marts.customers"]
email = { pii = "email", anonymize = "hash" }
phone = { pii = "phone", anonymize = "mask" }

[roles.analyst]
tables = ["marts.*"]
deny_columns = ["marts.customers.ssn"]
anonymized = true
row_filters = { "marts.customers" = "country = 'BR'" }

[roles.scientist]
tables = ["marts.*"]
deny_columns = ["marts.customers.ssn"]
anonymized = true
"""
CSV = f"""customer_id,email,phone,ssn,country,score,signed_up
1,{PLANTED},555-123-4567,111-22-3333,BR,0.5,2026-01-01 00:00:00
2,bob@example.org,555-987-6543,222-33-4444,PT,0.7,2026-01-02 00:00:00
3,carla@example.net,555-000-1111,333-44-5555,BR,0.9,2026-01-03 00:00:00
4,dan@example.com,,444-55-6666,PT,0.1,2026-01-04 00:00:00
"""
MODEL = "-- materialized: table\nselect * from raw.customers\n"


def sqlops(*args: str, cwd: Path, key: bool = True) -> subprocess.CompletedProcess[str]:
    """The real console script, with the HMAC secret (or without, ``key=False``)."""
    exe = Path(sys.executable).parent / "sqlops"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLOPS_")}
    if key:
        env["SQLOPS_HMAC_KEY"] = KEY
    return subprocess.run(
        [str(exe), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SQLOPS_ROLE", raising=False)
    monkeypatch.setenv("SQLOPS_HMAC_KEY", KEY)


@pytest.fixture
def root(make_project: ProjectFactory, keyed: None) -> Path:
    base = make_project(
        {"sqlops.toml": CONFIG, "data/customers.csv": CSV, "sql/marts/customers.sql": MODEL}
    )
    built = sqlops("build", cwd=base)
    assert built.returncode == 0, built.stderr
    return base


def expected(root: Path) -> pl.DataFrame:
    """The analyst's rows, computed by hand from the owner's table."""

    def mac(value: str | None) -> str | None:
        if value is None:
            return None
        return hmac.new(KEY.encode(), value.encode(), hashlib.sha256).hexdigest()

    def mask(value: str | None) -> str | None:
        if value is None:
            return None
        return "*" * len(value) if len(value) < 8 else "*" * (len(value) - 4) + value[-4:]

    owner = Project(root).table("marts.customers")
    return (
        owner.filter(pl.col("country") == "BR")
        .drop("ssn")
        .with_columns(
            pl.col("email").map_elements(mac, return_dtype=pl.String),
            pl.col("phone").map_elements(mask, return_dtype=pl.String),
        )
        .sort("customer_id")
    )


def audit(root: Path) -> list[dict[str, object]]:
    path = root / ".sqlops/audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_role_reads_rows_filtered_columns_denied_and_tagged_hashed(root: Path) -> None:
    analyst = Project(root, role="analyst")
    want = expected(root)
    assert analyst.table("marts.customers").sort("customer_id").equals(want)
    got = analyst.sql("select * from marts.customers order by customer_id")
    assert got.equals(want)
    assert "ssn" not in got.columns and PLANTED not in got["email"].to_list()
    # sqlops.query / run_file with role= read the same view
    assert query("select * from marts.customers order by 1", project=root, role="analyst").equals(
        want
    )
    (root / "one.sql").write_text("select count(*) as n from marts.customers")
    frame = run_file(root / "one.sql", project=root, role="analyst")
    assert frame is not None and frame["n"].to_list() == [want.height]


REFUSED = [
    ("select ssn from marts.customers", "marts.customers.ssn"),
    ("select * from raw.customers", "raw.customers"),
    ("select * from read_csv('data/customers.csv')", "read_csv"),
]


@pytest.mark.parametrize(("sql", "named"), REFUSED)
def test_library_role_refuses_and_audits(root: Path, sql: str, named: str) -> None:
    with pytest.raises(PolicyDenied, match=named.replace(".", r"\.")) as info:
        Project(root, role="analyst").sql(sql)
    assert "\n" not in str(info.value)
    last = audit(root)[-1]
    assert last["action"] == "denied_read" and last["outcome"] == "denied"
    assert last["details"] == {"role": "analyst"}


@pytest.mark.parametrize(("sql", "named"), REFUSED)
def test_cli_query_role_refuses_one_line_and_audits(root: Path, sql: str, named: str) -> None:
    planted = f"{sql} where email = '{PLANTED}'" if "read_csv" not in sql else sql
    out = sqlops("query", planted, "--role", "analyst", "--json", cwd=root)
    assert out.returncode == 1
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and named in lines[0]
    last = audit(root)[-1]
    assert last["action"] == "denied_read" and last["details"] == {"role": "analyst"}
    assert PLANTED not in (root / ".sqlops/audit.jsonl").read_text()
    assert PLANTED not in out.stderr


def test_cli_query_json_and_export_hold_the_role_rows_only(root: Path) -> None:
    want = expected(root)
    out = sqlops("query", "select * from marts.customers", "--role", "analyst", "--json", cwd=root)
    assert out.returncode == 0, out.stderr
    assert PLANTED not in out.stdout
    assert sorted(r["customer_id"] for r in json.loads(out.stdout)) == [1, 3]
    target = root / "out/analyst.csv"
    done = sqlops("export", "marts.customers", "--out", str(target), "--role", "analyst", cwd=root)
    assert done.returncode == 0, done.stderr
    assert PLANTED not in target.read_text() and PLANTED not in done.stdout
    assert pl.read_csv(target, try_parse_dates=True).sort("customer_id").equals(want)
    last = audit(root)[-1]
    assert last["action"] == "export" and last["target"] == "marts.customers"
    assert last["details"] == {"role": "analyst", "rows": 2}
    assert PLANTED not in (root / ".sqlops/audit.jsonl").read_text()
    # the owner's export is the whole table
    owner = Project(root).export("marts.customers", root / "out/owner.parquet")
    assert owner.rows == 4 and owner.role == ""


def test_role_file_is_refreshed_after_a_rebuild(root: Path) -> None:
    analyst = Project(root, role="analyst")
    assert analyst.sql("select count(*) as n from marts.customers")["n"][0] == 2
    with (root / "data/customers.csv").open("a") as f:
        f.write("5,eve@example.com,555-222-3333,555-66-7777,BR,0.3,2026-01-05 00:00:00\n")
    assert sqlops("build", cwd=root).returncode == 0
    ids = "select customer_id from marts.customers order by 1"
    # the same project object (whose sandbox stayed open) and a new one both see the rebuild
    assert analyst.sql(ids)["customer_id"].to_list() == [1, 3, 5]
    assert Project(root, role="analyst").sql(ids)["customer_id"].to_list() == [1, 3, 5]


def test_missing_hmac_secret_with_a_hash_rule_is_one_line(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = sqlops(
        "query", "select 1 as x from marts.customers", "--role", "analyst", cwd=root, key=False
    )
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "marts.customers.email" in lines[0] and "HMAC" in lines[0]
    monkeypatch.delenv("SQLOPS_HMAC_KEY")
    with pytest.raises(PrivacyError, match="HMAC secret"):
        Project(root, role="analyst").table("marts.customers")


def test_role_refuses_scripts_refs_frames_and_unknown_roles(root: Path) -> None:
    (root / "two.sql").write_text("select 1 as a;\nselect 2 as b;\n")
    with pytest.raises(PolicyDenied, match="2 statements"):
        run_file(root / "two.sql", project=root, role="analyst")
    analyst = Project(root, role="analyst")
    with pytest.raises(PolicyDenied, match="ref=main"):
        analyst.table("marts.customers", ref="main")
    with pytest.raises(PolicyDenied, match="frames"):
        analyst.sql("select * from df", df=pl.DataFrame({"x": [1]}))
    assert [r["action"] for r in audit(root)[-3:]] == ["denied_read"] * 3
    out = sqlops("query", "select 1", "--role", "analist", cwd=root)
    assert out.returncode == 1 and "analyst" in out.stderr
    out = sqlops("export", "marts.customers", "--out", "x.csv", "--role", "analist", cwd=root)
    assert out.returncode == 1 and "analyst" in out.stderr and not (root / "x.csv").exists()


def test_training_set_under_a_role_applies_filters_and_masks(root: Path) -> None:
    entities = pl.DataFrame(
        {"customer_id": [1, 2, 3], "event_timestamp": [datetime(2026, 2, 1)] * 3}
    )
    analyst = Project(root, role="analyst").features
    frame = analyst.get_historical_features(entities, ["cust:score", "cust:email"])
    want = expected(root).select("customer_id", "score", "email")
    got = frame.filter(pl.col("score").is_not_null()).select("customer_id", "score", "email")
    assert got.sort("customer_id").equals(want)
    assert frame.filter(pl.col("customer_id") == 2)["score"].to_list() == [None]  # filtered
    (root / "ent.csv").write_text("customer_id,event_timestamp\n1,2026-02-01 00:00:00\n")
    out = sqlops(
        "features", "train", "--entities", "ent.csv", "-f", "cust:email", "--out", "t.csv",
        "--role", "analyst", cwd=root,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert PLANTED not in (root / "t.csv").read_text()
    with pytest.raises(PolicyDenied, match="ref=main"):
        analyst.get_historical_features(entities, ["cust:score"], ref="main")


def test_online_reads_under_a_role_are_refused_when_not_raw_readable(root: Path) -> None:
    assert sqlops("features", "materialize", cwd=root).returncode == 0
    out = sqlops(
        "features", "online", "-f", "cust:email", "-e", "customer_id=1", "--role", "analyst",
        "--json", cwd=root,
    )  # fmt: skip
    assert out.returncode == 1 and PLANTED not in out.stdout + out.stderr
    assert "row filter" in out.stderr
    assert audit(root)[-1]["action"] == "denied_read"
    scientist = Project(root, role="scientist").features
    rows = [{"customer_id": 1}, {"customer_id": 2}]
    got = scientist.get_online_features(["cust:score"], rows)
    assert got == Project(root).features.get_online_features(["cust:score"], rows)
    with pytest.raises(PolicyDenied, match=r"marts\.customers\.email") as info:
        scientist.get_online_features(["cust:email"], rows)
    assert PLANTED not in str(info.value)
    assert audit(root)[-1]["target"] == "marts.customers.email"
