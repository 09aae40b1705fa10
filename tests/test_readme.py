"""Every command the READMEs show runs, in order, as written, in a scratch copy of the project
it is shown for; the few that cannot run here are listed with the reason."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EXAMPLES_README = ROOT / "examples" / "README.md"
BIN = Path(sys.executable).parent

# Commands shown in a README that no test runs, and why.
NOT_RUN = {
    "pip install uv": "installs uv from the network; the tests run in the environment uv made",
    "uv run pytest": "the test suite itself",
}
# The test that runs each README block, by the block's first command.
SCENARIOS = {
    "pip install uv": "test_quickstart_builds_the_reference_project",
    "uv run pytest": "test_quickstart_builds_the_reference_project",
    "sqlops init": "test_project_and_version_commands_run_in_order",
    "sqlops commit": "test_project_and_version_commands_run_in_order",
    "sqlops query": "test_single_file_commands_run_on_the_shipped_data",
    "sqlops run examples/seed_etl.sql": "test_examples_readme_command_runs",
    "sqlops build && sqlops features list": "test_feature_store_commands_run",
    "export SQLOPS_HMAC_KEY": "test_governance_walkthrough_runs",
}


def _blocks(readme: Path = README) -> list[list[str]]:
    """The commands of each ```console block (``$ `` lines) and ```sh block, comments cut."""
    text = readme.read_text()
    blocks = []
    for kind, body in re.findall(r"```(console|sh)\n(.*?)```", text, re.S):
        lines = [line for line in body.splitlines() if line.strip()]
        if kind == "console":
            lines = [line[2:] for line in lines if line.startswith("$ ")]
        blocks.append([line.split("  #")[0].strip() for line in lines])
    return blocks


def _block(start: str, readme: Path = README) -> list[str]:
    return next(b for b in _blocks(readme) if b[0].startswith(start))


def _run(commands: list[str], cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    """Run each command as a shell would (``&&``, ``cd``), with ``uv run`` meaning the
    environment this test runs in; every one must succeed."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    env = {k: v for k, v in env.items() if not k.startswith("SQLOPS_")}
    done = []
    for command in commands:
        for part in (p.strip() for p in command.split("&&")):
            if part in NOT_RUN:
                continue
            words = shlex.split(part)
            if words[0] == "export":  # export NAME=value: for the commands after it
                name, _, value = words[1].partition("=")
                env[name] = value
                continue
            if words[:2] == ["uv", "run"]:
                words = words[2:]
            if words[0] == "cd":
                cwd = cwd / words[1]
                continue
            ran = subprocess.run(words, cwd=cwd, env=env, capture_output=True, text=True)
            assert ran.returncode == 0, f"`{part}` failed:\n{ran.stderr}"
            done.append(ran)
    return done


def _reference_project(tmp_path: Path) -> Path:
    """A scratch copy of the repo's reference project (config, models, data; no state)."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(ROOT / "pyproject.toml", root)
    for folder in ("sql", "examples", "contracts"):
        shutil.copytree(ROOT / folder, root / folder, ignore=shutil.ignore_patterns(".sqlops"))
    return root


@pytest.mark.parametrize("readme", [README, EXAMPLES_README], ids=lambda p: p.parent.name)
def test_every_readme_command_is_run_by_a_test(readme: Path) -> None:
    for block in _blocks(readme):
        scenario = next((t for start, t in SCENARIOS.items() if block[0].startswith(start)), None)
        assert scenario in globals(), (
            f"{readme.name}: the block starting `{block[0]}` is run by no test: add it to "
            "SCENARIOS in tests/test_readme.py (or its commands to NOT_RUN, with the reason)"
        )


def test_readme_has_the_two_quickstart_commands() -> None:
    assert _blocks()[:2] == [["pip install uv && uv run sqlops build"], ["uv run pytest"]]


def test_quickstart_builds_the_reference_project(tmp_path: Path) -> None:
    root = _reference_project(tmp_path)
    (build,) = _run(_block("pip install uv") + _block("uv run pytest"), root)
    models = len(list((root / "sql").rglob("*.sql"))) + len(list((root / "sql").rglob("*.py")))
    assert f"{models} built, 0 unchanged, 0 failed" in build.stdout


def test_project_and_version_commands_run_in_order(tmp_path: Path) -> None:
    _run(_block("sqlops init") + _block("sqlops commit"), tmp_path)


def test_single_file_commands_run_on_the_shipped_data(tmp_path: Path) -> None:
    root = _reference_project(tmp_path)
    commands = _block("sqlops query")
    _run(commands, root)
    sql = shlex.split(commands[0])[2]
    (as_json,) = _run([f"{commands[0]} --json"], root)
    expected = duckdb.connect().sql(sql.replace("'examples/", f"'{root}/examples/")).pl()
    assert_frame_equal(pl.DataFrame(json.loads(as_json.stdout)), expected, check_dtypes=False)
    houses = pl.read_csv(root / "examples/data/houses.csv").drop_nulls(
        ["area_m2", "age_years", "price"]
    )
    age = pl.col("age_years")
    normalized = houses.with_columns((age - age.mean()) / age.std(ddof=0))
    stats = pl.read_parquet(root / "stats.parquet")
    assert stats.row(0) == pytest.approx(
        (
            *(normalized[c].mean() for c in ("area_m2", "age_years", "price")),
            *(normalized[c].std(ddof=0) for c in ("area_m2", "age_years", "price")),
        ),
        abs=1e-9,
    )


def test_examples_readme_command_runs(tmp_path: Path) -> None:
    root = _reference_project(tmp_path)
    (ran,) = _run(_block("sqlops run", EXAMPLES_README), root)
    assert "media_1" in ran.stdout


def test_feature_store_commands_run(tmp_path: Path) -> None:
    """The feature-store block, in a project made of the config block above it."""
    (config,) = [
        b
        for b in re.findall(r"```toml\n(.*?)```", README.read_text(), re.S)
        if "[feature_views." in b
    ]
    (tmp_path / "sqlops.toml").write_text(config)
    (tmp_path / "data").mkdir()
    (tmp_path / "data/driver_stats.csv").write_text(
        "driver_id,event_timestamp,created,conv_rate,acc_rate,avg_daily_trips\n"
        "1001,2024-01-01 10:00:00,2024-01-01 10:05:00,0.5,0.9,10\n"
        "1002,2024-01-01 11:00:00,2024-01-01 11:05:00,0.3,0.7,5\n"
    )
    (tmp_path / "entities.csv").write_text("driver_id,event_timestamp\n1001,2024-01-01 12:00:00\n")
    ran = _run(_block("sqlops build && sqlops features list"), tmp_path)
    assert pl.read_parquet(tmp_path / "train.parquet")["conv_rate"].to_list() == [0.5]
    # materialized now: the 2024 values are past their 1d ttl
    assert json.loads(ran[-1].stdout) == {"driver_id": [1001], "conv_rate": [None]}


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


def test_governance_walkthrough_runs(tmp_path: Path) -> None:
    """The seed's governance steps on the reference project, checked against independent
    computations: the role's export (Python's hmac, a Polars filter over the shipped CSV),
    the promotion (the card says production), and the audit log (re-hashed here)."""
    import hashlib
    import hmac

    root = _reference_project(tmp_path)
    commands = _block("export SQLOPS_HMAC_KEY")
    done = _run(commands, root)
    key = shlex.split(commands[0])[1].partition("=")[2].encode()
    agents = pl.read_csv(root / "examples/data/agents.csv").filter(pl.col("region") != "Centro")
    exported = pl.read_parquet(root / "agents.parquet").sort("agent_id")
    assert "cpf" not in exported.columns  # denied to the analyst
    assert exported["agent_id"].to_list() == agents["agent_id"].to_list()  # the row filter
    want = [hmac.new(key, e.encode(), hashlib.sha256).hexdigest() for e in agents["email"]]
    assert exported["email"].to_list() == want
    assert exported["full_name"].null_count() == exported.height  # redacted
    shown = "".join(d.stdout + d.stderr for d in done)
    for raw in (*agents["email"], *agents["cpf"]):
        assert raw not in shown
    card = next(d.stdout for d in done if "Model card" in d.stdout)
    assert "**Stage:** production" in card and "**Contracts:** passed" in card
    lines = (root / ".sqlops" / "audit.jsonl").read_bytes().splitlines()
    prev = hashlib.sha256(b"").hexdigest()
    for line in lines:
        assert json.loads(line)["prev"] == prev
        prev = hashlib.sha256(line).hexdigest()
    actions = [json.loads(line)["action"] for line in lines]
    for action in ("build", "check", "pii_scan", "export", "approve", "promote", "monitor"):
        assert action in actions
