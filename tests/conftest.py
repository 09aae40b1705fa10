"""Shared fixtures: small projects written to a temp folder, and the CLI runner."""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lakefs_server import LakeFSServer, find_or_build_lakefs, start_lakefs

ProjectFactory = Callable[..., Path]


@pytest.fixture
def make_project(tmp_path: Path) -> ProjectFactory:
    """Write ``{relative path: text}`` files into a fresh project folder and return it."""

    def make(files: dict[str, str], root: Path | None = None) -> Path:
        base = root or tmp_path / "proj"
        for name, text in files.items():
            target = base / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(textwrap.dedent(text).lstrip("\n"))
        base.mkdir(parents=True, exist_ok=True)
        return base

    return make


ORDERS_CSV = """order_id,customer_id,amount,ordered_at
1,10,5.5,2026-01-01
2,10,7.25,2026-01-02
3,20,,2026-01-02
4,,3.0,2026-01-03
5,30,12.0,2026-01-04
"""


@pytest.fixture
def orders_project(make_project: ProjectFactory) -> Path:
    """A three-model project over one CSV: staging view -> table -> table."""
    return make_project(
        {
            "sqlops.toml": """
                [sources."raw.orders"]
                path = "data/orders.csv"
            """,
            "data/orders.csv": ORDERS_CSV,
            "sql/stg/orders.sql": """
                -- materialized: view
                select order_id, customer_id, amount
                from raw.orders
                where customer_id is not null and amount is not null
            """,
            "sql/marts/revenue.sql": """
                -- materialized: table
                -- tags: daily
                select customer_id, sum(amount) as revenue, count(*) as n
                from stg.orders group by customer_id
            """,
            "sql/marts/top.sql": """
                -- materialized: table
                select * from marts.revenue where revenue > 10
            """,
        }
    )


@pytest.fixture(scope="session")
def lakefs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LakeFSServer]:
    """A real lakeFS server (built from its Go module, cached) for the whole session."""
    server = start_lakefs(find_or_build_lakefs(), tmp_path_factory.mktemp("lakefs"))
    yield server
    server.stop()


@pytest.fixture
def lakefs_env(lakefs_server: LakeFSServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point every project (and CLI subprocess) at a fresh lakeFS repository, the way a user
    would: environment variables only. Returns the repository name."""
    name = f"t-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("SQLOPS_VERSIONS_BACKEND", "lakefs")
    monkeypatch.setenv("SQLOPS_LAKEFS_REPOSITORY", name)
    monkeypatch.setenv("SQLOPS_LAKEFS_STORAGE_NAMESPACE", f"local://{name}")
    monkeypatch.setenv("LAKECTL_SERVER_ENDPOINT_URL", lakefs_server.endpoint)
    monkeypatch.setenv("LAKECTL_CREDENTIALS_ACCESS_KEY_ID", lakefs_server.access_key_id)
    monkeypatch.setenv("LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY", lakefs_server.secret_access_key)
    return name


def write_parquet(path: Path, select: str) -> None:
    """Write a Parquet file with plain DuckDB; when it replaces one, bump its mtime a second
    so a build sees a new file even within the filesystem's timestamp resolution."""
    import duckdb

    existed = path.exists()
    con = duckdb.connect()
    con.execute(f"COPY ({select}) TO '{path}' (FORMAT parquet)")
    con.close()
    if existed:
        st = os.stat(path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
