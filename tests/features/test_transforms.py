"""Fitted transforms: each analyzer checked against numpy/Polars by hand (and scikit-learn's
scalers when installed), NULLs, constant and empty columns, unseen categories, a stored fit
applied to later data (its statistics, never recomputed), online rows equal to frame rows,
and bad input refused in one line with nothing saved."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import sqlops
from sqlops.features.transforms import apply_row

from conftest import ProjectFactory

HOUSES = """house_id,age,price,city,area
1,10,100.0,paris,50
2,20,250.0,lyon,75
3,,180.0,paris,75
4,40,90.5,nice,75
5,15,,paris,120
6,33,310.0,lyon,
7,27,205.0,,60
8,8,150.0,paris,90
"""
CONFIG = """
[sources."raw.houses"]
path = "data/houses.csv"
"""
SPEC: dict[str, Any] = {
    "age": "z_score",
    "price": "min_max",
    "city": {"vocabulary": {}},
    "area": {"bucketize": {"num_buckets": 4}},
}


@pytest.fixture
def project(make_project: ProjectFactory) -> sqlops.Project:
    root = make_project({"sqlops.toml": CONFIG, "data/houses.csv": HOUSES})
    proj = sqlops.Project(root)
    proj.build().raise_on_error()
    return proj


@pytest.fixture
def store(tmp_path: Path) -> Any:
    return sqlops.Project(tmp_path).features


def houses() -> pl.DataFrame:
    return pl.read_csv(HOUSES.encode())


# -- independent computations --------------------------------------------------------------


def z_score(train: list[float | None], apply: list[float | None]) -> list[float | None]:
    seen = np.array([v for v in train if v is not None], dtype=float)
    if len(seen) == 0:  # empty: passes through
        return [None if v is None else float(v) for v in apply]
    if len(set(seen.tolist())) == 1:  # constant: centered, not scaled (TFT, scikit-learn)
        return [None if v is None else v - seen[0] for v in apply]
    mean, std = seen.mean(), seen.std(ddof=0)
    return [None if v is None else (v - mean) / std for v in apply]


def min_max(train: list[float | None], apply: list[float | None]) -> list[float | None]:
    seen = [v for v in train if v is not None]
    if len(set(seen)) <= 1:  # empty or constant: sigmoid (TFT's scale_to_0_1)
        return [None if v is None else 1 / (1 + math.exp(-v)) for v in apply]
    low, high = min(seen), max(seen)
    return [None if v is None else (v - low) / (high - low) for v in apply]


def vocabulary(train: list[str | None]) -> list[str]:
    counts = Counter(v for v in train if v is not None)
    return [v for v, _ in sorted(counts.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)]


def md5_bucket(value: str, size: int, buckets: int) -> int:
    return size + int(hashlib.md5(value.encode()).hexdigest()[:15], 16) % buckets


def buckets(train: list[float | None], num: int, apply: list[float | None]) -> list[int | None]:
    seen = np.array([v for v in train if v is not None], dtype=float)
    if len(seen) == 0:
        return [None if v is None else 0 for v in apply]
    bounds = np.unique(np.quantile(seen, [i / num for i in range(1, num)]))
    return [None if v is None else int(np.searchsorted(bounds, v, side="right")) for v in apply]


def close(got: list[Any], want: list[Any]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert (g is None) == (w is None), (got, want)
        if w is not None:
            assert g == pytest.approx(w, rel=1e-12, abs=1e-12), (got, want)


# -- behaviour -----------------------------------------------------------------------------


def test_fit_transform_matches_hand_computation(store: Any) -> None:
    df = houses()
    out = store.fit_transform("houses", df, SPEC)
    assert out.columns == df.columns
    assert out["house_id"].to_list() == df["house_id"].to_list()  # passes through, in order
    close(out["age"].to_list(), z_score(df["age"].to_list(), df["age"].to_list()))
    close(out["price"].to_list(), min_max(df["price"].to_list(), df["price"].to_list()))
    vocab = vocabulary(df["city"].to_list())
    assert vocab == ["paris", "lyon", "nice"]  # by frequency, then value descending
    want_city = [None if v is None else vocab.index(v) for v in df["city"].to_list()]
    assert out["city"].to_list() == want_city
    assert out["area"].to_list() == buckets(df["area"].to_list(), 4, df["area"].to_list())
    polars_z = df.select((pl.col("age") - pl.col("age").mean()) / pl.col("age").std(ddof=0))
    close(out["age"].to_list(), polars_z["age"].to_list())
    assert out.schema["age"] == pl.Float64 and out.schema["city"] == pl.Int64
    again = store.transform("houses", df)  # the saved (JSON) statistics: the same bytes
    assert again.equals(out, null_equal=True)


def test_pandas_frames_are_accepted(store: Any) -> None:
    pytest.importorskip("pandas")
    df = houses()
    out = store.fit_transform("houses", df.to_pandas(), SPEC)
    assert out.equals(store.transform("houses", df), null_equal=True)


def test_matches_scikit_learn_scalers(store: Any) -> None:
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    df = houses().drop_nulls(["age", "price"]).with_columns(const=pl.lit(4.5))
    spec = {"age": "z_score", "price": "min_max", "const": "z_score"}
    out = store.fit_transform("sk", df, spec)
    scaler = preprocessing.StandardScaler().fit(df[["age", "const"]].to_numpy())
    std = scaler.transform(df[["age", "const"]].to_numpy())
    mm = preprocessing.MinMaxScaler().fit_transform(df[["price"]].to_numpy())
    close(out["age"].to_list(), std[:, 0].tolist())
    close(out["price"].to_list(), mm[:, 0].tolist())
    close(out["const"].to_list(), std[:, 1].tolist())  # zero variance: x - mean
    later = pl.DataFrame({"age": [1.0], "price": [1.0], "const": [7.0]})
    got = store.transform("sk", later)["const"].to_list()
    close(got, scaler.transform(later[["age", "const"]].to_numpy())[:, 1].tolist())


def test_constant_and_empty_columns_pass_through_like_tft(store: Any) -> None:
    df = pl.DataFrame(
        {
            "const": [3.0, 3.0, None, 3.0],
            "empty": pl.Series([None, None, None, None], dtype=pl.Float64),
            "const_mm": [2, 2, 2, 2],
            "empty_mm": pl.Series([None] * 4, dtype=pl.Float64),
            "empty_cat": pl.Series([None] * 4, dtype=pl.String),
            "empty_b": pl.Series([None] * 4, dtype=pl.Float64),
        }
    )
    spec = {
        "const": "z_score",
        "empty": "z_score",
        "const_mm": "min_max",
        "empty_mm": "min_max",
        "empty_cat": {"vocabulary": {}},
        "empty_b": {"bucketize": {"num_buckets": 3}},
    }
    out = store.fit_transform("edge", df, spec)
    assert out["const"].to_list() == [0.0, 0.0, None, 0.0]  # x - mean, as TFT and sklearn
    assert out["empty"].to_list() == [None] * 4
    close(out["const_mm"].to_list(), [1 / (1 + math.exp(-2))] * 4)
    later = pl.DataFrame(
        {
            "const": [7.5, None],
            "empty": [1.5, -2.0],
            "const_mm": [0, 5],
            "empty_mm": [0.0, 1.0],
            "empty_cat": ["x", None],
            "empty_b": [4.0, None],
        }
    )
    got = store.transform("edge", later)
    close(got["const"].to_list(), z_score([3.0, 3.0, 3.0], [7.5, None]))
    close(got["empty"].to_list(), [1.5, -2.0])
    close(got["const_mm"].to_list(), min_max([2, 2], [0, 5]))
    close(got["empty_mm"].to_list(), [0.5, 1 / (1 + math.exp(-1.0))])
    assert got["empty_cat"].to_list() == [-1, None]
    assert got["empty_b"].to_list() == [0, None]


def test_unseen_categories_default_and_oov_buckets(store: Any) -> None:
    train = pl.DataFrame({"city": ["b", "a", "b", "c", "a", "b", None, "d"]})
    vocab = vocabulary(train["city"].to_list())
    assert vocab == ["b", "a", "d", "c"]
    store.fit_transform("plain", train, {"city": "vocabulary"})
    store.fit_transform("oov", train, {"city": {"vocabulary": {"num_oov_buckets": 3}}})
    store.fit_transform("top", train, {"city": {"vocabulary": {"top_k": 1, "default_value": -7}}})
    store.fit_transform("freq", train, {"city": {"vocabulary": {"frequency_threshold": 2}}})
    later = pl.DataFrame({"city": ["a", "zz", None, "d", "berlin", "b"]})
    known = {v: i for i, v in enumerate(vocab)}
    assert store.transform("plain", later)["city"].to_list() == [1, -1, None, 2, -1, 0]
    want_oov = [
        None if v is None else known.get(v, md5_bucket(v, len(vocab), 3))
        for v in later["city"].to_list()
    ]
    got = store.transform("oov", later)["city"].to_list()
    assert got == want_oov
    assert all(4 <= g < 7 for g, v in zip(got, later["city"], strict=True) if v in {"zz", "berlin"})
    assert store.transform("top", later)["city"].to_list() == [-7, -7, None, -7, -7, 0]
    assert store.transform("freq", later)["city"].to_list() == [1, -1, None, -1, -1, 0]


def test_bucketize_ties_and_boundaries(store: Any) -> None:
    values = [1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 4.0, None, 10.0]
    train = pl.DataFrame({"x": values})
    out = store.fit_transform("b", train, {"x": {"bucketize": {"num_buckets": 4}}})
    assert out["x"].to_list() == buckets(values, 4, values)
    doc = store.get_transform("b")
    seen = [v for v in values if v is not None]
    assert doc["columns"]["x"]["boundaries"] == sorted(
        set(np.quantile(seen, [0.25, 0.5, 0.75]).tolist())
    )
    probe = [0.0, 1.0, 1.5, 2.5, 100.0, None, *doc["columns"]["x"]["boundaries"]]
    got = store.transform("b", pl.DataFrame({"x": probe}))["x"].to_list()
    assert got == buckets(values, 4, probe)  # a value on a boundary goes up


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.integers(-1000, 1000).map(lambda v: v / 8)),
        min_size=0,
        max_size=30,
    ),
    st.integers(1, 6),
)
@example(values=[-13.125, -13.125], n=3)  # tied quantiles: DuckDB's quantile_cont is an ulp off
def test_numeric_analyzers_property(tmp_path_factory: Any, values: list[Any], n: int) -> None:
    store = sqlops.Project(tmp_path_factory.mktemp("p")).features
    df = pl.DataFrame(
        {"a": values, "b": values, "c": values}, schema={k: pl.Float64 for k in "abc"}
    )
    spec = {"a": "z_score", "b": "min_max", "c": {"bucketize": {"num_buckets": n}}}
    out = store.fit_transform("p", df, spec)
    close(out["a"].to_list(), z_score(values, values))
    close(out["b"].to_list(), min_max(values, values))
    assert out["c"].to_list() == buckets(values, n, values)


def test_stored_fit_applies_to_changed_training_data(project: sqlops.Project) -> None:
    """Fit on a table; the table changes; applying the saved fit uses the old statistics."""
    store = project.features
    original = houses()
    store.fit_transform("houses", "raw.houses", SPEC)
    path = project.root / "data/houses.csv"
    path.write_text(HOUSES + "9,1000,99999.0,rome,5000\n10,900,5.0,rome,1\n")
    project.build().raise_on_error()
    later = store.transform("houses", "raw.houses")
    new = pl.read_csv(path)
    assert later.height == 10
    close(later["age"].to_list(), z_score(original["age"].to_list(), new["age"].to_list()))
    close(later["price"].to_list(), min_max(original["price"].to_list(), new["price"].to_list()))
    vocab = vocabulary(original["city"].to_list())
    assert later["city"].to_list() == [
        None if v is None else (vocab.index(v) if v in vocab else -1) for v in new["city"].to_list()
    ]
    assert later["area"].to_list() == buckets(original["area"].to_list(), 4, new["area"].to_list())
    query = store.transform("houses", "select * from raw.houses where house_id > 8")
    assert query.rows() == later.filter(pl.col("house_id") > 8).rows()


def test_online_row_and_sql_give_the_frame_values(store: Any) -> None:
    df = houses()
    spec = {**SPEC, "city": {"vocabulary": {"num_oov_buckets": 2}}}
    store.fit_transform("houses", df, spec)
    later = pl.DataFrame(
        {
            "house_id": [11, 12, 13],
            "age": [22, None, 40],
            "price": [120.0, 400.0, None],
            "city": ["oslo", "paris", None],
            "area": [75, 1000, None],
        }
    )
    frame = store.transform("houses", later)
    for i, row in enumerate(later.iter_rows(named=True)):
        assert store.transform("houses", row) == frame.row(i, named=True)
    sql = store.transform_sql("houses", "later")
    con = duckdb.connect()
    con.register("later", later.to_arrow())
    assert con.sql(sql).fetchall() == frame.rows()


def test_versions_increase_and_old_versions_stay(store: Any) -> None:
    one = pl.DataFrame({"x": [1.0, 2.0, 3.0]})
    two = pl.DataFrame({"x": [10.0, 20.0, 30.0]})
    assert store.fit_transform("v", one, {"x": "min_max"})["x"].to_list() == [0.0, 0.5, 1.0]
    store.fit_transform("v", one, {"x": "min_max"})  # the same fit: no new version
    assert store.list_transforms() == {"v": [1]}
    store.fit_transform("v", two, {"x": "min_max"})
    assert store.list_transforms() == {"v": [1, 2]}
    probe = pl.DataFrame({"x": [2.0, 20.0]})
    assert store.transform("v", probe, version=1)["x"].to_list() == [0.5, 9.5]
    assert store.transform("v", probe)["x"].to_list() == [-0.4, 0.5]
    assert store.get_transform("v")["version"] == 2


# -- bad input -----------------------------------------------------------------------------


def one_line_error(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(excinfo.value)
    assert "\n" not in message and isinstance(excinfo.value, sqlops.SqlopsError)
    return message


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"age": "log"}, ["unknown transform kind 'log'", "z_score"]),
        ({"nope": "z_score"}, ["has no column nope", "the frame"]),
        ({"city": "z_score"}, ["z_score needs a numeric column", "the frame.city is VARCHAR"]),
        ({"area": {"bucketize": {}}}, ["bucketize needs num_buckets"]),
        ({"area": {"bucketize": {"num_buckets": 0}}}, ["num_buckets must be an integer >= 1"]),
        ({"city": {"vocabulary": {"size": 3}}}, ["vocabulary has no option size"]),
        ({}, ["non-empty dict"]),
    ],
)
def test_bad_spec_is_refused_and_nothing_saved(
    store: Any, spec: dict[str, Any], words: list[str]
) -> None:
    with pytest.raises(sqlops.TransformError) as excinfo:
        store.fit_transform("bad", houses(), spec)
    message = one_line_error(excinfo)
    for word in words:
        assert word in message
    assert store.list_transforms() == {}


def test_apply_errors_name_what_and_where(store: Any) -> None:
    store.fit_transform("houses", houses(), SPEC)
    with pytest.raises(sqlops.TransformError) as excinfo:
        store.transform("houses", houses().drop("age", "city"))
    message = one_line_error(excinfo)
    assert "transform houses v1" in message and "no column age, city" in message
    with pytest.raises(sqlops.TransformError) as excinfo:
        store.transform("houses", houses().with_columns(pl.col("price").cast(pl.String)))
    assert "the frame.price is VARCHAR" in one_line_error(excinfo)
    with pytest.raises(sqlops.TransformError) as excinfo:
        store.transform("house", houses())
    assert "no fitted transform named house" in one_line_error(excinfo)
    with pytest.raises(sqlops.TransformError) as excinfo:
        store.transform("houses", houses(), version=4)
    assert "has no version 4" in one_line_error(excinfo)
    with pytest.raises(sqlops.TransformError) as excinfo:
        store.fit_transform("houses", pl.DataFrame({"age": [1.0, float("nan")]}), SPEC)
    assert "has no column price" in one_line_error(excinfo)
    with pytest.raises(sqlops.TransformError) as excinfo:
        store.fit_transform("nan", pl.DataFrame({"age": [1.0, float("inf")]}), {"age": "z_score"})
    assert "the frame.age holds NaN or infinity" in one_line_error(excinfo)
    with pytest.raises(sqlops.TransformError) as excinfo:
        store.fit_transform(
            "nan",
            pl.DataFrame({"x": [1.0, float("nan")]}),
            {"x": {"bucketize": {"num_buckets": 2}}},
        )
    assert "the frame.x holds NaN or infinity" in one_line_error(excinfo)
    with pytest.raises(sqlops.TransformError) as excinfo:
        store.fit_transform("../x", houses(), SPEC)
    one_line_error(excinfo)
    assert store.list_transforms() == {"houses": [1]}


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "sqlops"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SQLOPS_")}
    return subprocess.run(
        [str(exe), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120
    )


def test_cli_lists_and_shows_fits(project: sqlops.Project) -> None:
    store = project.features
    store.fit_transform("houses", "raw.houses", SPEC)
    root = project.root
    listed = run("features", "transforms", "--json", cwd=root)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {"transforms": {"houses": [1]}}
    shown = run("features", "transforms", "houses", "--json", cwd=root)
    assert json.loads(shown.stdout) == store.get_transform("houses")
    text = run("features", "transforms", "houses", cwd=root)
    assert "age: z_score" in text.stdout and "city: vocabulary" in text.stdout
    missing = run("features", "transforms", "house", cwd=root)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    assert "no fitted transform named house" in missing.stderr


def test_quoted_names_values_integer_keys_and_decimals(store: Any) -> None:
    train = pl.DataFrame(
        {
            'odd "col"': ["o'brien", "a\\b", "o'brien", "x y"],
            "code": [7, 12, 12, 7],
            "amount": pl.Series(["1.50", "2.25", "3.00", "4.75"]).cast(pl.Decimal(10, 2)),
        }
    )
    spec = {'odd "col"': "vocabulary", "code": "vocabulary", "amount": "z_score"}
    out = store.fit_transform("q", train, spec)
    vocab = vocabulary(train['odd "col"'].to_list())
    assert out['odd "col"'].to_list() == [vocab.index(v) for v in train['odd "col"']]
    codes = vocabulary([str(v) for v in train["code"]])  # keys are the values' text
    assert out["code"].to_list() == [codes.index(str(v)) for v in train["code"]]
    amounts = [float(v) for v in train["amount"]]
    close(out["amount"].to_list(), z_score(amounts, amounts))
    row = {'odd "col"': "a\\b", "code": 12, "amount": 2.25}
    assert store.transform("q", row) == out.row(1, named=True)


# -- the vocabulary join and the Python online row, against independent formulas ----------


def map_formula(fitted: dict[str, Any], column: str) -> str:
    """The vocabulary as the first version computed it (a DuckDB MAP literal), written
    here independently of the module, as the reference the join must equal."""
    text = f'CAST("{column}" AS VARCHAR)'
    entries = ", ".join(
        "'" + v.replace("'", "''") + f"': {i}" for i, v in enumerate(fitted["values"])
    )
    size, buckets_ = len(fitted["values"]), fitted["num_oov_buckets"]
    unknown = (
        f"({size} + CAST(('0x' || substr(md5({text}), 1, 15)) AS BIGINT) % {buckets_})"
        if buckets_
        else str(fitted["default_value"])
    )
    return (
        f'CASE WHEN "{column}" IS NULL THEN NULL '
        f"ELSE CAST(coalesce(MAP {{{entries}}}[{text}], {unknown}) AS BIGINT) END"
    )


def test_vocabulary_join_equals_the_map_formula_and_a_dict(store: Any) -> None:
    """Large enough (300k rows) for DuckDB's parallel join to reorder rows if let."""
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(3000)] + ["o'brien", 'say "hi"', "", "ÉTÉ", "a\\b"]
    train = pl.DataFrame(
        {
            "w": [*rng.choice(words, 20_000).tolist(), None],
            "n": rng.integers(-50, 50, 20_001).tolist(),
            "o": rng.choice(words[:500], 20_001).tolist(),
        }
    )
    spec = {"w": "vocabulary", "n": {"vocabulary": {"top_k": 60}}, "o": {}}
    spec["o"] = {"vocabulary": {"num_oov_buckets": 5, "frequency_threshold": 30}}
    store.fit_transform("vj", train, spec)
    doc = store.get_transform("vj")
    n = 300_000
    probe_words = [*words, "unseen", "zz'z", "W1"]
    later = pl.DataFrame(
        {
            "id": range(n),
            "w": [None if i % 17 == 0 else probe_words[i % len(probe_words)] for i in range(n)],
            "n": [None if i % 13 == 0 else (i * 7919) % 140 - 70 for i in range(n)],
            "o": [probe_words[(i * 31) % len(probe_words)] for i in range(n)],
        }
    )
    got = store.transform("vj", later)
    con = duckdb.connect()
    con.register("later", later.to_arrow())
    formulas = ", ".join(f'{map_formula(doc["columns"][c], c)} AS "{c}"' for c in "wno")
    want = con.sql(f"SELECT id, {formulas} FROM later ORDER BY id").fetchall()
    assert got.rows() == want  # same values, same order
    for column in "wno":  # and a plain dict lookup
        fitted = doc["columns"][column]
        index = {v: i for i, v in enumerate(fitted["values"])}
        for value, out in zip(later[column][:2000], got[column][:2000], strict=True):
            if value is None:
                assert out is None
            elif str(value) in index:
                assert out == index[str(value)]
            elif fitted["num_oov_buckets"]:
                assert out == md5_bucket(str(value), len(index), fitted["num_oov_buckets"])
            else:
                assert out == -1
    sql = store.transform_sql("vj", "later")  # self-contained text: the same answers
    assert con.sql(sql).fetchall()[:5000] == got.rows()[:5000]


ROW_SPEC: dict[str, Any] = {
    "z": "z_score",
    "zc": "z_score",
    "ze": "z_score",
    "m": "min_max",
    "mc": "min_max",
    "b": {"bucketize": {"num_buckets": 5}},
    "be": {"bucketize": {"num_buckets": 3}},
    "v": {"vocabulary": {"num_oov_buckets": 4}},
    "vd": {"vocabulary": {"default_value": -9}},
    "vi": "vocabulary",
    "vb": "vocabulary",
}


def row_fit(store: Any) -> None:
    rng = np.random.default_rng(3)
    train = pl.DataFrame(
        {
            "z": (rng.normal(5, 3, 200) * 8).round() / 8,
            "zc": [2.5] * 200,
            "ze": pl.Series([None] * 200, dtype=pl.Float64),
            "m": rng.uniform(-4, 9, 200),
            "mc": [1] * 200,
            "b": rng.integers(0, 40, 200).astype(float),
            "be": pl.Series([None] * 200, dtype=pl.Float64),
            "v": rng.choice(["a", "b", "c", "d"], 200),
            "vd": rng.choice(["x", "y"], 200),
            "vi": rng.integers(0, 6, 200),
            "vb": rng.choice([True, False], 200),
        }
    )
    store.fit_transform("rows", train, ROW_SPEC)


@pytest.fixture(scope="module")
def row_store(tmp_path_factory: Any) -> Any:
    store = sqlops.Project(tmp_path_factory.mktemp("rows")).features
    row_fit(store)
    return store


numbers = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-300, 750.0, -750.0, 2.5, 10.0, 20.0, 39.0]),
)
texts = st.one_of(st.none(), st.sampled_from(["a", "b", "zz", "", "o'x"]), st.text(max_size=5))


@settings(max_examples=60, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            **{c: numbers for c in ("z", "zc", "ze", "m", "mc", "b", "be")},
            "v": texts,
            "vd": texts,
            "vi": st.one_of(st.none(), st.integers(-3, 8)),
            "vb": st.one_of(st.none(), st.booleans()),
            "other": st.integers(0, 9),
        }
    )
)
def test_online_row_in_python_equals_the_sql_path(row_store: Any, row: Any) -> None:
    store = row_store
    doc = store.get_transform("rows")
    indexes = {
        c: {v: i for i, v in enumerate(f.get("values", []))} for c, f in doc["columns"].items()
    }
    assert apply_row(doc, row, indexes) is not None  # the Python path, not the fallback
    got = store.transform("rows", row)
    frame = pl.DataFrame([row])
    want = store.transform("rows", frame).row(0, named=True)
    assert got.keys() == want.keys()
    for column, value in want.items():
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(got[column]), column
        else:
            assert got[column] == value and type(got[column]) is type(value), column


def test_online_row_falls_back_to_sql_for_what_python_does_not_reproduce(store: Any) -> None:
    import decimal

    row_fit(store)
    base = {"z": 1.0, "zc": 1.0, "ze": 1.0, "m": 1.0, "mc": 1.0, "b": 1.0, "be": 1.0}
    base |= {"v": "a", "vd": "x", "vi": 3, "vb": True}
    odd = {**base, "z": decimal.Decimal("1.10"), "vi": 2**70}
    with pytest.raises(sqlops.TransformError, match="vocabulary needs a string or integer"):
        store.transform("rows", odd)  # a HUGEINT key is refused, as for a frame
    got = store.transform("rows", {**base, "z": decimal.Decimal("1.10")})
    want = store.transform("rows", pl.DataFrame([{**base, "z": 1.1}])).row(0, named=True)
    assert got["z"] == pytest.approx(want["z"], rel=1e-15)
    with pytest.raises(sqlops.TransformError, match="the row has no column zc"):
        store.transform("rows", {k: v for k, v in base.items() if k != "zc"})
    with pytest.raises(sqlops.TransformError, match=r"the row\.z is VARCHAR"):
        store.transform("rows", {**base, "z": "1.0"})


def test_fits_saved_before_centering_keep_passing_constants_through(store: Any) -> None:
    store.fit_transform("old", pl.DataFrame({"x": [3.0, 3.0]}), {"x": "z_score"})
    path = store.project.config.state_path / "transforms" / "old" / "1.json"
    doc = json.loads(path.read_text())
    del doc["columns"]["x"]["centered"]  # the document as the first version wrote it
    path.write_text(json.dumps(doc))
    assert store.transform("old", pl.DataFrame({"x": [5.0]}))["x"].to_list() == [5.0]
    assert store.transform("old", {"x": 5.0}) == {"x": 5.0}


def test_vocabulary_of_frames_with_columns_named_v_and_n(store: Any) -> None:
    """The analyzer's own aliases once captured input columns of those names."""
    train = pl.DataFrame({"v": ["a", "b", "b"], "n": ["x", "x", "y"], "k": ["p", "q", "q"]})
    out = store.fit_transform("vn", train, {c: "vocabulary" for c in train.columns})
    for column in train.columns:
        vocab = vocabulary(train[column].to_list())
        assert out[column].to_list() == [vocab.index(v) for v in train[column]]


def test_cli_shows_a_column_name_with_brackets(store: Any, monkeypatch: Any) -> None:
    """A column like ``price[/usd]`` is text, not Rich markup (it raised MarkupError)."""
    from typer.testing import CliRunner

    from sqlops.cli.app import app

    store.fit_transform("br", pl.DataFrame({"price[/usd]": [1.0, 2.0]}), {"price[/usd]": "min_max"})
    monkeypatch.chdir(store.project.root)
    shown = CliRunner().invoke(app, ["features", "transforms", "br"])
    assert shown.exit_code == 0, shown.output
    assert "price[/usd]: min_max" in shown.output
