"""The audit log and drift monitor through a real project and the real CLI: every build,
commit and merge is recorded, tampering is named, and drift is measured against a committed
version without keeping a tagged column's values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ProjectFactory

BIN = Path(sys.executable).parent / "sqlops"
SECRET_EMAIL = "planted.secret@example.com"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLOPS_")}
    return subprocess.run([str(BIN), *args], cwd=cwd, capture_output=True, text=True, env=env)


def people(shift: float) -> str:
    rows = [f"{i},{20 + (i * 7) % 50 + shift},p{i}@example.com,{'ab'[i % 2]}" for i in range(2000)]
    rows[0] = f"0,20,{SECRET_EMAIL},a"
    return "id,age,email,group_\n" + "\n".join(rows) + "\n"


def project(make_project: ProjectFactory) -> Path:
    return make_project(
        {
            "sqlops.toml": """
                [sources."raw.people"]
                path = "data/people.csv"
                [columns."marts.people"]
                email = { pii = "email", anonymize = "hash" }
            """,
            "data/people.csv": people(0),
            "sql/marts/people.sql": "-- materialized: table\nselect * from raw.people\n",
        }
    )


def test_builds_commits_and_merges_are_recorded_and_tampering_is_named(
    make_project: ProjectFactory, tmp_path: Path
) -> None:
    root = project(make_project)
    for args in (["build"], ["commit", "-m", "first"], ["branch", "create", "dev"]):
        assert cli(*args, cwd=root).returncode == 0
    assert cli("merge", "dev", "--into", "main", cwd=root).returncode in (0, 1)
    listed = json.loads(cli("audit", "--json", cwd=root).stdout)["records"]
    assert [r["action"] for r in listed][:2] == ["build", "commit"]
    assert all(r["who"] and r["outcome"] for r in listed)
    assert cli("audit", "verify", cwd=root).returncode == 0
    checkpoint = tmp_path / "head.json"
    assert cli("audit", "checkpoint", "--out", str(checkpoint), cwd=root).returncode == 0
    log = root / ".sqlops" / "audit.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(lines[0].replace(b'"build"', b'"xuild"') + b"".join(lines[1:]))
    edited = cli("audit", "verify", cwd=root)
    assert edited.returncode == 1 and "line 1" in edited.stderr
    log.write_bytes(b"".join(lines[:-1]))  # the tail cut off: only the checkpoint sees it
    assert cli("audit", "verify", cwd=root).returncode == 0
    cut = cli("audit", "verify", "--checkpoint", str(checkpoint), cwd=root)
    assert cut.returncode == 1 and "NOT verified" in cut.stderr


def test_monitor_finds_a_shift_and_keeps_no_tagged_value(make_project: ProjectFactory) -> None:
    root = project(make_project)
    assert cli("build", cwd=root).returncode == 0
    assert cli("commit", "-m", "reference", cwd=root).returncode == 0
    same = cli("monitor", "marts.people", "--reference", "main", "--json", cwd=root)
    assert same.returncode == 0, same.stderr
    levels = {(c["column"], c["metric"]): c["level"] for c in json.loads(same.stdout)["columns"]}
    assert set(levels.values()) == {"ok"} and ("age", "ks") in levels
    assert not any(column == "email" for column, _ in levels)  # tagged: never profiled
    (root / "data" / "people.csv").write_text(people(15))
    assert cli("build", cwd=root).returncode == 0
    shifted = cli("monitor", "marts.people", "--reference", "main", "--json", cwd=root)
    assert shifted.returncode == 1
    drifted = {(c["column"], c["metric"]) for c in json.loads(shifted.stdout)["columns"]
               if c["level"] == "drift"}  # fmt: skip
    assert ("age", "wasserstein") in drifted and all(col == "age" for col, _ in drifted)
    state = root / ".sqlops"
    kept = [*(state / "monitor").rglob("*.json"), state / "audit.jsonl", state / "catalog.duckdb"]
    assert len(kept) == 3 and all(p.is_file() for p in kept)
    assert all(SECRET_EMAIL.encode() not in p.read_bytes() for p in kept)


def test_a_machine_without_a_git_identity_still_records(
    make_project: ProjectFactory, tmp_path: Path
) -> None:
    """A fresh machine has no git user: records carry the login name (a build there used to
    fail on an empty ``who``)."""
    root = project(make_project)
    empty = tmp_path / "gitconfig"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLOPS_")}
    env.update(GIT_CONFIG_GLOBAL=str(empty), GIT_CONFIG_NOSYSTEM="1", USER="newcomer")
    done = subprocess.run([str(BIN), "build"], cwd=root, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    (line,) = (root / ".sqlops" / "audit.jsonl").read_text().splitlines()
    assert json.loads(line)["who"] == "newcomer"
