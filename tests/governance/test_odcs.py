"""ODCS interchange: export -> import gives back the same pandera schema (columns, dtypes,
nullability, uniqueness, every check kind with its name and statistics, registered checks
included), the tags and the owner; the YAML is valid ODCS 3.1 by the standard's own JSON
schema; files from other tools import through the portable forms; a malformed or non-3.x
file is one ContractError line naming the file and the field.

``odcs-json-schema-v3.1.0.json`` is the standard's schema, copied unchanged from
bitol-io/open-data-contract-standard (``schema/odcs-json-schema-v3.1.0.json``, Apache-2.0).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandera.errors
import pandera.extensions
import pandera.polars as pa
import polars as pl
import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sqlops.errors import ContractError
from sqlops.governance.odcs import contract_id, export_odcs, import_odcs

ODCS_SCHEMA = Path(__file__).with_name("odcs-json-schema-v3.1.0.json")


@pandera.extensions.register_check_method(statistics=["low", "high"])
def odcs_test_between(data: Any, *, low: Any, high: Any) -> Any:
    return data.lazyframe.select(pl.col(data.key).is_between(low, high))


@pandera.extensions.register_check_method(statistics=["rows"])
def odcs_test_min_rows(data: Any, *, rows: int) -> Any:
    return data.lazyframe.select(pl.len() >= rows)


UTC = ZoneInfo("Etc/UTC")
TAGS = {
    "email": {"pii": "email", "anonymize": "hash"},
    "born": {
        "pii": "date_of_birth",
        "anonymize": "generalize",
        "to": "year",
        "quasi_identifier": True,
    },
}


def every_check_kind() -> Any:
    """One schema holding each check kind pandera-polars has, on the dtypes they fit."""
    c = pa.Check
    return pa.DataFrameSchema(
        {
            "id": pa.Column(pl.Int64, [c.ge(1), c.lt(10**15)], unique=True),
            "email": pa.Column(
                pl.String, [c.str_matches(r"[^@]+@[^@]+"), c.str_length(3, 254)], nullable=True
            ),
            "country": pa.Column(pl.String, [c.isin(["BR", "US", ""]), c.notin(("XX",))]),
            "amount": pa.Column(
                pl.Decimal(10, 2),
                [c.in_range(Decimal("0.00"), Decimal("99.99"), include_max=False)],
            ),
            "score": pa.Column(
                pl.Float64,
                [c.gt(float("-inf")), c.le(1.5), c.odcs_test_between(low=-1, high=2.5)],
                nullable=True,
            ),
            "at": pa.Column(
                pl.Datetime("us", "Etc/UTC"), c.ge(dt.datetime(2020, 1, 1, tzinfo=UTC))
            ),
            "naive": pa.Column(pl.Datetime("ns"), [c.le(dt.datetime(2030, 1, 1, 12, 0, 0, 5))]),
            "born": pa.Column(pl.Date, [c.ge(dt.date(1900, 1, 1)), c.ne(dt.date(1970, 1, 1))]),
            "opens": pa.Column(pl.Time, [c.le(dt.time(12, 30)), c.gt(dt.time(6))]),
            "code": pa.Column(
                pl.String,
                [
                    c.str_startswith("A"),
                    c.str_endswith("Z"),
                    c.str_contains("x"),
                    c.eq("AxZ"),
                    c.str_length(exact_value=3),
                ],
            ),
            "items": pa.Column(pl.List(pl.Int32), nullable=True),
            "flag": pa.Column(pl.Boolean, coerce=True),
            "kind": pa.Column(pl.Enum(["a", "b"])),
            "order id": pa.Column(pl.UInt64, [c.le(2**64 - 1)]),
        },
        checks=[c.odcs_test_min_rows(rows=1)],
        unique=["id", "country"],
        strict=True,
    )


def exported() -> str:
    return export_odcs(
        "marts.customers",
        every_check_kind(),
        contract_name="customers",
        owner="ana",
        column_tags=TAGS,
        description="One row per customer.",
    )


def shape(schema: Any) -> Any:
    """What a round trip must keep, in a form that compares (checks as a multiset)."""

    def checks(found: list[Any]) -> list[str]:
        return sorted(f"{k.name}{sorted((k.statistics or {}).items())!r}" for k in found)

    columns = {
        name: (str(col.dtype), col.nullable, col.unique, col.coerce, checks(col.checks))
        for name, col in schema.columns.items()
    }
    return columns, sorted(schema.unique or []), checks(schema.checks), schema.strict


def load_model(source: str) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(source, "<contract>", "exec", dont_inherit=True), namespace)
    models = [v for v in namespace.values() if isinstance(v, type) and v is not pa.DataFrameModel]
    return next(v for v in models if issubclass(v, pa.DataFrameModel))


def test_round_trip_loses_nothing() -> None:
    imported = import_odcs(exported(), "contracts/customers.yaml")
    model = load_model(imported.source)
    assert shape(model.to_schema()) == shape(every_check_kind())
    assert (imported.name, imported.table) == ("customers", "marts.customers")
    assert imported.owner == "ana"
    assert imported.column_tags == TAGS
    assert imported.description == "One row per customer."


def test_export_is_stable_and_readable_by_other_tools() -> None:
    doc = yaml.safe_load(exported())
    assert exported() == exported()
    assert doc["id"] == contract_id("marts.customers") != contract_id("marts.orders")
    assert (doc["apiVersion"], doc["kind"]) == ("v3.1.0", "DataContract")
    props = {p["name"]: p for p in doc["schema"][0]["properties"]}
    assert props["id"]["logicalTypeOptions"] == {"minimum": 1, "exclusiveMaximum": 10**15}
    assert props["email"]["classification"] == "email"
    assert props["email"]["tags"] == ["pii:email", "anonymize:hash"]
    assert props["email"]["required"] is False and props["id"]["unique"] is True
    valid = props["country"]["quality"][0]
    assert (valid["metric"], valid["arguments"], valid["mustBe"]) == (
        "invalidValues",
        {"validValues": ["BR", "US", ""]},
        0,
    )
    custom = props["score"]["quality"][-1]
    assert custom == {
        "type": "custom",
        "engine": "sqlops",
        "implementation": {"check": "odcs_test_between", "statistics": {"low": -1, "high": 2.5}},
    }
    assert doc["team"] == {"name": "ana", "members": [{"username": "ana", "role": "owner"}]}


def test_export_validates_against_the_odcs_3_1_json_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is not a dev dependency")
    validator = jsonschema.Draft201909Validator(json.loads(ODCS_SCHEMA.read_text()))
    found = validator.iter_errors(yaml.safe_load(exported()))
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in found]
    assert not errors


def test_the_schema_file_is_the_standards_3_1_0() -> None:
    schema = json.loads(ODCS_SCHEMA.read_text())
    assert "v3.1.0" in schema["properties"]["apiVersion"]["enum"]
    metrics = schema["$defs"]["DataQualityLibrary"]["properties"]["metric"]["enum"]
    assert {"invalidValues", "duplicateValues", "nullValues"} <= set(metrics)


def test_imported_contract_checks_data() -> None:
    model = load_model(import_odcs(exported(), "contracts/customers.yaml").source)
    good = pl.DataFrame(
        {
            "id": [1, 2],
            "email": ["a@b", None],
            "country": ["BR", ""],
            "amount": pl.Series([Decimal("1.00"), Decimal("99.98")], dtype=pl.Decimal(10, 2)),
            "score": [0.5, None],
            "at": pl.Series([dt.datetime(2021, 1, 1, tzinfo=UTC)] * 2).dt.convert_time_zone(
                "Etc/UTC"
            ),
            "naive": pl.Series([dt.datetime(2029, 1, 1)] * 2, dtype=pl.Datetime("ns")),
            "born": [dt.date(1980, 1, 1)] * 2,
            "opens": [dt.time(9)] * 2,
            "code": ["AxZ"] * 2,
            "items": pl.Series([[1], None], dtype=pl.List(pl.Int32)),
            "flag": [True, False],
            "kind": pl.Series(["a", "b"], dtype=pl.Enum(["a", "b"])),
            "order id": pl.Series([1, 2**64 - 1], dtype=pl.UInt64),
        }
    )
    model.validate(good)
    with pytest.raises(pandera.errors.SchemaError):
        model.validate(good.with_columns(pl.lit("XX").alias("country")))


FOREIGN = """
apiVersion: v3.0.2
kind: DataContract
id: 53581432-6c55-4ba2-a65f-72344a91553a
name: seller_payments
version: 1.1.0
status: active
team:
  - username: ceastwood
    role: Data Scientist
  - username: mhopper
    role: owner
schema:
  - name: tbl
    physicalName: payments_v1
    properties:
      - name: txn_ref_dt
        logicalType: date
        physicalType: date
        required: true
        logicalTypeOptions: {minimum: '2020-01-01'}
      - name: rcvr_cntry_code
        logicalType: string
        physicalType: varchar(2)
        classification: restricted
        tags: ["pii:country"]
        logicalTypeOptions: {minLength: 2, maxLength: 2}
        quality:
          - {metric: nullValues, mustBe: 0}
          - {metric: invalidValues, arguments: {validValues: [BR, US]}, mustBe: 0}
          - {type: text, description: "codes follow ISO 3166"}
      - name: amount
        logicalType: number
        logicalTypeOptions: {exclusiveMinimum: 0}
"""


def test_foreign_file_imports_through_portable_forms() -> None:
    imported = import_odcs(FOREIGN, "payments.yaml")
    assert (imported.table, imported.name) == ("payments_v1", "seller_payments")
    assert imported.owner == "mhopper"
    assert imported.column_tags == {"rcvr_cntry_code": {"pii": "country"}}
    columns = load_model(imported.source).to_schema().columns
    assert [str(c.dtype) for c in columns.values()] == ["Date", "String", "Float64"]
    code = columns["rcvr_cntry_code"]
    assert code.nullable is False and columns["amount"].nullable is True
    assert sorted(k.name for k in code.checks) == ["isin", "str_length"]
    assert columns["txn_ref_dt"].checks[0].statistics == {"min_value": dt.date(2020, 1, 1)}


VALID = yaml.safe_load(FOREIGN)


def _with(path: str, value: Any) -> str:
    doc = json.loads(json.dumps(VALID))
    target = doc
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if value is None:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return yaml.safe_dump(doc)


def _quality(rule: dict[str, Any]) -> str:
    return _with("schema.0.properties.1.quality", [rule])


def _options(options: dict[str, Any]) -> str:
    return _with("schema.0.properties.0.logicalTypeOptions", options)


RULE = "properties[1].quality[0]"
SQLOPS = {"type": "custom", "engine": "sqlops"}


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("apiVersion: v3.1.0\nschema: [\n", "payments.yaml:3"),
        ("- just\n- a list\n", "document"),
        (_with("apiVersion", "v2.2.2"), "apiVersion"),
        (_with("kind", "DataProduct"), "kind"),
        (_with("schema", None), "schema"),
        (_with("schema.0.properties", []), "schema[0].properties"),
        (_with("schema.0.properties.0.name", 5), "schema[0].properties[0].name"),
        (_with("schema.0.properties.2.logicalType", "money"), "properties[2].logicalType"),
        (_options({"minimum": "soon"}), "properties[0].logicalTypeOptions.minimum"),
        (_options({"multipleOf": 2}), "properties[0].logicalTypeOptions.multipleOf"),
        (_quality({"type": "sql", "query": "select 1"}), f"{RULE}.type"),
        (_quality({"type": "custom", "engine": "soda", "implementation": "x"}), f"{RULE}.engine"),
        (_quality({**SQLOPS, "implementation": {"check": "nope"}}), f"{RULE}.implementation.check"),
        (
            _quality({**SQLOPS, "implementation": {"check": "isin", "statistics": {"bad": 1}}}),
            f"{RULE}.implementation.statistics",
        ),
        (_quality({"metric": "nullValues", "mustBeLessThan": 5}), RULE),
        (_quality({"metric": "rowCount", "mustBe": 0}), f"{RULE}.metric"),
    ],
)
def test_malformed_file_is_one_line_naming_file_and_field(text: str, field: str) -> None:
    with pytest.raises(ContractError) as raised:
        import_odcs(text, "payments.yaml")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("payments.yaml") and field in message, message


def test_a_field_cannot_hold_two_checks_of_one_kind() -> None:
    schema = pa.DataFrameSchema({"x": pa.Column(pl.Int64, [pa.Check.ge(1), pa.Check.ge(2)])})
    with pytest.raises(ContractError, match=r"T\.x: 1 check\(s\) appear more than once"):
        import_odcs(export_odcs("t", schema, contract_name="T"), "t.yaml")


def test_unregistered_python_check_cannot_be_exported() -> None:
    schema = pa.DataFrameSchema({"x": pa.Column(pl.Int64, pa.Check(lambda s: s > 0))})
    with pytest.raises(ContractError, match=r"t\.x: .*register_check_method"):
        export_odcs("t", schema, contract_name="t")


ZONES = st.sampled_from(["Etc/UTC", "America/Sao_Paulo", "Asia/Kolkata"])
# a Polars dtype and values of its kind, for random checks
KINDS: dict[str, tuple[Any, st.SearchStrategy[Any]]] = {
    "int": (pl.Int64, st.integers(-(2**70), 2**70)),
    "float": (pl.Float64, st.floats()),
    "decimal": (pl.Decimal(12, 3), st.decimals(-(10**8), 10**8, places=3, allow_nan=False)),
    "text": (pl.String, st.text(max_size=6)),
    "date": (pl.Date, st.dates()),
    "naive": (pl.Datetime("us"), st.datetimes()),
    "time": (pl.Time, st.times()),
    "bool": (pl.Boolean, st.booleans()),
}
SCALAR_CHECKS = ["ge", "gt", "le", "lt", "eq", "ne"]


@st.composite
def random_checks(draw: st.DrawFn, values: st.SearchStrategy[Any], text: bool) -> list[Any]:
    c = pa.Check
    found = []
    for kind in draw(
        st.lists(st.sampled_from([*SCALAR_CHECKS, "set", "range", "custom"]), max_size=4)
    ):
        if kind in SCALAR_CHECKS:
            found.append(getattr(c, kind)(draw(values)))
        elif kind == "set":
            found.append(c.isin(draw(st.lists(values, max_size=3))))
            found.append(c.notin(tuple(draw(st.lists(values, max_size=2)))))
        elif kind == "range":
            low, high = draw(values), draw(values)
            try:
                found.append(c.in_range(low, high, draw(st.booleans()), draw(st.booleans())))
            except ValueError:  # pandera refuses an empty interval
                assume(False)
        else:
            found.append(c.odcs_test_between(low=draw(values), high=draw(values)))
    if text:
        pattern = st.sampled_from(["^a.*", "b$", "[a-c]+"]) | st.text(max_size=4).map(re.escape)
        found += [c.str_matches(draw(pattern)), c.str_startswith(draw(st.text(max_size=2)))]
        found.append(draw(st.sampled_from([c.str_length(1, 5), c.str_length(exact_value=2)])))
    return list({check.name: check for check in found}.values())  # a Field takes one of each


@st.composite
def random_schemas(draw: st.DrawFn) -> Any:
    columns = {}
    names = draw(st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=4, unique=True))
    for name in names:
        kind = draw(st.sampled_from([*sorted(KINDS), "zoned"]))
        if kind == "zoned":
            zone = draw(ZONES)
            dtype = pl.Datetime("us", zone)
            values = st.datetimes(timezones=st.just(ZoneInfo(zone)))
        else:
            dtype, values = KINDS[kind]
        columns[name] = pa.Column(
            dtype,
            draw(random_checks(values, kind == "text")),
            nullable=draw(st.booleans()),
            unique=draw(st.booleans()),
            coerce=draw(st.booleans()),
            name=name,
        )
    unique = draw(st.lists(st.sampled_from(names), max_size=2, unique=True)) or None
    checks = [
        pa.Check.odcs_test_min_rows(rows=n) for n in draw(st.lists(st.integers(0, 9), max_size=1))
    ]
    return pa.DataFrameSchema(columns, checks=checks, unique=unique, strict=draw(st.booleans()))


@settings(max_examples=60, deadline=None)
@given(schema=random_schemas())
def test_random_schemas_round_trip(schema: Any) -> None:
    text = export_odcs("s.t", schema, contract_name="t", owner="o")
    assert shape(load_model(import_odcs(text, "t.yaml").source).to_schema()) == shape(schema)


def test_an_inferred_contract_survives_the_round_trip_and_still_validates() -> None:
    from sqlops.execute.engine import Engine
    from sqlops.governance.infer import infer_contract

    engine = Engine.open(":memory:", macros=False)
    engine.execute("SET TimeZone = 'America/Sao_Paulo'")
    engine.execute(
        "CREATE TABLE t AS SELECT range AS id, ['x', 'y'][1 + range % 2] AS code, "
        "CASE WHEN range = 5 THEN 'nan'::DOUBLE ELSE range / 3 END AS ratio, "
        "(range * 1.25)::DECIMAL(8, 2) AS price, TIMESTAMPTZ '2026-03-01 12:00:00+00' "
        "+ to_hours(range) AS at, TIMESTAMP_NS '2026-01-01 00:00:00.000000001' AS ns "
        "FROM range(50)"
    )
    inferred = load_model(infer_contract(engine, "t", "main.t")).to_schema()
    imported = import_odcs(export_odcs("main.t", inferred, contract_name="t"), "t.yaml")
    model = load_model(imported.source)
    assert shape(model.to_schema()) == shape(inferred)
    model.validate(engine.polars("SELECT * FROM t"))
    engine.close()
