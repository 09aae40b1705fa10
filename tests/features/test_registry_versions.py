"""Registered models in the version store, on both backends: on lakeFS the artifact is an
object of the repository (read back here with the lakeFS SDK as an independent client), so
a machine or clone without the local object loads it; a missing or changed artifact is one
line. And versions stay unique when two processes save at once."""

from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import blake3
import duckdb
import lakefs
import polars as pl
import pytest
from lakefs.client import Client

import sqlops

from conftest import ProjectFactory
from lakefs_server import LakeFSServer

ARTIFACTS = "_sqlops/artifacts/"  # the layout the README documents
MODEL = {"weights": [0.25, 0.5], "bias": -1.0}


@pytest.fixture(params=["local", "lakefs"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "lakefs":
        request.getfixturevalue("lakefs_env")
    return str(request.param)


def repo(server: LakeFSServer, name: str) -> lakefs.Repository:
    client = Client(  # type: ignore[no-untyped-call]
        host=server.endpoint, username=server.access_key_id, password=server.secret_access_key
    )
    return lakefs.Repository(name, client=client)


def drop_local_objects(root: Path) -> None:
    shutil.rmtree(root / ".sqlops/versions/objects")


def test_a_machine_without_the_local_object_loads_it_from_lakefs(
    make_project: ProjectFactory, lakefs_env: str, lakefs_server: LakeFSServer, tmp_path: Path
) -> None:
    root = make_project({"sqlops.toml": ""})
    saved = sqlops.Project(root).features.save_model(name="churn", model=MODEL)
    sqlops.Project(root).features.add(pl.DataFrame({"x": [1, None]}), name="rows")
    # the repository holds the pickled bytes under their blake3 hash, on its own branch
    branch = repo(lakefs_server, lakefs_env).ref("sqlops-artifacts")
    with branch.object(f"{ARTIFACTS}{saved.artifact}").reader(mode="rb") as reader:
        stored = reader.read()
    assert blake3.blake3(stored).hexdigest()[:40] == saved.artifact
    assert pickle.loads(stored) == MODEL
    # the data branches never see it
    assert set(sqlops.Project(root).branches()) == {"main"}
    # another clone: same repository and registry records, no object folder
    clone = tmp_path / "clone"
    clone.mkdir()
    (clone / "sqlops.toml").write_text("")
    (clone / ".sqlops").mkdir()
    shutil.copy(root / ".sqlops/catalog.duckdb", clone / ".sqlops/catalog.duckdb")
    assert sqlops.Project(clone).features.load_model("churn") == MODEL
    # this machine after its cache was emptied
    drop_local_objects(root)
    assert sqlops.Project(root).fsck() == []  # checked against lakeFS's copy
    assert sqlops.Project(root).features.load_model("churn") == MODEL
    assert sqlops.Project(root).features.load("rows")["x"].to_list() == [1, None]


def test_an_artifact_changed_in_lakefs_is_refused_in_one_line(
    make_project: ProjectFactory, lakefs_env: str, lakefs_server: LakeFSServer
) -> None:
    root = make_project({"sqlops.toml": ""})
    saved = sqlops.Project(root).features.save_model(name="churn", model=MODEL)
    branch = repo(lakefs_server, lakefs_env).branch("sqlops-artifacts")
    branch.object(f"{ARTIFACTS}{saved.artifact}").upload(data=pickle.dumps({"evil": 1}))
    branch.commit(message="tampered")
    drop_local_objects(root)
    with pytest.raises(sqlops.RegistryError, match="is corrupt") as info:
        sqlops.Project(root).features.load_model("churn")
    assert "\n" not in str(info.value) and "churn version 1" in str(info.value)
    branch.object(f"{ARTIFACTS}{saved.artifact}").delete()
    branch.commit(message="lost")
    with pytest.raises(sqlops.RegistryError, match="is missing from lakeFS repository"):
        sqlops.Project(root).features.load_model("churn")


def test_a_model_saved_twice_is_stored_once(make_project: ProjectFactory, backend: str) -> None:
    root = make_project({"sqlops.toml": ""})
    store = sqlops.Project(root).features
    first = store.save_model(name="a", model=MODEL)
    again = store.save_model(name="b", model=MODEL)
    assert first.artifact == again.artifact
    assert store.load_model("b") == MODEL


SAVER = """
import sys
import sqlops
store = sqlops.Project(sys.argv[1]).features
for i in range(int(sys.argv[3])):
    store.save_model(name="churn", model={"by": sys.argv[2], "i": i})
"""


def test_concurrent_saves_from_two_processes_get_distinct_versions(
    make_project: ProjectFactory,
) -> None:
    root = make_project({"sqlops.toml": ""})
    each = 4
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(SAVER), str(root), who, str(each)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for who in ("p1", "p2")
    ]
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
    con = duckdb.connect(str(root / ".sqlops/catalog.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT version, artifact FROM registered_models WHERE name = 'churn' ORDER BY version"
        ).fetchall()
    finally:
        con.close()
    assert [v for v, _ in rows] == list(range(1, 2 * each + 1))
    store = sqlops.Project(root).features
    loaded = [store.load_model("churn", version=v) for v, _ in rows]
    expected = [{"by": who, "i": i} for who in ("p1", "p2") for i in range(each)]
    assert sorted(loaded, key=str) == sorted(expected, key=str)
