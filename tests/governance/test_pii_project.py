"""``sqlops pii scan`` on a project: untagged PII found with brute-force match rates, and
``--apply`` writes the tags without touching the config's other lines and comments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import ProjectFactory

BIN = Path(sys.executable).parent / "sqlops"
CONFIG = """# the project's own comment, kept as written
[sources."raw.users"]
path = "data/users.csv"   # a trailing comment

[columns."raw.users"]
email = { pii = "email" }  # declared by hand
"""


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLOPS_")}
    return subprocess.run([str(BIN), *args], cwd=cwd, capture_output=True, text=True, env=env)


def cpf(nine: str) -> str:
    digits = [int(c) for c in nine]
    for size in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(size + 1, 1, -1), strict=True))
        digits.append(0 if total % 11 < 2 else 11 - total % 11)
    return "".join(map(str, digits))


def test_scan_finds_untagged_pii_and_apply_keeps_the_config_as_written(
    make_project: ProjectFactory,
) -> None:
    docs = [cpf(f"{i * 7919 % 10**9:09d}") for i in range(1, 41)]
    docs[3] = docs[3][:-1] + str((int(docs[3][-1]) + 1) % 10)  # one wrong check digit
    rows = [f"{i},u{i}@example.com,{d},note {i}" for i, d in enumerate(docs)]
    root = make_project(
        {
            "sqlops.toml": CONFIG,
            "data/users.csv": "id,email,doc,note\n" + "\n".join(rows) + "\n",
        }
    )
    assert cli("build", cwd=root).returncode == 0
    done = cli("pii", "scan", "--json", cwd=root)
    assert done.returncode == 0, done.stderr
    found = {(c["column"], c["kind"]): c for c in json.loads(done.stdout)["columns"]}
    assert found[("email", "email")]["declared"] is True
    assert found[("doc", "cpf")]["declared"] is False
    assert found[("doc", "cpf")]["match_rate"] == 39 / 40  # brute force: one bad digit
    assert not any(column in ("id", "note") for column, _ in found)
    assert all(d not in done.stdout for d in docs)  # names and rates, never a value
    applied = cli("pii", "scan", "--apply", cwd=root)
    assert applied.returncode == 0, applied.stderr
    text = (root / "sqlops.toml").read_text()
    assert text.replace('doc = { pii = "cpf" }\n', "") == CONFIG
    again = json.loads(cli("pii", "scan", "--json", cwd=root).stdout)["columns"]
    assert all(c["declared"] for c in again)
