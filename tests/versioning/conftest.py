"""The version store backends under test; every contract test runs against each."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from sqlops.versioning.local import LocalStore
from sqlops.versioning.store import TableVersion, VersionStore

BACKENDS = ["local", "lakefs"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Run a project-level test once per backend (lakeFS through the environment)."""
    if request.param == "lakefs":
        request.getfixturevalue("lakefs_env")
    return str(request.param)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> VersionStore:
    if request.param == "lakefs":
        from sqlops.config import load_config
        from sqlops.storage.objects import ObjectStore
        from sqlops.versioning.lakefs import LakeFSStore

        request.getfixturevalue("lakefs_env")
        settings = load_config(tmp_path).lakefs
        remote = LakeFSStore(settings, ObjectStore(tmp_path / "objects", tmp_path), tmp_path / "c")
        remote.init()
        return remote
    local = LocalStore(tmp_path / "versions")
    local.init()
    return local


TableMaker = Callable[[pl.DataFrame], TableVersion]


@pytest.fixture
def table(store: VersionStore, tmp_path: Path) -> TableMaker:
    """Store a frame as one Parquet part and return its TableVersion."""
    counter = iter(range(10**6))

    def make(frame: pl.DataFrame) -> TableVersion:
        path = tmp_path / f"part-{next(counter)}.parquet"
        frame.write_parquet(path)
        part = store.put_part(path)
        columns = tuple((n, str(t)) for n, t in frame.schema.items())
        return TableVersion((part,), columns, frame.height)

    return make
