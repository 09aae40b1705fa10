"""Saving a training set is atomic from the user's view: a refused save commits and records
nothing, a save over committed data makes no commit, and a save over uncommitted feature data
commits it once. Branch heads and history are read with the real ``sqlops log`` command and
the version store's ref files, the recorded sets with plain DuckDB on the catalog file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from test_store import CONFIG, DRIVER_STATS, TRIPS_SQL, entity_frame, file_bytes

import sqlops

from conftest import ProjectFactory

FEATURES = ["driver_hourly_stats:*"]


@pytest.fixture
def project(make_project: ProjectFactory) -> Path:
    root = make_project(
        {
            "sqlops.toml": CONFIG,
            "data/driver_stats.csv": DRIVER_STATS,
            "sql/marts/driver_trips.sql": TRIPS_SQL,
        }
    )
    sqlops.Project(root).build().raise_on_error()
    return root


def cli_log(root: Path) -> list[dict[str, object]]:
    """``sqlops log --json`` as a user runs it."""
    exe = Path(sys.executable).parent / "sqlops"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLOPS_")}
    done = subprocess.run(
        [str(exe), "log", "--json"], cwd=root, capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    return list(listed["commits"] if isinstance(listed, dict) else listed)


def refs(root: Path) -> dict[str, str]:
    folder = root / ".sqlops/versions/refs"
    return {
        p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*") if p.is_file()
    }


def saved_sets(root: Path) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(root / ".sqlops/catalog.duckdb"), read_only=True)
    try:
        known = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "training_sets" not in known:
            return []
        return con.execute("SELECT name, data_version FROM training_sets ORDER BY name").fetchall()
    finally:
        con.close()


def test_a_refused_save_leaves_the_branch_the_log_and_the_catalog_unchanged(
    project: Path,
) -> None:
    proj = sqlops.Project(project)
    proj.commit("first build")
    frame = proj.features.get_historical_features(entity_frame(), FEATURES)
    # the data moves on before the save: rebuilt, not committed
    (project / "data/driver_stats.csv").write_text(DRIVER_STATS.replace("0.65,0.85,13", "9,9,9"))
    proj.build().raise_on_error()
    log, heads = cli_log(project), refs(project)
    with pytest.raises(sqlops.FeatureError, match="nothing was saved or committed"):
        proj.features.save_training_set("drivers", frame)
    assert cli_log(project) == log
    assert refs(project) == heads
    assert saved_sets(project) == []
    assert not (project / ".sqlops/training_sets/drivers").exists() or not any(
        (project / ".sqlops/training_sets/drivers").iterdir()
    )


def test_a_save_over_committed_data_makes_no_commit(project: Path) -> None:
    proj = sqlops.Project(project)
    proj.commit("first build")
    log, heads = cli_log(project), refs(project)
    frame = proj.features.get_historical_features(entity_frame(), FEATURES)
    saved = proj.features.save_training_set("drivers", frame)
    assert cli_log(project) == log and refs(project) == heads
    assert saved["data_version"] == heads["heads/main"].strip()
    assert saved_sets(project) == [("drivers", saved["data_version"])]


def test_a_save_over_uncommitted_feature_data_commits_it_once(project: Path) -> None:
    proj = sqlops.Project(project)
    before = cli_log(project)
    frame = proj.features.get_historical_features(entity_frame(), FEATURES)
    saved = proj.features.save_training_set("drivers", frame)
    after = cli_log(project)
    assert len(after) == len(before) + 1
    assert (after[0]["id"], after[0]["message"]) == (saved["data_version"], "training set drivers")
    assert refs(project)["heads/main"].strip() == saved["data_version"]
    # a second save reads the same, now committed, data: no second commit
    proj.features.save_training_set("drivers_again", frame)
    assert cli_log(project) == after
    assert file_bytes(proj.features.rebuild_training_set("drivers")) == file_bytes(frame)


def test_a_save_reading_only_committed_tables_does_not_commit_other_changes(
    project: Path,
) -> None:
    proj = sqlops.Project(project)
    proj.commit("first build")
    # a model the training set does not read changes and stays uncommitted
    (project / "sql/marts/driver_trips.sql").write_text(TRIPS_SQL.replace("* 10", "* 20"))
    proj.build().raise_on_error()
    log = cli_log(project)
    frame = proj.features.get_historical_features(entity_frame(), FEATURES)
    saved = proj.features.save_training_set("drivers", frame)
    assert cli_log(project) == log
    assert saved["data_version"] == log[0]["id"]
    assert [c.name for c in proj.status().uncommitted] == ["marts.driver_trips"]


def test_a_save_that_cannot_be_versioned_commits_nothing(make_project: ProjectFactory) -> None:
    view_model = TRIPS_SQL.replace("-- materialized: table", "-- materialized: view")
    config = CONFIG.replace('source = "raw.driver_stats"', 'source = "marts.driver_trips"', 1)
    config = config.replace('features = ["conv_rate", "acc_rate", "avg_daily_trips"]', "")
    config = config.replace('created_timestamp = "created"\n', "")
    root = make_project(
        {
            "sqlops.toml": config
            + '\n[feature_views.driver_hourly_stats.features.trips]\ntype = "BIGINT"\n',
            "data/driver_stats.csv": DRIVER_STATS,
            "sql/marts/driver_trips.sql": view_model,
        }
    )
    proj = sqlops.Project(root)
    proj.build().raise_on_error()  # built, never committed
    log, heads = cli_log(root), refs(root)
    frame = proj.features.get_historical_features(entity_frame(), ["driver_hourly_stats:trips"])
    with pytest.raises(sqlops.FeatureError, match="not view models"):
        proj.features.save_training_set("trips", frame)
    assert cli_log(root) == log and refs(root) == heads
    assert saved_sets(root) == []
