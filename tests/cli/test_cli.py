"""The CLI: every command has help, --json is pure JSON, errors are one line with exit 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from sqlops.cli.app import app

from conftest import ProjectFactory

runner = CliRunner()
COMMANDS = sorted(app.registered_commands, key=lambda c: c.name or "")


def sqlops(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the real console script in a subprocess, as a user would."""
    exe = Path(sys.executable).parent / "sqlops"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLOPS_")}
    return subprocess.run(
        [str(exe), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120
    )


@pytest.mark.parametrize("command", [c.name or c.callback.__name__ for c in COMMANDS])  # type: ignore[union-attr]
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    cmd = next(c for c in COMMANDS if (c.name or c.callback.__name__) == command)  # type: ignore[union-attr]
    assert cmd.callback is not None and cmd.callback.__doc__, f"{command} has no help text"


def test_init_then_build_then_query(tmp_path: Path) -> None:
    created = sqlops("init", "shop", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    root = tmp_path / "shop"
    built = sqlops("build", cwd=root)
    assert built.returncode == 0, built.stderr
    assert "2 built, 0 unchanged, 0 failed" in built.stdout
    again = sqlops("build", cwd=root)
    assert "0 built, 2 unchanged" in again.stdout
    raw = pl.read_csv(root / "data/orders.csv").drop_nulls(["customer_id", "amount"])
    expected = raw.group_by("customer_id").agg(pl.col("amount").sum().round(2)).sort("customer_id")
    out = sqlops(
        "query", "select customer_id, revenue from marts.customer_revenue", "--json", cwd=root
    )
    rows = json.loads(out.stdout)
    assert [r["customer_id"] for r in rows] == expected["customer_id"].to_list()
    assert [r["revenue"] for r in rows] == pytest.approx(expected["amount"].to_list())


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    assert sqlops("init", "p", cwd=tmp_path).returncode == 0
    again = sqlops("init", "p", cwd=tmp_path)
    assert again.returncode == 1
    assert again.stderr.startswith("Error: ") and "already exists" in again.stderr


def test_user_error_is_one_line_without_traceback(orders_project: Path) -> None:
    (orders_project / "sql/marts/bad.sql").write_text("select * from stg.ordrs")
    result = sqlops("build", cwd=orders_project)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: sql/marts/bad.sql:1:15: unknown table stg.ordrs. did you mean stg.orders?"
    ]
    assert not (orders_project / ".sqlops/warehouse.duckdb").exists()
    debug = sqlops("--debug", "build", cwd=orders_project)
    assert "Traceback" in debug.stderr


def test_failed_model_exits_1_and_names_the_file(orders_project: Path) -> None:
    (orders_project / "sql/marts/bad.sql").write_text(
        "-- materialized: table\nselect customer_id,\n  revenue + 'x' as oops\nfrom marts.revenue"
    )
    result = sqlops("build", cwd=orders_project)
    assert result.returncode == 1
    assert "error marts.bad: sql/marts/bad.sql:3:" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_usage_exits_2(orders_project: Path) -> None:
    assert sqlops("build", "--no-such-flag", cwd=orders_project).returncode == 2


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (["plan", "--json"], "models"),
        (["ls", "--json"], "nodes"),
        (["config", "--json"], "models"),
        (["runs", "--json"], "runs"),
        (["lineage", "marts.top", "--json"], "upstream"),
    ],
)
def test_read_commands_print_pure_json(orders_project: Path, args: list[str], key: str) -> None:
    sqlops("build", cwd=orders_project)
    result = sqlops(*args, cwd=orders_project)
    assert result.returncode == 0, result.stderr
    assert key in json.loads(result.stdout)


def test_plan_json_shape(orders_project: Path) -> None:
    result = json.loads(sqlops("plan", "--json", cwd=orders_project).stdout)
    assert result["models"][0].keys() >= {"name", "action", "reason"}
    assert {m["action"] for m in result["models"]} == {"run"}


def test_lineage_column_json(orders_project: Path) -> None:
    sqlops("build", cwd=orders_project)
    out = json.loads(
        sqlops("lineage", "marts.top", "-c", "revenue", "--json", cwd=orders_project).stdout
    )
    assert out["upstream"] == {"marts.revenue": {"stg.orders": {"raw.orders": {}}}}
    assert out["column_sources"] == [{"table": "raw.orders", "column": "amount"}]


def test_run_file_with_params_and_output(tmp_path: Path) -> None:
    (tmp_path / "sales.csv").write_text("city,amount\nRecife,10\nNatal,5\nRecife,7\n")
    (tmp_path / "analysis.sql").write_text(
        "create temp table s as select * from 'sales.csv';\n"
        "select city, sum(amount) as total from s\n"
        "where amount >= $min\ngroup by city order by city;\n"
    )
    out = sqlops("run", "analysis.sql", "--param", "min=6", "--out", "r.parquet", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert pl.read_parquet(tmp_path / "r.parquet").to_dicts() == [{"city": "Recife", "total": 17}]
    shown = sqlops("run", "analysis.sql", "--param", "min=0", cwd=tmp_path)
    assert "Natal" in shown.stdout and "2 rows" in shown.stdout


def test_run_file_errors_point_at_the_statement_line(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("select 1;\n\nselect nope\nfrom range(3);\n")
    result = sqlops("run", "a.sql", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: a.sql:3:8: Binder Error: Referenced column")
    missing = sqlops("run", "a.sql", "--param", "x", cwd=tmp_path)
    assert missing.returncode == 1 and "not key=value" in missing.stderr


def test_run_missing_parameter_is_named(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("select $limit as x")
    result = sqlops("run", "a.sql", cwd=tmp_path)
    assert result.returncode == 1
    assert "missing parameter $limit" in result.stderr and "--param limit=VALUE" in result.stderr


def test_query_without_a_project_reads_files(tmp_path: Path) -> None:
    pl.DataFrame({"a": [1, 2, 3]}).write_parquet(tmp_path / "f.parquet")
    out = sqlops("query", "select sum(a) as s from 'f.parquet'", "--json", cwd=tmp_path)
    assert json.loads(out.stdout) == [{"s": 6}]


def test_config_prints_effective_values(make_project: ProjectFactory) -> None:
    root = make_project({"sqlops.toml": "threads = 3\n"})
    out = json.loads(sqlops("config", "--json", cwd=root).stdout)
    assert out["threads"] == 3 and out["models"] == "sql"
    assert out["warehouse"] == ".sqlops/warehouse.duckdb"


def test_unknown_config_key_fails_every_command(make_project: ProjectFactory) -> None:
    root = make_project({"sqlops.toml": "thread = 3\n"})
    result = sqlops("plan", cwd=root)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: sqlops.toml:1: unknown config key thread. did you mean threads?"
    )


def test_version_commands_round_trip(orders_project: Path) -> None:
    assert sqlops("build", cwd=orders_project).returncode == 0
    assert "committed" in sqlops("commit", "-m", "first", cwd=orders_project).stdout
    assert "nothing to commit" in sqlops("commit", "-m", "again", cwd=orders_project).stdout
    assert sqlops("branch", "create", "dev", cwd=orders_project).returncode == 0
    assert sqlops("checkout", "dev", cwd=orders_project).returncode == 0
    branches = json.loads(sqlops("branch", "list", "--json", cwd=orders_project).stdout)
    assert {b["branch"]: b["current"] for b in branches["branches"]} == {"dev": True, "main": False}
    log = json.loads(sqlops("log", "marts.top", "--json", cwd=orders_project).stdout)
    assert [c["message"] for c in log["commits"]] == ["first"]
    bad = sqlops("checkout", "mian", cwd=orders_project)
    assert bad.returncode == 1 and "did you mean main" in bad.stderr


@pytest.mark.parametrize("sub", ["list", "create", "delete"])
def test_branch_subcommands_have_help(sub: str) -> None:
    from sqlops.cli.app import branch_app

    command = next(c for c in branch_app.registered_commands if c.name == sub)
    assert command.callback is not None and command.callback.__doc__
    assert runner.invoke(app, ["branch", sub, "--help"]).exit_code == 0


@pytest.mark.parametrize("sub", ["add", "checkout"])
def test_data_subcommands_have_help(sub: str) -> None:
    from sqlops.cli.app import data_app

    command = next(c for c in data_app.registered_commands if c.name == sub)
    assert command.callback is not None and command.callback.__doc__
    assert runner.invoke(app, ["data", sub, "--help"]).exit_code == 0


def test_data_add_and_checkout_from_a_subfolder(orders_project: Path) -> None:
    data = orders_project / "data"
    (data / "prices.csv").write_bytes(b"sku,price\r\nA,1.5\r\nB,2\r\n")
    added = sqlops("data", "add", "prices.csv", "--name", "raw.prices", cwd=data)
    assert added.returncode == 0, added.stderr
    assert "added data/prices.csv (23 bytes) as raw.prices" in added.stdout
    rows = json.loads(sqlops("query", "select * from raw.prices", "--json", cwd=data).stdout)
    assert rows == [{"sku": "A", "price": 1.5}, {"sku": "B", "price": 2.0}]
    again = sqlops("data", "add", "prices.csv", "--name", "raw.prices", cwd=data)
    assert "unchanged, nothing to commit" in again.stdout
    (data / "prices.csv").write_text("sku,price\nC,3\n")
    refused = sqlops("data", "checkout", "main", cwd=orders_project)
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1
    assert "stored in no version" in refused.stderr and "--force" in refused.stderr
    forced = sqlops("data", "checkout", "main", "--force", cwd=orders_project)
    assert "restored data/prices.csv (raw.prices) from main" in forced.stdout
    assert (data / "prices.csv").read_bytes() == b"sku,price\r\nA,1.5\r\nB,2\r\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "add", "data/nope.csv"], "Error: data/nope.csv does not exist."),
        (["data", "add", "data/orders.csv", "--name", "orders"], "must be schema.table"),
        (["data", "checkout", "mian"], "unknown ref 'mian'. did you mean main?"),
        (["build", "--at", "mian"], "unknown ref 'mian'. did you mean main?"),
    ],
)
def test_bad_data_and_build_at_input_is_one_line(
    orders_project: Path, args: list[str], message: str
) -> None:
    result = sqlops(*args, cwd=orders_project)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr


def test_build_at_a_tag_gives_the_old_numbers(orders_project: Path) -> None:
    csv = orders_project / "data/orders.csv"
    old = pl.read_csv(csv.read_bytes()).drop_nulls(["customer_id", "amount"])
    expected = old.group_by("customer_id").agg(pl.col("amount").sum()).sort("customer_id")
    assert sqlops("build", "--branch", "main", cwd=orders_project).returncode == 0
    assert sqlops("tag", "v1", cwd=orders_project).returncode == 0
    csv.write_text("order_id,customer_id,amount,ordered_at\n1,10,99.0,2026-01-01\n")
    os.utime(csv, ns=(10**18, 10**18))
    assert sqlops("build", cwd=orders_project).returncode == 0
    built = sqlops("build", "--at", "v1", cwd=orders_project)
    assert built.returncode == 0, built.stderr
    q = "select customer_id, revenue from marts.revenue order by customer_id"
    rows = json.loads(sqlops("query", q, "--json", cwd=orders_project).stdout)
    assert [r["customer_id"] for r in rows] == expected["customer_id"].to_list()
    assert [r["revenue"] for r in rows] == pytest.approx(expected["amount"].to_list())


def test_merge_refused_by_a_check_exits_1_with_one_line(orders_project: Path) -> None:
    (orders_project / "merge_checks.py").write_text(
        "def small_orders(version):\n"
        "    n = version.sql('select count(*) n from raw.orders where amount > 100')['n'][0]\n"
        "    return [('raw.orders', f'{n} orders over 100')] if n else None\n"
    )
    config = orders_project / "sqlops.toml"
    config.write_text(
        '[versions]\npre_merge = ["merge_checks:small_orders"]\n' + config.read_text()
    )
    assert sqlops("build", "--branch", "main", cwd=orders_project).returncode == 0
    assert sqlops("branch", "create", "dev", cwd=orders_project).returncode == 0
    csv = orders_project / "data/orders.csv"
    csv.write_text(csv.read_text() + "6,40,500.0,2026-01-05\n")
    assert sqlops("build", "--branch", "dev", cwd=orders_project).returncode == 0
    result = sqlops("merge", "dev", "--into", "main", cwd=orders_project)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: merge of dev into main refused: 1 pre-merge check(s) failed: small_orders on "
        "raw.orders: 1 orders over 100. fix the data on dev (or the check) and merge again; "
        "nothing was merged"
    )


def test_json_output_is_strict_json_for_nan_and_infinities(orders_project: Path) -> None:
    """JSON has no NaN or infinities: `--json` writes them as strings (protobuf's mapping),
    never the bare NaN Python's json module would, which strict parsers refuse."""
    result = sqlops(
        "query",
        "select 'nan'::double as a, 'inf'::double as b, '-inf'::double as c, 1.5::double as d",
        "--json",
        cwd=orders_project,
    )
    assert result.returncode == 0, result.stderr

    def refuse(token: str) -> None:
        raise ValueError(f"not JSON: {token}")

    rows = json.loads(result.stdout, parse_constant=refuse)
    assert rows == [{"a": "NaN", "b": "Infinity", "c": "-Infinity", "d": 1.5}]
