"""Every command shown in the README runs, in order, as written."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BIN = Path(sys.executable).parent


def _console_blocks() -> list[list[str]]:
    blocks = re.findall(r"```console\n(.*?)```", README.read_text(), re.S)
    return [
        [line[2:].split("  #")[0].strip() for line in block.splitlines() if line.startswith("$ ")]
        for block in blocks
    ]


def _run(commands: list[str], cwd: Path) -> None:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env = {k: v for k, v in env.items() if not k.startswith("SQLOPS_")}
    for command in commands:
        for part in command.split("&&"):
            words = shlex.split(part)
            if words[0] == "cd":
                cwd = cwd / words[1]
                continue
            done = subprocess.run(words, cwd=cwd, env=env, capture_output=True, text=True)
            assert done.returncode == 0, f"`{part.strip()}` failed:\n{done.stderr}"


def test_readme_has_the_two_quickstart_commands() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), re.S)
    assert blocks[:2] == ["pip install uv && uv run sqlops build\n", "uv run pytest\n"]


def test_project_and_version_commands_run_in_order(tmp_path: Path) -> None:
    project, versions = _console_blocks()[:2]
    assert project[0].startswith("sqlops init") and versions[0].startswith("sqlops commit")
    _run(project + versions, tmp_path)


def test_single_file_commands_run(tmp_path: Path) -> None:
    pl.DataFrame({"city": ["Recife", "Natal"], "price": [250_000, 90_000]}).write_csv(
        tmp_path / "houses.csv"
    )
    (tmp_path / "analysis.sql").write_text(
        "select city, price from 'houses.csv' where price >= $min_price"
    )
    _run(next(b for b in _console_blocks() if b[0].startswith("sqlops query")), tmp_path)
    assert pl.read_parquet(tmp_path / "result.parquet")["city"].to_list() == ["Recife"]


@pytest.mark.parametrize("block", re.findall(r"```python\n(.*?)```", README.read_text(), re.S))
def test_python_examples_run(block: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    subprocess.run([str(BIN / "sqlops"), "init", "p"], cwd=tmp_path, check=True)
    root = tmp_path / "p"
    monkeypatch.chdir(root)
    pl.read_csv(root / "data/orders.csv", try_parse_dates=True).write_parquet(
        root / "orders.parquet"
    )
    if "@sqlops.model" in block:
        pl.DataFrame({"bedrooms": [1, 2], "price": [1.0, 2.0]}).write_csv(root / "houses.csv")
        (root / "sqlops.toml").write_text(
            (root / "sqlops.toml").read_text() + '\n[sources."raw.houses"]\npath = "houses.csv"\n'
        )
        target = root / "sql/marts/price_by_bedrooms.py"
        target.write_text(block.split("\n", 1)[1])
        import sqlops

        assert sqlops.Project(root).build().ok
        return
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)
    revenue = namespace["revenue"]
    assert isinstance(revenue, pl.DataFrame) and revenue.height > 0
