"""Shared fixtures (small projects written to a temp folder, a lakeFS server) and the rules of
what a test run collects: benchmarks only when asked for; lakeFS tests skipped, with the fix,
where no lakeFS server can be had, except in CI (``CI`` set), where that is an error."""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lakefs_server import LakeFSServer, LakeFSUnavailable, find_or_build_lakefs, start_lakefs

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


BENCH = Path(__file__).resolve().parent / "bench"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave the benchmarks out unless asked for (a path inside tests/bench, or a -m that
    names ``bench``): a ``-m 'not bench'`` in addopts would be replaced by any -m given."""
    if collection_path != BENCH:
        return None
    return None if _benchmarks_asked(config) else True


def _benchmarks_asked(config: pytest.Config) -> bool:
    if "bench" in (config.option.markexpr or ""):
        return True
    here = config.invocation_params.dir
    targets = [(here / arg.split("::")[0]).resolve() for arg in config.args]
    return any(t == BENCH or BENCH in t.parents for t in targets)


@pytest.fixture(scope="session")
def lakefs_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LakeFSServer]:
    """A real lakeFS server (built from its Go module, cached) for the whole session."""
    server = start_lakefs(_lakefs_binary(request.config), tmp_path_factory.mktemp("lakefs"))
    yield server
    server.stop()


def _lakefs_binary(config: pytest.Config) -> str:
    """The lakeFS binary; a build says so on the terminal (it takes minutes), a machine
    without Go skips the lakeFS tests with the fix as the reason, and CI fails instead."""
    try:
        return find_or_build_lakefs(lambda line: _say(config, line))
    except LakeFSUnavailable as exc:
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"CI runs the lakeFS tests: {exc}", pytrace=False)
        pytest.skip(str(exc))


def _say(config: pytest.Config, line: str) -> None:
    """A line on the terminal now, through pytest's output capture."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    if capture is None:
        reporter.write_line(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


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
