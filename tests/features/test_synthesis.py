"""Automatic aggregate features (featuretools' DFS) through a real project: names and
stacking limits, and every value checked against a hand computation in plain Python that
reads the feature's name (empty cutoffs, NULLs, ties in LAST, windows at exact edges)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

import sqlops
from sqlops.cli.app import app
from sqlops.errors import ConfigError, SynthesisError

from conftest import ProjectFactory

CUSTOMERS = """customer_id,signup,region,age
1,2024-01-01 00:00:00,north,30
2,2024-01-01 00:00:00,south,
3,2024-01-05 00:00:00,north,50
"""
SESSIONS = """session_id,customer_id,start,device
10,1,2024-01-02 00:00:00,mobile
11,1,2024-01-03 00:00:00,desktop
12,1,2024-01-03 00:00:00,
13,2,2024-01-10 00:00:00,mobile
14,3,2024-01-06 00:00:00,tablet
"""
# ties: 100/101 share a time (the greater index wins); 103 has a NULL amount and is LAST
TRANSACTIONS = """transaction_id,session_id,ts,amount,product_id
100,10,2024-01-02 01:00:00,5.0,7
101,10,2024-01-02 01:00:00,3.0,8
102,10,2024-01-02 02:00:00,4.0,7
103,11,2024-01-03 05:00:00,,9
104,11,2024-01-03 01:00:00,10.0,7
105,12,2024-01-04 00:00:00,2.5,8
106,13,2024-01-10 00:00:00,1.0,
107,14,2024-01-09 00:00:00,6.0,9
"""
CONFIG = """
[sources."raw.customers"]
path = "data/customers.csv"
index = "customer_id"
time_index = "signup"

[sources."raw.sessions"]
path = "data/sessions.csv"
index = "session_id"
time_index = "start"

[sources."raw.transactions"]
path = "data/transactions.csv"
index = "transaction_id"
time_index = "ts"
categorical = ["product_id"]

[[relationships]]
parent = "raw.customers.customer_id"
child = "raw.sessions.customer_id"

[[relationships]]
parent = "raw.sessions.session_id"
child = "raw.transactions.session_id"
"""
T = dt.datetime
INDEX = {"customers": "customer_id", "sessions": "session_id", "transactions": "transaction_id"}
TIME = {"customers": "signup", "sessions": "start", "transactions": "ts"}
FK = {"sessions": "customer_id", "transactions": "session_id"}


@pytest.fixture
def project(make_project: ProjectFactory) -> Path:
    return make_project(
        {
            "sqlops.toml": CONFIG,
            "data/customers.csv": CUSTOMERS,
            "data/sessions.csv": SESSIONS,
            "data/transactions.csv": TRANSACTIONS,
        }
    )


@pytest.fixture
def built(project: Path) -> sqlops.Project:
    proj = sqlops.Project(project)
    proj.build().raise_on_error()
    return proj


def cutoffs() -> pl.DataFrame:
    """Before any session (empty), at exact edges of sessions and transactions, duplicates,
    a customer signed up after the cutoff, and an unknown customer."""
    return pl.DataFrame(
        {
            "customer_id": [1, 1, 1, 1, 2, 2, 3, 1, 4],
            "time": [
                T(2024, 1, 1, 12),  # no sessions yet
                T(2024, 1, 2, 1),  # exactly at the tied transactions
                T(2024, 1, 3),  # exactly at sessions 11 and 12
                T(2024, 1, 9),
                T(2024, 1, 10),  # exactly at session 13 and its transaction
                T(2024, 1, 9, 23),  # one hour before
                T(2024, 1, 4),  # before customer 3 signed up
                T(2024, 1, 2, 1),  # duplicate of the second row
                T(2024, 1, 9),  # unknown customer
            ],
            "label": [0, 1, 0, 1, 1, 0, 0, 1, 0],
        }
    )


# -- the hand computation: plain Python over the CSV rows, driven by the feature's name --


def rows(text: str) -> list[dict[str, Any]]:
    out = []
    for raw in csv.DictReader(io.StringIO(text)):
        row: dict[str, Any] = {}
        for key, value in raw.items():
            if value == "":
                row[key] = None
            elif re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", value):
                row[key] = T.fromisoformat(value)
            elif re.fullmatch(r"-?\d+", value):
                row[key] = int(value)
            elif re.fullmatch(r"-?\d+\.\d*", value):
                row[key] = float(value)
            else:
                row[key] = value
        out.append(row)
    return out


DATA = {"sessions": rows(SESSIONS), "transactions": rows(TRANSACTIONS)}
WINDOW = re.compile(r"^(.*), Last (\d+) Days\)$")


def hand(name: str, parent_id: Any, t: T, window: dt.timedelta | None = None) -> Any:
    """The value of feature ``name`` for one parent row as of ``t``."""
    if window is None and (m := WINDOW.match(name)):
        return hand(m.group(1) + ")", parent_id, t, dt.timedelta(days=int(m.group(2))))
    m = re.fullmatch(r"([A-Z_]+)\((\w+)(?:\.(.*))?\)", name)
    assert m, name
    prim, child, inner = m.groups()
    time = TIME[child]
    children = [
        r
        for r in DATA[child]
        if r[FK[child]] == parent_id and r[time] <= t and (window is None or r[time] > t - window)
    ]
    if prim == "COUNT":
        return len(children)
    children.sort(key=lambda r: (r[time], r[INDEX[child]]))
    if "(" in inner:
        values = [hand(inner, r[INDEX[child]], t, window) for r in children]
    else:
        values = [r[inner] for r in children]
    present = [v for v in values if v is not None]
    if prim == "SUM":
        return sum(present)
    if prim == "LAST":
        return values[-1] if values else None
    if prim == "NUM_UNIQUE":
        return len(set(present)) if values else None
    if not present:
        return None
    if prim == "STD":
        return statistics.stdev(present) if len(present) > 1 else None
    return {"MEAN": statistics.fmean, "MIN": min, "MAX": max}[prim](present)


def same(got: Any, want: Any) -> bool:
    if got is None or want is None:
        return got is None and want is None
    if isinstance(want, float) or isinstance(got, float):
        return abs(float(got) - float(want)) < 1e-9
    return bool(got == want)


def check_against_hand(frame: pl.DataFrame, features: list[str]) -> None:
    cut = cutoffs()
    assert frame["customer_id"].to_list() == cut["customer_id"].to_list()
    assert frame["time"].to_list() == cut["time"].to_list()
    assert frame["label"].to_list() == cut["label"].to_list()
    for feature in features:
        for i, (cid, t) in enumerate(zip(cut["customer_id"], cut["time"], strict=True)):
            got = frame[feature][i]
            want = hand(feature, cid, t)
            assert same(got, want), (feature, cid, t, got, want)


# -- tests -------------------------------------------------------------------------------

DEPTH_1 = [
    "COUNT(sessions)",
    "NUM_UNIQUE(sessions.device)",
    "LAST(sessions.device)",
]
DEPTH_2_SOME = [
    "MEAN(sessions.COUNT(transactions))",
    "MAX(sessions.COUNT(transactions))",
    "STD(sessions.COUNT(transactions))",
    "MEAN(sessions.SUM(transactions.amount))",
    "MEAN(sessions.MEAN(transactions.amount))",
    "MIN(sessions.MAX(transactions.amount))",
    "NUM_UNIQUE(sessions.LAST(transactions.product_id))",
    "SUM(sessions.MEAN(transactions.amount))",
    "MAX(sessions.NUM_UNIQUE(transactions.product_id))",
    "LAST(sessions.SUM(transactions.amount))",
]
EXCLUDED = [
    "MAX(sessions.MAX(transactions.amount))",
    "MIN(sessions.MIN(transactions.amount))",
    "SUM(sessions.SUM(transactions.amount))",
    "STD(sessions.STD(transactions.amount))",
    "SUM(sessions.COUNT(transactions))",
    "COUNT(sessions.COUNT(transactions))",
    "NUM_UNIQUE(sessions.NUM_UNIQUE(transactions.product_id))",
    "LAST(sessions.LAST(transactions.product_id))",
    "LAST(sessions.LAST(transactions.amount))",
    "SUM(transactions.product_id)",  # categorical: no numeric primitive
    "MEAN(sessions.MEAN(transactions.product_id))",
    "NUM_UNIQUE(sessions.customer_id)",  # the foreign key of the path
    "LAST(sessions.start)",  # the time index
    "NUM_UNIQUE(sessions.session_id)",  # the index
    "MEAN(sessions.MEAN(transactions.session_id))",
]


def names(proj: sqlops.Project, **kw: Any) -> list[str]:
    return [f["name"] for f in proj.features.synthesis_features("raw.customers", **kw)]


def test_feature_names_follow_featuretools_at_depth_1_and_2(built: sqlops.Project) -> None:
    assert names(built, max_depth=1) == DEPTH_1
    two = names(built, max_depth=2)
    assert len(two) == len(set(two))
    for name in DEPTH_1 + DEPTH_2_SOME:
        assert name in two
    for name in EXCLUDED:
        assert name not in two
    # every depth-1 feature of sessions is stacked under each primitive that accepts it
    numeric_1 = [
        "COUNT(transactions)",
        *(f"{p}(transactions.amount)" for p in ("SUM", "MEAN", "STD", "MIN", "MAX", "LAST")),
        "NUM_UNIQUE(transactions.product_id)",
    ]
    for inner in numeric_1:
        assert f"MEAN(sessions.{inner})" in two


def test_only_the_asked_primitives(built: sqlops.Project) -> None:
    got = names(built, primitives=["count", "mean"])
    assert got == [
        "COUNT(sessions)",
        "MEAN(sessions.COUNT(transactions))",
        "MEAN(sessions.MEAN(transactions.amount))",
    ]
    assert names(built, primitives=["mean", "COUNT", "mean", "count"]) == got


def test_values_equal_a_hand_computation(built: sqlops.Project) -> None:
    frame = built.features.synthesize("raw.customers", cutoffs(), max_depth=2)
    features = names(built)
    assert frame.columns == ["customer_id", "time", "label", "signup", "region", "age", *features]
    check_against_hand(frame, features)
    # the target's own columns as of the cutoff: customer 3 had not signed up yet
    assert frame["region"].to_list()[5:7] == ["south", None]
    # empty cutoff: COUNT and SUM 0, the rest NULL
    first = frame.row(0, named=True)
    assert first["COUNT(sessions)"] == 0
    assert first["NUM_UNIQUE(sessions.device)"] is None
    assert first["MEAN(sessions.SUM(transactions.amount))"] is None
    # the tie at 01:00 is broken by the greater index (transaction 101, amount 3.0)
    assert frame["MAX(sessions.LAST(transactions.amount))"][1] == 3.0
    # LAST does not skip NULLs: session 11's last transaction (103) has no amount
    assert frame["MAX(sessions.LAST(transactions.amount))"][3] == 4.0


def test_windows_cover_t_minus_w_exclusive_to_t(built: sqlops.Project) -> None:
    cut = pl.DataFrame(
        {
            "customer_id": [1, 1, 1, 3],
            "time": [T(2024, 1, 9), T(2024, 1, 9, 0, 0, 1), T(2024, 1, 10), T(2024, 1, 7)],
        }
    )
    frame = built.features.synthesize("raw.customers", cut, windows=["6d", "7d"])
    features = [f for f in names(built, windows=["6d", "7d"]) if "Last" in f]
    assert "COUNT(sessions, Last 7 Days)" in features
    assert "MEAN(sessions.SUM(transactions.amount), Last 6 Days)" in features
    for feature in features:
        for i, (cid, t) in enumerate(zip(cut["customer_id"], cut["time"], strict=True)):
            assert same(frame[feature][i], hand(feature, cid, t)), (feature, cid, t)
    # sessions 11 and 12 start exactly 6 days before 2024-01-09, session 10 exactly 7 days:
    # outside (t - w, t]
    assert frame["COUNT(sessions, Last 6 Days)"].to_list() == [0, 0, 0, 1]
    assert frame["COUNT(sessions, Last 7 Days)"].to_list() == [2, 2, 0, 1]


def test_cli_lists_features_with_sql(built: sqlops.Project, monkeypatch: Any) -> None:
    monkeypatch.chdir(built.root)
    result = CliRunner().invoke(
        app, ["features", "synthesize", "--target", "raw.customers", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows_ = json.loads(result.output)
    assert [r["name"] for r in rows_] == names(built)
    mean = next(r for r in rows_ if r["name"] == "MEAN(sessions.SUM(transactions.amount))")
    assert mean["sql"] == 'AVG("SUM(transactions.amount)")'
    assert mean["path"] == ["raw.sessions", "raw.transactions"]
    plain = CliRunner().invoke(app, ["features", "synthesize", "--target", "raw.customers"])
    assert plain.exit_code == 0 and "COUNT(sessions)" in plain.output


def test_bad_input_is_one_line(built: sqlops.Project, project: Path) -> None:
    store = built.features
    with pytest.raises(SynthesisError, match="cutoff_times has no column 'time'"):
        store.synthesize("raw.customers", pl.DataFrame({"customer_id": [1]}))
    with pytest.raises(SynthesisError, match=r"did you mean raw\.customers"):
        store.synthesize("raw.customer", cutoffs())
    with pytest.raises(SynthesisError, match="unknown aggregation primitive 'avg'"):
        store.synthesize("raw.customers", cutoffs(), primitives=["avg"])
    with pytest.raises(SynthesisError, match="window 'week'"):
        store.synthesize("raw.customers", cutoffs(), windows=["week"])


def test_relationship_naming_a_missing_column(project: Path) -> None:
    toml = project / "sqlops.toml"
    toml.write_text(
        toml.read_text().replace("raw.transactions.session_id", "raw.transactions.sess")
    )
    proj = sqlops.Project(project)
    proj.build().raise_on_error()
    with pytest.raises(SynthesisError) as info:
        proj.features.synthesize("raw.customers", cutoffs())
    message = str(info.value)
    assert "sqlops.toml:23:" in message and "raw.transactions.sess" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ('parent = "raw.customers.customer_id"', 'parent = "raw.customers.age"', "index of"),
        ('parent = "raw.customers.customer_id"', 'parent = "customers"', "schema.table.column"),
        ('child = "raw.sessions.customer_id"', 'child = "raw.visits.customer_id"', "raw.visits"),
        ('index = "session_id"', "index = 3", "sources.raw.sessions.index"),
    ],
)
def test_bad_relationships_are_config_errors(project: Path, old: str, new: str, match: str) -> None:
    toml = project / "sqlops.toml"
    toml.write_text(toml.read_text().replace(old, new))
    with pytest.raises(ConfigError, match=match) as info:
        sqlops.Project(project).config  # noqa: B018
    assert "sqlops.toml:" in str(info.value)


def test_aware_cutoffs_are_compared_in_utc(built: sqlops.Project) -> None:
    naive = cutoffs()
    aware = naive.with_columns(
        pl.col("time").dt.replace_time_zone("UTC").dt.convert_time_zone("Europe/Paris")
    )
    store = built.features
    got = store.synthesize("raw.customers", aware).drop("time")
    assert got.equals(store.synthesize("raw.customers", naive).drop("time"))


def test_a_categorical_foreign_key_to_another_table_is_a_column(
    make_project: ProjectFactory,
) -> None:
    config = CONFIG + (
        '\n[sources."raw.products"]\npath = "data/products.csv"\nindex = "product_id"\n'
        '\n[[relationships]]\nparent = "raw.products.product_id"\n'
        'child = "raw.transactions.product_id"\n'
    )
    root = make_project(
        {
            "sqlops.toml": config,
            "data/customers.csv": CUSTOMERS,
            "data/sessions.csv": SESSIONS,
            "data/transactions.csv": TRANSACTIONS,
            "data/products.csv": "product_id,name\n7,tea\n8,cake\n9,jam\n",
        }
    )
    proj = sqlops.Project(root)
    proj.build().raise_on_error()
    assert "MEAN(sessions.NUM_UNIQUE(transactions.product_id))" in names(proj)
    by_product = [f["name"] for f in proj.features.synthesis_features("raw.products")]
    assert "NUM_UNIQUE(transactions.product_id)" not in by_product  # the path's own key
    assert "NUM_UNIQUE(transactions.session_id)" not in by_product  # not categorical
    assert "MAX(transactions.session_id)" in by_product  # a numeric column like any other
    cut = pl.DataFrame({"product_id": [7, 8, 9], "time": [T(2024, 1, 3, 1)] * 3})
    frame = proj.features.synthesize("raw.products", cut, max_depth=1)
    for i, pid in enumerate([7, 8, 9]):
        mine = [
            r
            for r in DATA["transactions"]
            if r["product_id"] == pid and r["ts"] <= T(2024, 1, 3, 1)
        ]
        assert frame["COUNT(transactions)"][i] == len(mine)
        assert same(frame["SUM(transactions.amount)"][i], sum(r["amount"] or 0 for r in mine))
    assert frame["name"].to_list() == ["tea", "cake", "jam"]


def test_bad_time_columns_are_refused(built: sqlops.Project, project: Path) -> None:
    with pytest.raises(SynthesisError, match="'time' is BIGINT, not a timestamp"):
        built.features.synthesize("raw.customers", pl.DataFrame({"customer_id": [1], "time": [5]}))
    toml = project / "sqlops.toml"
    toml.write_text(toml.read_text().replace('time_index = "start"', 'time_index = "device"'))
    with pytest.raises(SynthesisError, match=r"sources\.raw\.sessions\.time_index .* VARCHAR"):
        sqlops.Project(project).features.synthesize("raw.customers", cutoffs())
    toml.write_text(toml.read_text().replace('time_index = "device"', 'time_index = "started"'))
    with pytest.raises(SynthesisError, match="did you mean start"):
        sqlops.Project(project).features.synthesize("raw.customers", cutoffs())


def test_cli_bad_target_is_one_line(built: sqlops.Project) -> None:
    exe = Path(sys.executable).parent / "sqlops"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLOPS_")}
    ran = subprocess.run(
        [str(exe), "features", "synthesize", "--target", "raw.customer"],
        cwd=built.root,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert ran.returncode != 0
    assert "did you mean raw.customers" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_aware_time_indexes_are_compared_in_utc_whatever_the_session_zone(
    make_project: ProjectFactory, monkeypatch: Any
) -> None:
    """Naive cutoffs are UTC; DuckDB compares a naive timestamp with a TIMESTAMPTZ in the
    session's zone, which is the machine's unless set (here New York, 5 hours behind)."""
    import sqlops.execute.engine as engine_module

    connect = engine_module._connect

    def in_new_york(target: str, read_only: bool, config: dict[str, Any]) -> Any:
        con = connect(target, read_only, config)
        con.execute("SET TimeZone = 'America/New_York'")
        return con

    monkeypatch.setattr(engine_module, "_connect", in_new_york)
    root = make_project(
        {
            "sqlops.toml": CONFIG.split('[sources."raw.transactions"]')[0]
            + '[[relationships]]\nparent = "raw.customers.customer_id"\n'
            + 'child = "raw.sessions.customer_id"\n',
            "data/customers.csv": "customer_id,signup\n1,2024-01-01 22:00:00+00\n",
            "data/sessions.csv": "session_id,customer_id,start,device\n"
            "10,1,2024-01-02 00:00:00+00,mobile\n11,1,2024-01-02 03:00:00+00,desktop\n",
        }
    )
    proj = sqlops.Project(root)
    proj.build().raise_on_error()
    cut = pl.DataFrame(
        {
            "customer_id": [1, 1, 1, 1],
            "time": [T(2024, 1, 1, 21), T(2024, 1, 1, 23), T(2024, 1, 2), T(2024, 1, 2, 2)],
        }
    )
    frame = proj.features.synthesize("raw.customers", cut, max_depth=1)
    assert frame["COUNT(sessions)"].to_list() == [0, 0, 1, 1]
    assert frame["LAST(sessions.device)"].to_list() == [None, None, "mobile", "mobile"]
    assert frame["signup"].null_count() == 1  # signed up at 22:00 UTC, after the first cutoff


def test_identifiers_keep_their_case_and_spaces(make_project: ProjectFactory) -> None:
    config = """
[sources."raw.customers"]
path = "data/customers.csv"
index = "CustomerId"

[sources."raw.sessions"]
path = "data/sessions.csv"
index = "Session Id"
time_index = "Start"

[[relationships]]
parent = "raw.customers.CustomerId"
child = "raw.sessions.Customer Ref"
"""
    root = make_project(
        {
            "sqlops.toml": config,
            "data/customers.csv": "CustomerId,Name\n1,a\n2,b\n",
            "data/sessions.csv": 'Session Id,Customer Ref,Start,"Amount ""USD"""\n'
            "10,1,2024-01-02 00:00:00,1.5\n11,1,2024-01-03 00:00:00,2.5\n"
            "12,2,2024-01-03 00:00:00,\n",
        }
    )
    proj = sqlops.Project(root)
    proj.build().raise_on_error()
    cut = pl.DataFrame(
        {"CustomerId": [2, 1, 1], "time": [T(2024, 1, 3), T(2024, 1, 3), T(2024, 1, 2)]}
    )
    frame = proj.features.synthesize("raw.customers", cut, max_depth=1)
    assert frame["COUNT(sessions)"].to_list() == [1, 2, 1]
    assert frame['SUM(sessions.Amount "USD")'].to_list() == [0, 4.0, 1.5]
    assert frame['LAST(sessions.Amount "USD")'].to_list() == [None, 2.5, 1.5]
    assert frame["Name"].to_list() == ["b", "a", "a"]
