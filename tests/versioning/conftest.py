"""The version store backends under test; every contract test runs against each."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from sqlops.versioning.local import LocalStore
from sqlops.versioning.store import TableVersion, VersionStore


@pytest.fixture(params=["local"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> VersionStore:
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
