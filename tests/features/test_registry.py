"""The model registry and the seed's store methods through a real project folder: versions
per name, deduped content-addressed artifacts, hash-checked loads, "did you mean" for
unknown names, ``gc`` keeping what the registry references; and the seed's
``add``/``load``/``save_features``/``load_feature`` round trips against the input frames."""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass

import blake3
import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal, assert_series_equal

import sqlops

from conftest import ProjectFactory

CONFIG = """
[versions]
author = "Ana <ana@example.com>"

[sources."raw.driver_stats"]
path = "data/driver_stats.csv"

[entities.driver]
join_keys = ["driver_id"]

[feature_views.driver_hourly_stats]
source = "raw.driver_stats"
entities = ["driver"]
timestamp = "event_timestamp"
features = ["conv_rate"]
"""
STATS = """driver_id,event_timestamp,conv_rate
1001,2024-01-01 10:00:00,0.5
1002,2024-01-01 11:00:00,0.3
"""


@dataclass(frozen=True)
class Scaler:
    """A stand-in model: picklable, comparable, with a behaviour to check."""

    factor: float

    def predict(self, xs: list[float]) -> list[float]:
        return [x * self.factor for x in xs]


@pytest.fixture
def project(make_project: ProjectFactory) -> sqlops.Project:
    root = make_project({"sqlops.toml": CONFIG, "data/driver_stats.csv": STATS})
    return sqlops.Project(root)


def objects(project: sqlops.Project) -> dict[str, bytes]:
    """Every stored object's bytes, by the blake3 (40 hex digits) computed here."""
    folder = project.root / ".sqlops" / "versions" / "objects"
    found = [p for p in folder.glob("??/*") if p.is_file()]
    return {blake3.blake3(p.read_bytes()).hexdigest()[:40]: p.read_bytes() for p in found}


def test_versions_increase_per_name(project: sqlops.Project) -> None:
    store = project.features
    saved = [
        store.save_model(name="churn", model=Scaler(1.0)),
        store.save_model(name="fraud", model=Scaler(2.0)),
        store.save_model(name="churn", model=Scaler(3.0), metrics={"accuracy": 0.75}),
    ]
    assert [(m.name, m.version) for m in saved] == [("churn", 1), ("fraud", 1), ("churn", 2)]
    assert [(m.name, m.version) for m in store.list_models()] == [
        ("churn", 1),
        ("churn", 2),
        ("fraud", 1),
    ]
    latest = store.get_model("churn")
    # a saved version is a candidate until approval events move it (governance/approval.py)
    assert (latest.version, latest.metrics, latest.stage) == (2, {"accuracy": 0.75}, "candidate")
    assert latest.owner == "Ana <ana@example.com>"  # [versions] author, as commits use
    assert store.load_model("churn") == Scaler(3.0)
    assert store.load_model("churn", version=1) == Scaler(1.0)
    assert store.load_model("churn").predict([1.0, 2.0]) == [3.0, 6.0]


def test_same_model_is_stored_once_under_its_hash(project: sqlops.Project) -> None:
    store = project.features
    first = store.save_model(name="churn", model=Scaler(1.0), owner="bob")
    again = store.save_model(name="churn-copy", model=Scaler(1.0))
    other = store.save_model(name="churn", model=Scaler(9.0))
    stored = objects(project)
    assert first.artifact == again.artifact != other.artifact
    assert set(stored) == {first.artifact, other.artifact}  # the file is named by its hash
    assert pickle.loads(stored[first.artifact]) == Scaler(1.0)
    assert first.owner == "bob"


def test_corrupt_artifact_is_refused_in_one_line(project: sqlops.Project) -> None:
    saved = project.features.save_model(name="churn", model=Scaler(1.0))
    path = project.objects.path(saved.artifact)
    path.write_bytes(pickle.dumps(Scaler(666.0)))  # still loadable: only the hash can tell
    with pytest.raises(sqlops.RegistryError, match="is corrupt") as info:
        project.features.load_model("churn")
    assert "\n" not in str(info.value) and "churn version 1" in str(info.value)
    path.unlink()
    with pytest.raises(sqlops.RegistryError, match="is missing"):
        project.features.load_model("churn")


def test_unknown_model_or_version_suggests_names(project: sqlops.Project) -> None:
    store = project.features
    with pytest.raises(sqlops.RegistryError, match="save one with"):
        store.get_model("churn")  # an empty registry
    store.save_model(name="churn_model", model=Scaler(1.0))
    with pytest.raises(sqlops.RegistryError, match="did you mean churn_model"):
        store.load_model("churn_modle")
    with pytest.raises(sqlops.RegistryError, match=r"no version 2; its versions are 1\.\.1"):
        store.get_model("churn_model", version=2)
    with pytest.raises(sqlops.RegistryError, match="'1' is not a version number"):
        store.load_model("churn_model", version="1")  # type: ignore[arg-type]
    with pytest.raises(sqlops.RegistryError, match="no training set named 'train'"):
        store.save_model(name="churn_model", model=Scaler(2.0), training_set="train")
    with pytest.raises(sqlops.RegistryError, match="cannot be pickled"):
        store.save_model(name="churn_model", model=lambda x: x)
    assert [m.version for m in store.list_models()] == [1]  # nothing recorded by the mistakes


def test_gc_keeps_registered_artifacts_and_stored_frames(project: sqlops.Project) -> None:
    store = project.features
    saved = store.save_model(name="churn", model=Scaler(1.0))
    store.add(pl.DataFrame({"x": [1, 2]}))
    stray = project.objects.temp_path()
    stray.write_bytes(b"nothing references this")
    stray_id = project.objects.put(stray)
    removed, _ = project.gc()
    assert removed == 1 and stray_id not in objects(project)  # gc does delete the unkept
    assert store.load_model("churn") == Scaler(1.0)
    assert saved.artifact in objects(project)
    assert store.load()["x"].to_list() == [1, 2]


def test_training_set_and_its_data_version_are_recorded(project: sqlops.Project) -> None:
    project.build()
    store = project.features
    entities = pl.DataFrame(
        {"driver_id": [1001, 1002], "event_timestamp": ["2024-01-02", "2024-01-02"]}
    ).with_columns(pl.col("event_timestamp").str.to_datetime())
    frame = store.get_historical_features(entities, ["driver_hourly_stats:conv_rate"])
    store.save_training_set("drivers", frame)
    saved = store.save_model(
        name="churn",
        model=Scaler(1.0),
        features=["driver_hourly_stats:conv_rate"],
        training_set="drivers",
    )
    commit = project.versions.resolve(project.branch)
    assert (saved.training_set, saved.data_version) == ("drivers", commit)
    assert saved.features == ["driver_hourly_stats:conv_rate"]
    # without features=, the features are the ones the training set was computed with
    implied = store.save_model(name="fraud", model=Scaler(2.0), training_set="drivers")
    assert implied.features == ["driver_hourly_stats:conv_rate"]


def test_seed_store_methods_round_trip(project: sqlops.Project) -> None:
    store = project.features
    df = pl.DataFrame({"id": [1, 2, 3], "a": [0.5, None, 1.5], "b": ["x", "y", None]})
    assert store.add(df) == 1
    assert store.add(df.head(2)) == 2
    assert_frame_equal(store.load(), df.head(2))
    assert_frame_equal(store.load(version=1), df)
    store.save_features(["a", "b"], df)
    assert_frame_equal(store.load_features(), df.select("a", "b"))
    assert_series_equal(store.load_feature(name="a"), df["a"])
    pandas_frame = pd.DataFrame({"f1": [1.0, 2.0], "f2": [3, 4]})
    store.add(pandas_frame, name="train_features")
    store.add(pd.Series([0, 1], name="label"), name="train_labels")
    assert store.load_feature(name="train_features").to_pandas().equals(pandas_frame)
    labels = store.load_feature(name="train_labels")
    assert isinstance(labels, pl.Series) and labels.to_list() == [0, 1]
    with pytest.raises(sqlops.RegistryError, match="did you mean train_labels"):
        store.load_feature(name="train_label")
    with pytest.raises(sqlops.RegistryError, match="has no column 'c'"):
        store.save_features(["a", "c"], df)
    assert_frame_equal(store.load_features(), df.select("a", "b"))  # nothing written


def test_fsck_reports_a_corrupt_artifact_or_frame(project: sqlops.Project) -> None:
    store = project.features
    saved = store.save_model(name="churn", model=Scaler(1.0))
    store.add(pl.DataFrame({"x": [1]}), name="rows")
    assert project.fsck() == []
    project.objects.path(saved.artifact).write_bytes(b"garbage")
    frame = store._frame("rows", None)["object"]
    project.objects.path(frame).unlink()
    problems = project.fsck()
    assert problems[0] == f"model churn version 1: object {saved.artifact} is corrupt"
    assert problems[1].startswith(f"stored frame rows version 1: object {frame} is missing")
    assert len(problems) == 2


def test_model_whose_class_is_gone_is_one_line(project: sqlops.Project) -> None:
    saved = project.features.save_model(name="churn", model=Scaler(1.0))
    payload = project.objects.path(saved.artifact).read_bytes()
    assert b"Scaler" in payload
    gone = payload.replace(b"Scaler", b"Scalex")  # a class the reader cannot import
    temp = project.objects.temp_path()
    temp.write_bytes(gone)
    artifact = project.objects.put(temp)
    record = {"name": "churn", "artifact": artifact, "features": [], "training_set": None}
    from sqlops.catalog.registry import RegistryCatalog

    RegistryCatalog(project.config.catalog_path).record_model(
        {**record, "data_version": None, "metrics": {}, "owner": "x", "stage": "none"}
    )
    with pytest.raises(sqlops.RegistryError, match="cannot unpickle it here"):
        project.features.load_model("churn", version=2)


def test_metrics_are_stored_as_json_numbers(project: sqlops.Project) -> None:
    import numpy as np

    store = project.features
    saved = store.save_model(name="m", model=Scaler(1.0), metrics={"acc": np.float32(0.5)})
    assert saved.metrics == {"acc": 0.5} and type(saved.metrics["acc"]) is float
    with pytest.raises(sqlops.RegistryError, match="metrics must be"):
        store.save_model(name="m", model=Scaler(1.0), metrics={"acc": object()})
    # JSON has no NaN or infinity: `models list --json` must stay parseable JSON
    for bad in (float("nan"), np.float64("inf"), -math.inf):
        with pytest.raises(sqlops.RegistryError, match=r"'loss' is .*JSON cannot hold"):
            store.save_model(name="m", model=Scaler(1.0), metrics={"loss": bad})
    with pytest.raises(sqlops.RegistryError, match="not a name"):
        store.save_model(name="churn\nv2", model=Scaler(1.0))
    assert [m.version for m in store.list_models()] == [1]
