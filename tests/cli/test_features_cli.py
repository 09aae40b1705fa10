"""``sqlops features ...`` as a user runs it: the same answers as the Python API, --json is
pure JSON, and a mistake is one line on stderr with exit 1 and nothing written."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from test_cli import sqlops

import sqlops as lib

from conftest import ProjectFactory

CONFIG = """
[sources."raw.driver_stats"]
path = "data/driver_stats.csv"

[entities.driver]
join_keys = ["driver_id"]

[feature_views.driver_hourly_stats]
source = "raw.driver_stats"
entities = ["driver"]
timestamp = "event_timestamp"
created_timestamp = "created"
ttl = "1d"
features = ["conv_rate", "acc_rate"]
owner = "ml-team"
"""
STATS = """driver_id,event_timestamp,created,conv_rate,acc_rate
1001,2024-01-01 10:00:00,2024-01-01 10:05:00,0.5,0.9
1001,2024-01-02 10:00:00,2024-01-02 10:05:00,0.6,
1002,2024-01-01 11:00:00,2024-01-01 11:05:00,0.3,0.7
"""
ENTITIES = """driver_id,event_timestamp
1001,2024-01-02 12:00:00
1002,2024-01-02 12:00:00
1001,2024-01-01 10:30:00
"""


@pytest.fixture
def project(make_project: ProjectFactory) -> Path:
    root = make_project(
        {"sqlops.toml": CONFIG, "data/driver_stats.csv": STATS, "entities.csv": ENTITIES}
    )
    built = sqlops("build", cwd=root)
    assert built.returncode == 0, built.stderr
    return root


def run_json(root: Path, *args: str) -> object:
    done = sqlops(*args, "--json", cwd=root)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_list_and_show(project: Path) -> None:
    listed = run_json(project, "features", "list")
    assert listed == {"feature_views": lib.Project(project).features.list_feature_views()}
    shown = run_json(project, "features", "show", "driver_hourly_stats")
    assert isinstance(shown, dict)
    assert shown["owner"] == "ml-team" and shown["join_keys"] == ["driver_id"]
    assert shown["stats"]["acc_rate"]["nulls"] == 1
    assert shown["stats"]["conv_rate"]["max"] == 0.6
    table = sqlops("features", "show", "driver_hourly_stats", cwd=project)
    assert table.returncode == 0 and "conv_rate" in table.stdout


def test_train_writes_what_the_api_computes(project: Path) -> None:
    done = sqlops(
        "features",
        "train",
        "--entities",
        "entities.csv",
        "--features",
        "driver_hourly_stats:*",
        "--out",
        "train.parquet",
        "--save",
        "v1",
        cwd=project,
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 3 rows to train.parquet" in done.stdout
    entity = pl.read_csv(project / "entities.csv", try_parse_dates=True)
    store = lib.Project(project).features
    expected = store.get_historical_features(entity, ["driver_hourly_stats:*"])
    assert pl.read_parquet(project / "train.parquet").equals(expected)
    assert store.load_training_set("v1").equals(expected)
    assert expected["conv_rate"].to_list() == [0.6, None, 0.5]


def test_materialize_then_online(project: Path) -> None:
    done = run_json(project, "features", "materialize", "--end", "2024-01-02T12:00")
    assert isinstance(done, dict) and done["materialized"][0]["entities"] == 1
    got = run_json(
        project,
        "features",
        "online",
        "--features",
        "driver_hourly_stats:conv_rate,driver_hourly_stats:acc_rate",
        "--entity",
        "driver_id=1001",
        "--entity",
        "driver_id=1002",
    )
    training = lib.Project(project).features.get_historical_features(
        pl.DataFrame(
            {"driver_id": [1001, 1002], "event_timestamp": [dt.datetime(2024, 1, 2, 12)] * 2}
        ),
        ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate"],
    )
    assert got == {c: training[c].to_list() for c in ("driver_id", "conv_rate", "acc_rate")}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("features", "show", "driver_hourly_stat"),
            "unknown feature view driver_hourly_stat; did you mean driver_hourly_stats?",
        ),
        (
            (
                "features",
                "train",
                "--entities",
                "missing.csv",
                "-f",
                "driver_hourly_stats:*",
                "--out",
                "out.parquet",
            ),
            "missing.csv: entity file not found",
        ),
        (
            (
                "features",
                "train",
                "--entities",
                "entities.csv",
                "-f",
                "driver_hourly_stats:nope",
                "--out",
                "out.parquet",
            ),
            "feature view driver_hourly_stats has no feature nope",
        ),
        (
            ("features", "online", "-f", "driver_hourly_stats:conv_rate", "-e", "driver_id=1"),
            "the online store is empty; run `sqlops features materialize` first",
        ),
        (("features", "materialize", "--end", "yesterday"), "--end 'yesterday' is not an ISO"),
    ],
)
def test_mistakes_are_one_line_and_write_nothing(
    project: Path, args: tuple[str, ...], message: str
) -> None:
    done = sqlops(*args, cwd=project)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {message}"), done.stderr
    assert "Traceback" not in done.stderr
    assert not (project / "out.parquet").exists()
    assert not (project / ".sqlops/online.sqlite").exists()
