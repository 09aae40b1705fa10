"""Loading contracts, bad input (one line naming file:line or table.column), the known
silent gaps of pandera guarded, and the result records."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pandera.errors
import pandera.polars as pa
import polars as pl
import pytest
from pandera.api.checks import Check
from pandera.config import config_context

from sqlops import checks
from sqlops.errors import ContractError, ContractFailed
from sqlops.execute.engine import Engine
from sqlops.governance.contracts import Contract, load_contract, unportable
from sqlops.governance.results import JSON_KEYS, CheckReport
from sqlops.governance.validate import validate

MODEL = """\
import pandera.polars as pa
from sqlops import checks

class Orders(pa.DataFrameModel):
    id: int = pa.Field(unique=True, ge=0)
    status: str = pa.Field(not_missing={})

    class Config:
        row_count = {"min_value": 1}
"""


@pytest.fixture
def engine() -> Engine:
    engine = Engine.open(threads=1)
    engine.execute("CREATE SCHEMA m")
    engine.execute(
        "CREATE TABLE m.orders AS SELECT * FROM (VALUES (1::BIGINT, 'ok'), (2, 'N/A'), (2, '')) v(id, status)"  # noqa: E501
    )
    return engine


def pick(results: list[Any], prefix: str) -> list[Any]:
    return [r for r in results if r.check.startswith(prefix)]


def write(root: Path, name: str, text: str) -> None:
    (root / "contracts").mkdir(exist_ok=True)
    (root / "contracts" / f"{name}.py").write_text(textwrap.dedent(text))


def test_contract_file_loads_and_validates(tmp_path: Path, engine: Engine) -> None:
    write(tmp_path, "orders", MODEL)
    contract = load_contract(tmp_path, "orders", severity="warn")
    results = validate(engine, "m.orders", "marts.orders", contract)
    failed = {(r.check, r.failures) for r in results if r.outcome == "warn"}
    assert failed == {("field_uniqueness", 2), ("not_missing", 2)}
    assert not [m for m in sys.modules if m.startswith("_sqlops_contract")]


def test_several_models_pick_the_camel_case_one(tmp_path: Path) -> None:
    write(tmp_path, "stg_orders", MODEL + "\nclass StgOrders(Orders):\n    pass\n")
    assert load_contract(tmp_path, "stg_orders").schema.name == "StgOrders"


def test_module_class_reference_imports_from_the_root(tmp_path: Path) -> None:
    (tmp_path / "mycontracts.py").write_text(MODEL)
    contract = load_contract(tmp_path, "mycontracts:Orders")
    assert set(contract.schema.columns) == {"id", "status"}
    assert str(tmp_path) not in sys.path


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("import pandera.polars as pa\nclass A(pa.DataFrameModel)\n    x: int\n", 2, "SyntaxError"),
        ("import pandera.polars as pa\nimport no_such_module_x\n", 2, "no_such_module_x"),
        ("import pandera.polars as pa\nfrom pandera import Check\nS = pa.DataFrameSchema(checks=[Check.fresness()])\n", 3, "did you mean freshness"),  # noqa: E501
        ("import pandera.polars as pa\nclass A(pa.DataFrameModel):\n    x: int\n    class Config:\n        row_cont = 1\n", 5, "did you mean row_count"),  # noqa: E501
    ],
    ids=["syntax", "import", "unknown-check", "unknown-config-check"],
)  # fmt: skip
def test_a_contract_that_does_not_import_names_file_and_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    write(tmp_path, "bad", text)
    with pytest.raises(ContractError) as caught:
        load_contract(tmp_path, "bad")
    message = str(caught.value)
    assert f"bad.py:{line}: contract bad does not import" in message and words in message
    assert "\n" not in message


def test_missing_contract_file_suggests_close_name(tmp_path: Path) -> None:
    write(tmp_path, "orders", MODEL)
    with pytest.raises(ContractError, match="did you mean orders"):
        load_contract(tmp_path, "order")


def test_a_missing_column_names_table_and_column(engine: Engine) -> None:
    schema = pa.DataFrameSchema({"id": pa.Column(int), "amount": pa.Column(float)})
    with pytest.raises(
        ContractError, match=r"^marts\.orders\.amount: the contract's column is missing"
    ):
        validate(engine, "m.orders", "marts.orders", Contract("o", schema))


def test_a_table_check_on_a_missing_column_names_it(engine: Engine) -> None:
    schema = pa.DataFrameSchema({"id": pa.Column(int)}, checks=[checks.freshness("updated", "1d")])
    with pytest.raises(
        ContractError, match=r"^marts\.orders\.updated: freshness names a missing column"
    ):
        validate(engine, "m.orders", "marts.orders", Contract("o", schema))


# The known silent gaps of pandera, each guarded.


def test_gap_lazyframe_validation_depth_is_schema_only(engine: Engine) -> None:
    schema = pa.DataFrameSchema({"id": pa.Column(int, checks=[Check.ge(5)])})
    frame = pl.LazyFrame({"id": [1, 2]})
    schema.validate(frame)  # plain pandera: a LazyFrame's data is not checked by default
    [got] = pick(validate(engine, "m.orders", "m.orders", Contract("o", schema)), "greater")
    assert (got.outcome, got.failures) == ("failed", 3)


def test_gap_disabled_validation_is_never_passed(engine: Engine) -> None:
    schema = pa.DataFrameSchema({"id": pa.Column(int, unique=True, checks=[Check.ge(5)])})
    with config_context(validation_enabled=False):
        results = validate(engine, "m.orders", "m.orders", Contract("o", schema))
    assert {r.outcome for r in results} == {"not_evaluated"} and len(results) == 4
    assert not CheckReport.of(results).evaluated


def test_gap_groupby_check_is_refused(engine: Engine) -> None:
    check = Check(lambda groups: all(g.height > 0 for g in groups.values()), groupby="status")
    schema = pa.DataFrameSchema({"id": pa.Column(int, checks=[check]), "status": pa.Column(str)})
    with pytest.raises(ContractError, match=r"^m\.orders\.id: Check\(groupby=\.\.\.\)"):
        validate(engine, "m.orders", "m.orders", Contract("o", schema))


def test_gap_capped_failure_cases_do_not_cap_counts(engine: Engine) -> None:
    engine.execute("CREATE TABLE m.big AS SELECT range AS id FROM range(100)")
    capped = Check.ge(90, n_failure_cases=2)
    custom = Check(lambda d: d.lazyframe.select(pl.col("id") >= 90), n_failure_cases=2, name="c")
    schema = pa.DataFrameSchema({"id": pa.Column(int, checks=[capped, custom])})
    with pytest.raises(pandera.errors.SchemaErrors) as caught:
        schema.validate(engine.polars("SELECT * FROM m.big"), lazy=True)
    assert caught.value.failure_cases.height == 4  # pandera keeps 2 of 90 per check
    results = validate(engine, "m.big", "m.big", Contract("o", schema))
    assert [r.failures for r in results if r.check.startswith(("greater", "c"))] == [90, 90]


def test_gap_unregistered_checks_vanish_from_yaml_registered_ones_survive() -> None:
    custom = Check(lambda d: d.lazyframe.select(pl.col("x") > 0), name="positive")
    schema = pa.DataFrameSchema(
        {"x": pa.Column(float, checks=[custom, checks.not_missing()])},
        checks=[checks.freshness("x", "1d"), checks.mostly("x", Check.ge(0), 0.9)],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = pa.DataFrameSchema.from_yaml(schema.to_yaml())
    assert [c.name for c in back.columns["x"].checks] == ["not_missing"]  # custom dropped
    assert [(c.name, c.statistics) for c in back.checks] == [
        (c.name, c.statistics) for c in schema.checks
    ]
    assert unportable(schema) == ["x: positive"]


def test_sqlops_only_checks_error_in_plain_pandera_never_pass() -> None:
    schema = pa.DataFrameSchema({"x": pa.Column(int)}, checks=[checks.references("x", "m.p", "id")])
    with pytest.raises(pandera.errors.SchemaErrors, match="runs only in sqlops"):
        schema.validate(pl.DataFrame({"x": [1]}), lazy=True)


def test_a_missing_referenced_table_is_an_error_result(engine: Engine) -> None:
    schema = pa.DataFrameSchema(
        {"id": pa.Column(int)}, checks=[checks.references("id", "m.nope", "id")]
    )
    [got] = pick(validate(engine, "m.orders", "m.orders", Contract("o", schema)), "references")
    assert (got.outcome, got.reason) == ("error", "table_missing")


def test_a_raising_custom_check_is_an_error_not_a_pass(engine: Engine) -> None:
    schema = pa.DataFrameSchema({"id": pa.Column(checks=[Check(lambda d: 1 / 0, name="boom")])})
    [got] = pick(validate(engine, "m.orders", "m.orders", Contract("o", schema)), "boom")
    assert (got.outcome, got.message) == ("error", "ZeroDivisionError: division by zero")


def test_report_json_keys_ok_and_raise(engine: Engine) -> None:
    schema = pa.DataFrameSchema({"id": pa.Column(int, unique=True)})
    results = validate(engine, "m.orders", "marts.orders", Contract("o", schema))
    report = CheckReport.of(results)
    payload = json.loads(json.dumps(report.to_dict()))
    assert set(payload["results"][1]) >= set(JSON_KEYS) and not report.ok
    with pytest.raises(ContractFailed, match=r"marts\.orders"):
        report.raise_on_error()
    warned = CheckReport.of(validate(engine, "m.orders", "t", Contract("o", schema, "warn")))
    assert warned.ok and {r.outcome for r in warned.results} == {"passed", "warn"}


def test_a_check_duckdb_cannot_run_errors_alone(engine: Engine) -> None:
    schema = pa.DataFrameSchema({"id": pa.Column(int, checks=[Check.ge("x"), Check.le(1)])})
    results = validate(engine, "m.orders", "m.orders", Contract("o", schema))
    bad, le = pick(results, "greater"), pick(results, "less")
    assert [(r.outcome, r.reason) for r in bad] == [("error", "check_error")]
    assert [(r.outcome, r.failures, r.samples) for r in le] == [("failed", 2, [2, 2])]


def test_an_absent_optional_column_is_not_evaluated(engine: Engine) -> None:
    schema = pa.DataFrameSchema(
        {"id": pa.Column(int), "x": pa.Column(int, required=False, checks=[Check.ge(0)])}
    )
    results = [
        r
        for r in validate(engine, "m.orders", "m.orders", Contract("o", schema))
        if r.column == "x"
    ]
    assert {r.outcome for r in results} == {"not_evaluated"} and len(results) == 2


def test_raise_warning_makes_one_check_warn(engine: Engine) -> None:
    schema = pa.DataFrameSchema({"id": pa.Column(int, checks=[Check.le(1, raise_warning=True)])})
    [got] = pick(validate(engine, "m.orders", "m.orders", Contract("o", schema)), "less")
    assert (got.severity, got.outcome) == ("warn", "warn")


def test_pandera_is_imported_only_when_a_contract_runs() -> None:
    code = (
        "import sys, sqlops, sqlops.governance.validate, sqlops.governance.contracts;"
        "print('pandera' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("check", "words"),
    [
        (
            Check.mostly(column="id", check="greater_than_or_equl_to", statistics={}, fraction=0.9),
            "did you mean greater_than_or_equal_to",
        ),
        (Check.aggregate_in_range(column="id", stat="median"), "unknown aggregate median"),
    ],
    ids=["mostly-inner", "aggregate-stat"],
)
def test_an_unknown_inner_check_or_aggregate_is_a_contract_error(
    engine: Engine, check: Check, words: str
) -> None:
    schema = pa.DataFrameSchema({"id": pa.Column(int)}, checks=[check])
    with pytest.raises(ContractError, match=words):
        validate(engine, "m.orders", "m.orders", Contract("o", schema))
