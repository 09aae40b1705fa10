"""``project.models``: approvals and stage moves through a real project folder, read back with
DuckDB from the catalog as an independent reader; a refused promotion writes nothing; the
shared-records path (lakeFS's) run against an in-memory store that keeps the protocol's
create-once promise; and a tampered artifact refused before a byte of it is unpickled."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

import sqlops
from sqlops.api.models import ModelRegistry
from sqlops.catalog.registry import RegistryCatalog
from sqlops.governance.approval import render_card_markdown

from conftest import ProjectFactory

APPROVERS = ["ana", "bruno", "carla"]
POLICY: dict[str, Any] = {
    "approvers": APPROVERS,
    "min_approvers": 2,
    "metrics": {"accuracy": ">= 0.8", "auc": "> 0.7"},
    "contracts": True,
}
GOOD = {"accuracy": 0.9, "auc": 0.8}


@pytest.fixture
def project(make_project: ProjectFactory) -> sqlops.Project:
    return sqlops.Project(make_project({"sqlops.toml": '[versions]\nauthor = "Ana"\n'}))


def trained(project: sqlops.Project, name: str = "churn", metrics: dict[str, Any] = GOOD) -> int:
    """A version recorded with a training set and data version (as ``save`` records one
    trained on a saved training set), its artifact a real stored pickle."""
    temp = project.objects.temp_path()
    temp.write_bytes(pickle.dumps({"name": name}))
    row = {
        "name": name,
        "artifact": project.objects.put(temp),
        "features": ["v:a", "v:email"],
        "training_set": "drivers",
        "data_version": "c0ffee" * 6,
        "metrics": metrics,
        "owner": "ana",
        "stage": "none",
    }
    return RegistryCatalog(project.config.catalog_path).record_model(row)


def stored_events(project: sqlops.Project) -> list[tuple[Any, ...]]:
    """The catalog's event rows, read with DuckDB directly."""
    with duckdb.connect(str(project.config.catalog_path), read_only=True) as con:
        known = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'model_events'"
        ).fetchone()
        if not known or not known[0]:
            return []
        return con.execute(
            "SELECT name, version, kind, author, reason, to_stage FROM model_events "
            "ORDER BY happened_at"
        ).fetchall()


def approve_twice(models: ModelRegistry, version: int, name: str = "churn") -> None:
    models.approve(name, version, "ana", "looks good", approvers=APPROVERS)
    models.approve(name, version, "bruno", "checked the drift", approvers=APPROVERS)


def test_approve_then_promote_to_production_moves_the_stage_pointer(
    project: sqlops.Project,
) -> None:
    models = project.models
    v1, v2 = trained(project), trained(project)
    approve_twice(models, v1)
    assert models.get("churn", v1).stage == "candidate"
    assert models.promote("churn", v1, "staging").stage == "staging"
    assert models.promote("churn", v1, "production", **POLICY).stage == "production"
    approve_twice(models, v2)
    models.promote("churn", v2, "production", reason="better auc", **POLICY)
    assert [(m.version, m.stage) for m in models.list()] == [(1, "archived"), (2, "production")]
    assert project.features.get_model("churn", 1).stage == "archived"  # the seed spelling too
    assert stored_events(project)[-1] == ("churn", 2, "promote", "Ana", "better auc", "production")
    moves = [
        (h.version, h.from_stage, h.to_stage, h.implied)
        for h in models.history("churn")
        if h.kind == "promote"
    ]
    assert moves == [
        (1, "candidate", "staging", False),
        (1, "staging", "production", False),
        (2, "candidate", "production", False),
        (1, "production", "archived", True),
    ]
    # promoting where it is already writes nothing
    before = stored_events(project)
    assert models.promote("churn", v2, "production", **POLICY).stage == "production"
    assert stored_events(project) == before


def test_a_refused_promotion_lists_every_unmet_requirement_and_writes_nothing(
    project: sqlops.Project,
) -> None:
    models = project.models
    saved = models.save("churn", {"w": 1}, features=["v:email"], metrics={"accuracy": 0.5})
    models.approve("churn", 1, "ana", approvers=APPROVERS)
    models.approve("churn", 1, "ana", "again", approvers=APPROVERS)  # counts once
    models.reject("churn", 1, "carla", "leaks e-mail", approvers=APPROVERS)
    before = stored_events(project)
    with pytest.raises(sqlops.ApprovalError) as info:
        models.promote("churn", saved.version, "production", pii_features=["v:email"], **POLICY)
    assert info.value.unmet == [
        "metric accuracy is 0.5, the rule is accuracy >= 0.8",
        "metric auc is not recorded (the rule is auc > 0.7)",
        "no training set is recorded, so its contracts cannot be checked; save the model "
        "with training_set=",
        "feature v:email is tagged PII and not anonymized; anonymize its column or train "
        "without it",
        "rejected by carla (leaks e-mail); the veto stands until carla approves this version",
        "1 of 2 required approvals (ana); ask another approver to approve",
    ]
    message = str(info.value)
    assert "\n" not in message and message.startswith(
        "model churn version 1 cannot go to production: 6 requirements unmet: metric accuracy"
    )
    assert stored_events(project) == before and len(before) == 3
    assert models.get("churn").stage == "candidate"
    assert models.requirements("churn", 1, pii_features=["v:email"], **POLICY) == info.value.unmet


def test_a_veto_blocks_until_the_same_person_approves(project: sqlops.Project) -> None:
    models = project.models
    version = trained(project)
    approve_twice(models, version)
    models.reject("churn", version, "carla", "wait for the audit", approvers=APPROVERS)
    with pytest.raises(sqlops.ApprovalError, match="rejected by carla"):
        models.promote("churn", version, "production", **POLICY)
    models.approve("churn", version, "bruno", "still fine", approvers=APPROVERS)  # not carla
    with pytest.raises(sqlops.ApprovalError, match="rejected by carla"):
        models.promote("churn", version, "production", **POLICY)
    models.approve("churn", version, "carla", "audit done", approvers=APPROVERS)
    assert models.promote("churn", version, "production", **POLICY).stage == "production"


@pytest.mark.parametrize(
    ("by", "approvers", "message"),
    [
        ("zoe", APPROVERS, r"'zoe' is not listed in \[approval\] approvers; approvers are ana"),
        ("carl", APPROVERS, "did you mean carla"),
        ("ana", [], "nobody may approve"),
        ("", APPROVERS, "approver '' is not a one-line text"),
    ],
)
def test_an_approval_by_someone_not_listed_is_refused(
    project: sqlops.Project, by: str, approvers: list[str], message: str
) -> None:
    trained(project)
    with pytest.raises(sqlops.ApprovalError, match=message) as info:
        project.models.approve("churn", 1, by, "ok", approvers=approvers)
    assert "\n" not in str(info.value) and stored_events(project) == []


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda m: m.promote("churn", 1, "prod"), sqlops.ApprovalError, "did you mean production"),
        (lambda m: m.promote("churn", 1, "candidate"), sqlops.ApprovalError, "cannot return"),
        (lambda m: m.promote("churn", 9, "staging"), sqlops.RegistryError, "no version 9"),
        (lambda m: m.promote("chrun", 1, "staging"), sqlops.RegistryError, "did you mean churn"),
        (
            lambda m: m.approve("churn", None, "ana", approvers=APPROVERS),
            sqlops.ApprovalError,
            "approve needs a version number",
        ),
        (lambda m: m.history("nope"), sqlops.RegistryError, "no model named 'nope'"),
    ],
)
def test_bad_moves_are_one_line_and_write_nothing(
    project: sqlops.Project, call: Any, error: type[Exception], message: str
) -> None:
    trained(project)
    with pytest.raises(error, match=message) as info:
        call(project.models)
    assert "\n" not in str(info.value) and stored_events(project) == []


def test_one_production_version_per_model_and_models_are_independent(
    project: sqlops.Project,
) -> None:
    models = project.models
    versions = [trained(project) for _ in range(3)] + [trained(project, "fraud")]
    for version in versions[:3]:
        approve_twice(models, version)
        models.promote("churn", version, "production", **POLICY)
    approve_twice(models, 1, "fraud")
    models.promote("fraud", 1, "production", **POLICY)
    stages = {(m.name, m.version): m.stage for m in models.list()}
    assert stages == {
        ("churn", 1): "archived",
        ("churn", 2): "archived",
        ("churn", 3): "production",
        ("fraud", 1): "production",
    }
    # a rollback: an archived version goes back, its approvals still standing
    models.promote("churn", 1, "production", reason="rollback", **POLICY)
    assert [m.stage for m in models.list()][:3] == ["production", "archived", "archived"]


def test_the_card_describes_the_version_in_json_and_markdown(project: sqlops.Project) -> None:
    models = project.models
    version = trained(project)
    approve_twice(models, version)
    models.promote("churn", version, "staging", by="bruno", reason="try it")
    card = models.card(
        "churn",
        version,
        intended_use="weekly churn scores for retention offers",
        pii_features=["v:email"],
        **POLICY,
    )
    assert json.loads(json.dumps(card)) == card  # JSON values only
    assert (card["stage"], card["owner"], card["training_data"]["contracts"]) == (
        "staging",
        "ana",
        "passed",
    )
    assert [a["by"] for a in card["approvals"]] == ["ana", "bruno"]
    assert card["history"][-1]["to_stage"] == "staging" and card["history"][-1]["by"] == "bruno"
    assert card["unmet"] == [
        "feature v:email is tagged PII and not anonymized; anonymize its column or train without it"
    ]
    text = render_card_markdown(card)
    assert "weekly churn scores" in text and "| ana | approve | looks good |" in text


def test_contracts_are_asked_of_the_version_when_a_callable(project: sqlops.Project) -> None:
    version = trained(project)
    approve_twice(project.models, version)
    asked: list[str | None] = []

    def contracts(record: sqlops.RegisteredModel) -> bool:
        asked.append(record.data_version)
        return False

    with pytest.raises(sqlops.ApprovalError, match="contracts of training set drivers"):
        project.models.promote("churn", version, "production", **{**POLICY, "contracts": contracts})
    assert asked == ["c0ffee" * 6]


# -- the artifact is checked before it is unpickled --------------------------------------


class Planted:
    """A pickle that, when loaded, touches a file: proof it was (not) unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (Path.touch, (self.marker,))


def test_a_tampered_artifact_is_refused_before_it_is_unpickled(
    project: sqlops.Project, tmp_path: Path
) -> None:
    saved = project.models.save("churn", {"w": [1, 2]})
    path = project.objects.path(saved.artifact)
    marker = tmp_path / "unpickled"
    path.write_bytes(pickle.dumps(Planted(marker)))
    for load in (project.models.load, project.features.load_model):
        with pytest.raises(sqlops.RegistryError) as info:
            load("churn", 1)
        message = str(info.value)
        assert "\n" not in message and message.startswith("model churn version 1: artifact")
        assert f"is corrupt (its bytes no longer match hash {saved.artifact})" in message
        assert "restore that file from a backup or save it again" in message
    assert not marker.exists()
    # the check is of the bytes' blake3 as recorded, not of the file name or size
    path.write_bytes(pickle.dumps({"w": [1, 2]}, protocol=pickle.HIGHEST_PROTOCOL))
    assert project.models.load("churn") == {"w": [1, 2]}


# -- the shared-records path (lakeFS's layout), on an in-memory store --------------------


class MemoryRecords:
    """``SharedRecords`` in memory: paths created once, checksums of the bytes."""

    def __init__(self) -> None:
        self.records: dict[str, bytes] = {}

    def record_paths(self, prefix: str) -> dict[str, str]:
        return {
            p: hashlib.sha256(d).hexdigest()
            for p, d in self.records.items()
            if p.startswith(prefix)
        }

    def read_record(self, path: str) -> bytes | None:
        return self.records.get(path)

    def create_record(self, path: str, data: bytes, message: str) -> bool:
        if path in self.records:
            return False
        self.records[path] = data
        return True

    def record_location(self, path: str) -> str:
        return f"{path} in memory"


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch) -> MemoryRecords:
    store = MemoryRecords()
    monkeypatch.setattr(ModelRegistry, "_shared", lambda self: store)
    return store


def test_events_are_records_beside_the_versions_and_every_clone_folds_them(
    make_project: ProjectFactory, tmp_path: Path, shared: MemoryRecords
) -> None:
    a = sqlops.Project(make_project({"sqlops.toml": ""}, tmp_path / "a"))
    b = sqlops.Project(make_project({"sqlops.toml": ""}, tmp_path / "b"))
    a.models.save("churn", {"w": 1})
    b.models.save("churn", {"w": 2})  # version 2 of the one registry
    a.models.approve("churn", 2, "ana", "ok", approvers=APPROVERS)
    b.models.promote("churn", 2, "staging", by="bruno")
    events = sorted(p for p in shared.records if "/events/" in p)
    assert len(events) == 2 and all(p.startswith("_sqlops/models/churn/events/") for p in events)
    record = json.loads(shared.records[events[1]])
    assert {k: record[k] for k in ("format", "model", "version", "kind", "by", "to_stage")} == {
        "format": 1,
        "model": "churn",
        "version": 2,
        "kind": "promote",
        "by": "bruno",
        "to_stage": "staging",
    }
    assert events[1].endswith(f"-{record['id']}.json")
    # the version listing ignores the events; both clones see one state
    for clone in (a, b):
        assert [(m.version, m.stage) for m in clone.models.list()] == [
            (1, "candidate"),
            (2, "staging"),
        ]
        assert clone.models.state("churn").approvers("churn", 2) == ["ana"]
    assert a.fsck() == []


def test_a_corrupt_event_record_is_one_error_naming_it(
    project: sqlops.Project, shared: MemoryRecords
) -> None:
    project.models.save("churn", {"w": 1})
    project.models.approve("churn", 1, "ana", approvers=APPROVERS)
    path = next(p for p in shared.records if "/events/" in p)
    edited = json.loads(shared.records[path])
    shared.records[path] = json.dumps({**edited, "kind": "bless"}).encode()
    with pytest.raises(sqlops.RegistryError) as info:
        sqlops.Project(project.root).models.get("churn")
    message = str(info.value)
    assert message.startswith(f"{path} in memory is corrupt (event kind 'bless'")
    assert "\n" not in message and "lakectl log" in message


def test_a_training_set_recorded_by_save_satisfies_the_data_requirement(
    make_project: ProjectFactory,
) -> None:
    """End to end through a real build and training set: the version's data version is the
    commit the training set was computed at, and the card says so."""
    config = """
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
    stats = "driver_id,event_timestamp,conv_rate\n1001,2024-01-01 10:00:00,0.5\n"
    project = sqlops.Project(make_project({"sqlops.toml": config, "data/driver_stats.csv": stats}))
    project.build()
    entities = pl.DataFrame({"driver_id": [1001], "event_timestamp": ["2024-01-02"]})
    entities = entities.with_columns(pl.col("event_timestamp").str.to_datetime())
    store = project.features
    store.save_training_set(
        "drivers", store.get_historical_features(entities, ["driver_hourly_stats:conv_rate"])
    )
    saved = project.models.save("churn", {"w": 1}, training_set="drivers", metrics=GOOD)
    approve_twice(project.models, saved.version)
    promoted = project.models.promote("churn", saved.version, "production", **POLICY)
    assert promoted.stage == "production"
    card = project.models.card("churn")
    assert card["training_data"]["data_version"] == project.versions.resolve(project.branch)
    assert card["features"] == [{"name": "driver_hourly_stats:conv_rate", "pii": False}]


def test_the_approval_section_is_the_default_policy(make_project: ProjectFactory) -> None:
    config = """
[approval]
approvers = ["ana", "bruno"]
min_approvers = 2
metrics = { accuracy = ">= 0.95" }
"""
    project = sqlops.Project(make_project({"sqlops.toml": config}))
    version = trained(project)
    models = project.models
    with pytest.raises(sqlops.ApprovalError, match="'carla' is not listed"):
        models.approve("churn", version, "carla")
    approve_twice(models, version)
    with pytest.raises(sqlops.ApprovalError) as info:
        models.promote("churn", version, "production", contracts=True)
    assert info.value.unmet == ["metric accuracy is 0.9, the rule is accuracy >= 0.95"]
    # an argument wins over the section
    moved = models.promote("churn", version, "production", contracts=True, metrics={})
    assert moved.stage == "production"
    card = models.card("churn", contracts=True)
    assert card["unmet"] == ["metric accuracy is 0.9, the rule is accuracy >= 0.95"]
