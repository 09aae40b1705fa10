"""``--json`` keeps exact numbers exact: DECIMALs with all their digits and integers past
2^53 as whole JSON numbers, for ad-hoc queries, SQL files and tables read at a version."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sqlops import Project
from sqlops.cli.app import app

from conftest import ProjectFactory

runner = CliRunner()
EXACT = """select 55909065222.827692 as d,
    -9999999999999999999999999999.9999999999::DECIMAL(38,10) as wide,
    0.0000000001::DECIMAL(38,10) as tiny,
    (2::HUGEINT ** 100)::HUGEINT as huge,
    340282366920938463463374607431768211455::UHUGEINT as uhuge,
    [1.10, 2.25]::DECIMAL(4,2)[] as list,
    0.1::DOUBLE as f"""
EXPECTED = {
    "d": Decimal("55909065222.827692"),
    "wide": Decimal("-9999999999999999999999999999.9999999999"),
    "tiny": Decimal("0.0000000001"),
    "huge": 2**100,
    "uhuge": 2**128 - 1,
    "list": [Decimal("1.10"), Decimal("2.25")],
    "f": Decimal("0.1"),
}


def _rows(args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(cwd)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout, parse_float=Decimal)


def test_query_json_keeps_decimals_and_huge_integers_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _rows(["query", EXACT, "--json"], tmp_path, monkeypatch)
    assert rows == [EXPECTED]
    assert '"d": 55909065222.827692' in runner.invoke(app, ["query", EXACT, "--json"]).stdout


def test_run_json_keeps_numbers_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "q.sql").write_text(EXACT + ";\n")
    assert _rows(["run", "q.sql", "--json"], tmp_path, monkeypatch) == [EXPECTED]


def test_query_at_a_ref_keeps_a_stored_sum_exact(
    make_project: ProjectFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sum past 2^53 stored by a table model, read from the warehouse and at a commit."""
    root = make_project(
        {
            "sql/m/s.sql": (
                "-- materialized: table\nselect sum(x) as s, sum(x)::DECIMAL(38,0) + 0.5 as a "
                "from (values (4611686018427387904), (4611686018427387905)) as t(x)\n"
            )
        }
    )
    project = Project(root)
    assert project.build().ok
    assert project.commit("v1") is not None
    want = [{"s": 2**63 + 1, "a": Decimal("9223372036854775809.5")}]
    assert _rows(["query", "select * from m.s", "--json"], root, monkeypatch) == want
    query = ["query", "select * from m.s", "--ref", "main", "--json"]
    assert _rows(query, root, monkeypatch) == want
