"""One model registry per lakeFS repository: every clone pointed at it lists and loads the
same versions, and version numbers are unique across clones. The records are read back here
with the lakeFS SDK as an independent client, at the layout the README documents."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import blake3
import lakefs
import pytest
from lakefs.client import Client
from typer.testing import CliRunner

import sqlops
from sqlops.cli.app import app
from sqlops.versioning.lakefs import LakeFSStore

from conftest import ProjectFactory
from lakefs_server import LakeFSServer

BRANCH = "sqlops-artifacts"
RECORDS = "_sqlops/models/"
MODEL = {"weights": [0.25, 0.5], "bias": -1.0}


def repo(server: LakeFSServer, name: str) -> lakefs.Repository:
    client = Client(  # type: ignore[no-untyped-call]
        host=server.endpoint, username=server.access_key_id, password=server.secret_access_key
    )
    return lakefs.Repository(name, client=client)


def clones(make_project: ProjectFactory, tmp_path: Path) -> tuple[Path, Path]:
    """Two project folders (two machines' checkouts) on the one repository lakefs_env names."""
    return (
        make_project({"sqlops.toml": ""}, tmp_path / "a"),
        make_project({"sqlops.toml": ""}, tmp_path / "b"),
    )


def stored_records(branch: lakefs.Reference) -> dict[str, dict[str, object]]:
    """Every record in lakeFS, path -> parsed JSON, read without sqlops."""
    out = {}
    for info in branch.objects(prefix=RECORDS):
        with branch.object(info.path).reader(mode="rb") as reader:
            out[info.path] = json.loads(reader.read())
    return out


def test_a_model_saved_in_one_clone_is_listed_and_loaded_in_another(
    make_project: ProjectFactory, lakefs_env: str, lakefs_server: LakeFSServer, tmp_path: Path
) -> None:
    a, b = clones(make_project, tmp_path)
    saved = sqlops.Project(a).features.save_model(
        name="churn", model=MODEL, features=["f:x"], metrics={"auc": 0.75}, owner="ana"
    )
    other = sqlops.Project(b).features
    assert [m.to_dict() for m in other.list_models()] == [saved.to_dict()]
    assert other.load_model("churn") == MODEL
    # the same bytes: b's downloaded artifact is a's file, and hashes to the recorded id
    a_bytes = sqlops.Project(a).objects.path(saved.artifact).read_bytes()
    b_file = sqlops.Project(b).objects.path(saved.artifact)
    assert b_file.read_bytes() == a_bytes == pickle.dumps(MODEL, protocol=pickle.HIGHEST_PROTOCOL)
    assert blake3.blake3(a_bytes).hexdigest()[:40] == saved.artifact
    # b's save is the next version of the one registry, and a sees it
    second = other.save_model(name="churn", model={"v": 2})
    assert second.version == 2
    assert [(m.name, m.version) for m in sqlops.Project(a).features.list_models()] == [
        ("churn", 1),
        ("churn", 2),
    ]
    assert sqlops.Project(a).features.load_model("churn") == {"v": 2}
    # in lakeFS: one committed JSON record per version, saying what the API says
    branch = repo(lakefs_server, lakefs_env).branch(BRANCH)
    records = stored_records(branch)
    assert sorted(records) == [f"{RECORDS}churn/1.json", f"{RECORDS}churn/2.json"]
    first = records[f"{RECORDS}churn/1.json"]
    assert {k: first[k] for k in saved.to_dict()} == saved.to_dict()
    assert list(branch.uncommitted()) == []
    # the data branches never see the registry
    assert set(sqlops.Project(b).branches()) == {"main"}
    # the CLI of a third clone reads the same registry
    c = make_project({"sqlops.toml": ""}, tmp_path / "c")
    shown = CliRunner().invoke(app, ["--project", str(c), "models", "list", "--json"])
    assert shown.exit_code == 0, shown.output
    assert [(m["name"], m["version"], m["owner"]) for m in json.loads(shown.stdout)["models"]] == [
        ("churn", 1, "ana"),
        ("churn", 2, second.owner),
    ]


def test_any_name_is_one_record_folder(
    make_project: ProjectFactory, lakefs_env: str, lakefs_server: LakeFSServer, tmp_path: Path
) -> None:
    a, b = clones(make_project, tmp_path)
    for name in ("team/churn", "churn v2", "100%"):
        sqlops.Project(a).features.save_model(name=name, model=name)
    store = sqlops.Project(b).features
    assert [(m.name, m.version) for m in store.list_models()] == [
        ("100%", 1),
        ("churn v2", 1),
        ("team/churn", 1),
    ]
    assert store.load_model("team/churn") == "team/churn"
    paths = sorted(stored_records(repo(lakefs_server, lakefs_env).ref(BRANCH)))
    assert paths == [f"{RECORDS}100%25/1.json", f"{RECORDS}churn%20v2/1.json",
                     f"{RECORDS}team%2Fchurn/1.json"]  # fmt: skip


def test_approvals_and_stage_moves_are_event_records_every_clone_folds(
    make_project: ProjectFactory, lakefs_env: str, lakefs_server: LakeFSServer, tmp_path: Path
) -> None:
    """Events are records of their own beside the versions (read back with the SDK), each
    at a new path, and two clones writing them fold to one state."""
    a, b = clones(make_project, tmp_path)
    approvers = ["ana", "bruno"]
    sqlops.Project(a).models.save("churn", MODEL)
    sqlops.Project(b).models.save("churn", {"v": 2})
    sqlops.Project(a).models.approve("churn", 2, "ana", "ok", approvers=approvers)
    sqlops.Project(b).models.promote("churn", 1, "staging", by="bruno")
    sqlops.Project(a).models.promote("churn", 2, "staging", by="ana")  # displaces version 1
    records = stored_records(repo(lakefs_server, lakefs_env).ref(BRANCH))
    events = {p: r for p, r in records.items() if "/events/" in p}
    assert sorted(set(records) - set(events)) == [
        f"{RECORDS}churn/1.json",
        f"{RECORDS}churn/2.json",
    ]
    assert [
        (r["kind"], r["version"], r["by"], r["to_stage"]) for _, r in sorted(events.items())
    ] == [
        ("approve", 2, "ana", None),
        ("promote", 1, "bruno", "staging"),
        ("promote", 2, "ana", "staging"),
    ]
    assert all(
        p.startswith(f"{RECORDS}churn/events/") and p.endswith(f"-{r['id']}.json")
        for p, r in events.items()
    )
    for root in (a, b):
        models = sqlops.Project(root).models
        assert [(m.version, m.stage) for m in models.list()] == [(1, "archived"), (2, "staging")]
        assert models.state("churn").approvers("churn", 2) == ["ana"]
    assert list(repo(lakefs_server, lakefs_env).branch(BRANCH).uncommitted()) == []
    assert sqlops.Project(b).fsck() == []


SAVER = """
import sys, time
from pathlib import Path
import sqlops
from sqlops.cli.app import app
from sqlops.versioning.lakefs import LakeFSStore
root, who, each, gate = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
store = sqlops.Project(root).features
store.list_models()  # connected and imported: now wait for the other clone
(gate / who).touch()
while not (gate / "go").exists():
    time.sleep(0.005)
for i in range(each):
    print(store.save_model(name="m", model={"by": who, "i": i}).version, flush=True)
"""


def test_two_clones_saving_one_name_at_once_get_distinct_versions(
    make_project: ProjectFactory, lakefs_env: str, lakefs_server: LakeFSServer, tmp_path: Path
) -> None:
    each, gate = 8, tmp_path / "gate"
    gate.mkdir()
    runs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                textwrap.dedent(SAVER),
                str(root),
                root.name,
                str(each),
                str(gate),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for root in clones(make_project, tmp_path)
    ]
    deadline = time.monotonic() + 60
    while not ((gate / "a").exists() and (gate / "b").exists()) and time.monotonic() < deadline:
        time.sleep(0.01)
    (gate / "go").touch()  # both save at once from here
    returned = []
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        returned.append({int(v) for v in out.split()})
    # each save was told a different version
    assert len(returned[0] | returned[1]) == 2 * each
    # lakeFS holds one record per version, 1..8, committed, each naming its own model
    branch = repo(lakefs_server, lakefs_env).branch(BRANCH)
    records = stored_records(branch)
    assert sorted(r["version"] for r in records.values()) == list(range(1, 2 * each + 1))  # type: ignore[type-var]
    assert list(branch.uncommitted()) == []
    loaded = {}
    for record in records.values():
        with branch.object(f"_sqlops/artifacts/{record['artifact']}").reader(mode="rb") as r:
            loaded[record["version"]] = pickle.loads(r.read())
    expected = [{"by": who, "i": i} for who in ("a", "b") for i in range(each)]
    assert sorted(loaded.values(), key=str) == sorted(expected, key=str)
    # and each clone's registry says the same
    for root in (tmp_path / "a", tmp_path / "b"):
        store = sqlops.Project(root).features
        assert {m.version: store.load_model("m", m.version) for m in store.list_models()} == loaded


def test_a_save_that_listed_before_another_clone_saved_takes_the_next_version(
    make_project: ProjectFactory,
    lakefs_env: str,
    lakefs_server: LakeFSServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = clones(make_project, tmp_path)
    sqlops.Project(a).features.save_model(name="m", model="from a")
    # b's save lists the versions as they were before a's save (the race, made certain)
    listed = LakeFSStore.record_paths
    calls: list[str] = []

    def stale(self: LakeFSStore, prefix: str) -> dict[str, str]:
        calls.append(prefix)
        return {} if len(calls) == 1 else listed(self, prefix)

    monkeypatch.setattr(LakeFSStore, "record_paths", stale)
    assert sqlops.Project(b).features.save_model(name="m", model="from b").version == 2
    records = stored_records(repo(lakefs_server, lakefs_env).ref(BRANCH))
    branch = repo(lakefs_server, lakefs_env).ref(BRANCH)
    owners = {}
    for path, record in records.items():
        with branch.object(f"_sqlops/artifacts/{record['artifact']}").reader(mode="rb") as r:
            owners[path] = pickle.loads(r.read())
    assert owners == {f"{RECORDS}m/1.json": "from a", f"{RECORDS}m/2.json": "from b"}


def test_a_corrupt_or_missing_record_is_one_line(
    make_project: ProjectFactory, lakefs_env: str, lakefs_server: LakeFSServer, tmp_path: Path
) -> None:
    a, b = clones(make_project, tmp_path)
    sqlops.Project(a).features.save_model(name="churn", model=MODEL)
    sqlops.Project(a).features.save_model(name="other", model=MODEL)
    assert sqlops.Project(b).features.load_model("churn") == MODEL  # b has read it once
    branch = repo(lakefs_server, lakefs_env).branch(BRANCH)
    path = f"{RECORDS}churn/1.json"
    for junk in (b"{not json", b'{"name": "churn"}', b'["a list"]'):
        branch.object(path).upload(data=junk)
        branch.commit(message="tampered")
        for root in (a, b):
            with pytest.raises(sqlops.RegistryError, match="is corrupt") as info:
                sqlops.Project(root).features.load_model("churn")
            message = str(info.value)
            assert "\n" not in message and path in message and lakefs_env in message
    # fsck reports it among the problems; the other models stay readable; the CLI says it
    # in one line, no traceback
    assert [p for p in sqlops.Project(b).fsck() if path in p and "is corrupt" in p]
    assert sqlops.Project(b).features.load_model("other") == MODEL
    cli = subprocess.run(
        [sys.executable, "-m", "sqlops", "--project", str(b), "models", "list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 1
    assert cli.stderr.count("\n") == 1 and "is corrupt" in cli.stderr
    assert "Traceback" not in cli.stderr
    # deleted in lakeFS: a clone that knew it says the record is missing, where, and the fix
    branch.object(path).delete()
    branch.commit(message="lost")
    with pytest.raises(sqlops.RegistryError, match="record is missing from") as info:
        sqlops.Project(b).features.get_model("churn", 1)
    assert "\n" not in str(info.value) and path in str(info.value)
    assert [m.name for m in sqlops.Project(b).features.list_models()] == ["other"]


def test_local_records_stay_local_when_the_project_switches_to_lakefs(
    make_project: ProjectFactory, lakefs_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_project({"sqlops.toml": ""})
    monkeypatch.setenv("SQLOPS_VERSIONS_BACKEND", "local")
    sqlops.Project(root).features.save_model(name="old", model=MODEL)
    monkeypatch.setenv("SQLOPS_VERSIONS_BACKEND", "lakefs")  # the switch
    store = sqlops.Project(root).features
    assert store.list_models() == []
    with pytest.raises(sqlops.RegistryError, match="local registry from before the switch"):
        store.get_model("old")
    assert store.save_model(name="old", model={"new": 1}).version == 1  # lakeFS's registry
    monkeypatch.setenv("SQLOPS_VERSIONS_BACKEND", "local")
    back = sqlops.Project(root).features
    assert [(m.name, m.version) for m in back.list_models()] == [("old", 1)]
    assert back.load_model("old") == MODEL  # nothing lost
