"""The strategies that compute a table model (``sqlops.execute.strategies``): the first that
takes a node computes it, one that fails declines, and a model DuckDB rejects is a failed
model in the build's summary under every setting, never a crash."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sqlops import Project
from sqlops.cli.app import app

from conftest import ProjectFactory

CSV = "a,b\n1,2.5\n2,3.5\n"
SETTINGS = list(itertools.product(("duckdb", "polars"), ("auto", "duckdb")))


def _project(make_project: ProjectFactory, reader: str, executor: str, sql: str) -> Path:
    return make_project(
        {
            "sqlops.toml": f'[engine]\ncsv_reader = "{reader}"\nexecutor = "{executor}"\n'
            '[sources."raw.t"]\npath = "data/t.csv"\n',
            "data/t.csv": CSV,
            "sql/m/bad.sql": f"-- materialized: table\n{sql}\n",
            "sql/m/good.sql": "-- materialized: table\nselect a, b * 2 as b2 from raw.t\n",
        }
    )


@pytest.mark.parametrize(("reader", "executor"), SETTINGS)
@pytest.mark.parametrize("sql", ["select a,, b from raw.t", "select a, nope from raw.t"])
def test_sql_duckdb_rejects_is_a_failed_model_not_a_crash(
    make_project: ProjectFactory, reader: str, executor: str, sql: str
) -> None:
    """sqlglot accepts ``select a,, b``; DuckDB does not. The build reports the model as
    failed, with the file and line, and builds its sibling; the CLI prints no traceback."""
    root = _project(make_project, reader, executor, sql)
    result = Project(root).build()
    status = {n.name: (n.status, n.error) for n in result.models}
    assert status["m.good"] == ("success", None)
    state, error = status["m.bad"]
    assert state == "error" and error is not None and error.startswith("sql/m/bad.sql:2")
    out = CliRunner().invoke(app, ["--project", str(root), "build", "--full-refresh"])
    assert out.exit_code == 1, out.output
    assert "Traceback" not in out.output and "m.bad" in out.output


def test_a_failing_fast_strategy_falls_through_to_duckdb(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A strategy that fails declines: the next one computes the model, with DuckDB's answer."""
    from sqlops.errors import ExecutionError
    from sqlops.execute import strategies

    calls: list[str] = []

    def broken(job: strategies.Job) -> None:
        calls.append(job.model.name)
        raise ExecutionError("boom")

    monkeypatch.setattr(strategies, "STRATEGIES", (broken, *strategies.STRATEGIES))
    root = _project(make_project, "polars", "auto", "select a, b from raw.t where a > 1")
    project = Project(root)
    result = project.build()
    assert result.ok and sorted(calls) == ["m.bad", "m.good"]
    assert project.table("m.bad").to_dicts() == [{"a": 2, "b": 3.5}]
    assert {n.name: n.engine for n in result.models} == {"m.bad": "polars", "m.good": "polars"}
