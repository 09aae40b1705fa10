"""What only the lakeFS backend has: its layout in the repository, its configuration and its
failures. Checked through lakeFS itself (the SDK as an independent client), not through
sqlops's records."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import lakefs
import polars as pl
import pytest
from lakefs.client import Client
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from sqlops import Project
from sqlops.cli.app import app
from sqlops.errors import ConfigError, CorruptObject, VersioningError

from lakefs_server import LakeFSServer


def _repo(server: LakeFSServer, name: str) -> lakefs.Repository:
    client = Client(  # type: ignore[no-untyped-call]
        host=server.endpoint, username=server.access_key_id, password=server.secret_access_key
    )
    return lakefs.Repository(name, client=client)


def _read(repo: lakefs.Repository, ref: str, path: str) -> pl.DataFrame:
    with repo.ref(ref).object(path).reader(mode="rb") as reader:
        return pl.read_parquet(io.BytesIO(reader.read()))


def test_tables_are_parquet_under_tables_schema_name_with_lineage_metadata(
    orders_project: Path, lakefs_server: LakeFSServer, lakefs_env: str
) -> None:
    project = Project(orders_project)
    project.create_branch("dev")
    result = project.build(branch="dev")
    repo = _repo(lakefs_server, lakefs_env)
    paths = [o.path for o in repo.ref("dev").objects(prefix="tables/marts/top/")]
    assert paths and all(p.endswith(".parquet") for p in paths)
    stored = pl.concat([_read(repo, "dev", p) for p in paths])
    assert_frame_equal(stored.sort("customer_id"), project.table("marts.top").sort("customer_id"))
    head = repo.ref("dev").get_commit()
    assert head.metadata["run_id"] == result.run_id
    assert json.loads(head.metadata["fingerprints"])["marts.top"]
    assert head.metadata["sqlops_version"]
    # the transaction branch a commit is staged on is gone, and main never moved
    assert sorted(b.id for b in repo.branches()) == ["dev", "main"]
    assert not list(repo.ref("main").objects(prefix="tables/"))


def test_a_corrupt_part_in_lakefs_is_named_with_table_and_commit(
    orders_project: Path, lakefs_server: LakeFSServer, lakefs_env: str
) -> None:
    project = Project(orders_project)
    project.build()
    made = project.commit("one")
    assert made is not None
    before = project.table("marts.top")
    part = made.tree["marts.top"].parts[0]
    main = _repo(lakefs_server, lakefs_env).branch("main")
    main.object(f"tables/marts/top/{part}.parquet").upload(data=b"garbage")
    bad = main.commit(message="someone overwrote a part").get_commit().id
    project.objects.path(part).unlink()  # drop the cached copy: read it from lakeFS again
    project = Project(orders_project)
    with pytest.raises(CorruptObject, match=f"table marts.top in commit {bad[:12]}.*corrupt"):
        project.table("marts.top", ref="main")
    assert_frame_equal(project.table("marts.top", ref=made.id), before)  # still intact


def test_fsck_names_a_part_missing_from_lakefs(
    orders_project: Path, lakefs_server: LakeFSServer, lakefs_env: str
) -> None:
    project = Project(orders_project)
    project.build()
    made = project.commit("one")
    assert made is not None
    part = made.tree["marts.top"].parts[0]
    main = _repo(lakefs_server, lakefs_env).branch("main")
    main.object(f"tables/marts/top/{part}.parquet").delete()
    main.commit(message="someone deleted a part")
    problems = Project(orders_project).fsck()
    assert any("table marts.top" in p and part in p and "missing" in p for p in problems)


def test_config_shows_the_backend_but_never_the_secret(
    orders_project: Path, lakefs_server: LakeFSServer, lakefs_env: str
) -> None:
    for args in (["config"], ["config", "--json"]):
        out = CliRunner().invoke(app, ["--project", str(orders_project), *args])
        assert out.exit_code == 0, out.output
        assert "lakefs" in out.output and lakefs_env in out.output
        assert lakefs_server.secret_access_key not in out.output


def test_an_unreachable_server_is_a_one_line_error(
    orders_project: Path, lakefs_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKECTL_SERVER_ENDPOINT_URL", "http://127.0.0.1:9")
    exe = Path(sys.executable).parent / "sqlops"
    done = subprocess.run([exe, "log"], cwd=orders_project, capture_output=True, text=True)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach lakeFS at http://127.0.0.1:9" in lines[0], lines


def test_wrong_credentials_are_refused_clearly(
    orders_project: Path, lakefs_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY", "wrong")
    with pytest.raises(VersioningError, match=r"lakeFS refused to .*check the access key"):
        Project(orders_project).branches()


def test_a_missing_repository_says_how_to_create_it(
    orders_project: Path, lakefs_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SQLOPS_LAKEFS_STORAGE_NAMESPACE")
    with pytest.raises(VersioningError, match=f"repository '{lakefs_env}' does not exist"):
        Project(orders_project).branches()
    monkeypatch.delenv("SQLOPS_LAKEFS_REPOSITORY")
    with pytest.raises(ConfigError, match=r"versions\.lakefs\.repository is not set"):
        Project(orders_project).branches()


def test_branch_names_lakefs_cannot_hold_are_refused(orders_project: Path, lakefs_env: str) -> None:
    project = Project(orders_project)
    with pytest.raises(VersioningError, match="invalid branch name 'feature/x' for lakeFS"):
        project.create_branch("feature/x")
    assert set(project.branches()) == {"main"}


def test_the_readme_lakefs_config_works_as_written(
    orders_project: Path, lakefs_server: LakeFSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = re.search(r"```toml\n# sqlops.toml\n(.*?)```", readme, re.S)
    assert block is not None
    (orders_project / "sqlops.toml").write_text(
        (orders_project / "sqlops.toml").read_text() + "\n" + block.group(1)
    )
    monkeypatch.setenv("LAKECTL_SERVER_ENDPOINT_URL", lakefs_server.endpoint)  # not :8000
    monkeypatch.setenv("LAKECTL_CREDENTIALS_ACCESS_KEY_ID", lakefs_server.access_key_id)
    monkeypatch.setenv("LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY", lakefs_server.secret_access_key)
    project = Project(orders_project)
    project.build()
    made = project.commit("first")
    assert made is not None
    repo = _repo(lakefs_server, "analytics")  # created from storage_namespace
    assert repo.ref("main").get_commit().id == made.id
