"""Owners: every source, model, feature view and saved model is listed with its owner, and
``require_owner`` fails the build naming each one that has none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import sqlops

from conftest import ProjectFactory

FILES = {
    "sqlops.toml": """
        [governance]
        require_owner = true
        [sources."raw.orders"]
        path = "data/orders.csv"
        owner = "ingest"
        [sources."raw.refunds"]
        path = "data/orders.csv"
        [entities.customer]
        join_keys = ["customer_id"]
        [feature_views.spend]
        source = "marts.spend"
        entities = ["customer"]
        timestamp = "at"
        features = ["total"]
    """,
    "data/orders.csv": "order_id,customer_id,amount\n1,10,5.5\n2,10,7.0\n",
    "sql/marts/spend.sql": """
        -- materialized: table
        -- owner: finance
        select customer_id, sum(amount) as total, timestamp '2026-01-01' as at
        from raw.orders group by customer_id
    """,
    "sql/marts/loose.sql": "select * from raw.refunds\n",
}


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "sqlops"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLOPS_")}
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, env=env)


def test_require_owner_fails_the_build_naming_every_missing_owner(
    make_project: ProjectFactory,
) -> None:
    root = make_project(FILES)
    with pytest.raises(sqlops.GovernanceError) as exc:
        sqlops.Project(root).build()
    message = str(exc.value)
    assert "3 have no owner" in message and "\n" not in message
    for missing in ("source raw.refunds", "model marts.loose", "feature_view spend"):
        assert missing in message
    assert "raw.orders" not in message and "marts.spend" not in message
    done = _cli("build", cwd=root)
    assert done.returncode == 1 and done.stderr.startswith("Error: require_owner is on")
    assert (
        not (root / ".sqlops" / "warehouse.duckdb").exists()
        or not sqlops.Project(root)
        .sql("select * from duckdb_views() where schema_name = 'marts'")
        .height
    )


def test_owners_lists_every_kind_with_its_owner(make_project: ProjectFactory) -> None:
    files = {**FILES, "sqlops.toml": FILES["sqlops.toml"].replace("true", "false")}
    root = make_project(files)
    project = sqlops.Project(root)
    project.build().raise_on_error()
    project.features.save_model("churn", {"weights": [1, 2]}, owner="ml-team")
    done = _cli("owners", "--json", cwd=root)
    assert done.returncode == 0, done.stderr
    got = {(o["kind"], o["name"]): o["owner"] for o in json.loads(done.stdout)["owners"]}
    assert got == {
        ("source", "raw.orders"): "ingest",
        ("source", "raw.refunds"): "",
        ("model", "marts.spend"): "finance",
        ("model", "marts.loose"): "",
        ("feature_view", "spend"): "",
        ("saved_model", "churn@1"): "ml-team",
    }
    shown = _cli("owners", cwd=root).stdout
    assert "3 without an owner: spend, marts.loose, raw.refunds" in " ".join(shown.split())
