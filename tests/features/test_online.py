"""The online store: values equal the training set's last row, incremental, all-or-nothing."""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlops.execute.engine import Engine
from sqlops.features import (
    Entity,
    FeatureError,
    FeatureRegistry,
    FeatureView,
    OnlineStoreError,
    UnknownFeatureError,
)
from sqlops.features.online import OnlineStore
from sqlops.features.pit import get_historical_features

T0 = dt.datetime(2024, 1, 1)
DRIVER = Entity("driver", ("driver_id",))
SCHEMA = {
    "driver_id": pl.Int64,
    "ts": pl.Datetime("us"),
    "created": pl.Datetime("us"),
    "conv": pl.Int64,
}


def minutes(n: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


def stats(ttl: Any = None) -> FeatureRegistry:
    view = FeatureView(
        "stats", "fv", ("driver",), "ts", ("conv",), created_timestamp="created", ttl=ttl
    )
    return FeatureRegistry.of([DRIVER], [view])


def training_rows(con: Engine, reg: FeatureRegistry, ids: list[int], at: dt.datetime) -> list[Any]:
    entity = pl.DataFrame({"driver_id": ids, "event_timestamp": [at] * len(ids)})
    frame = get_historical_features(con, entity, reg.select(["stats:conv"])).frame
    return frame["conv"].to_list()


row = st.fixed_dictionaries(
    {
        "driver_id": st.sampled_from([1, 2, 3]),
        "ts": st.integers(0, 8).map(minutes),
        "created": st.one_of(st.none(), st.integers(0, 3).map(minutes)),
        "conv": st.one_of(st.none(), st.integers(0, 9)),
    }
)


@settings(max_examples=25, deadline=None)
@given(
    first=st.lists(row, max_size=10),
    more=st.lists(row, max_size=6),
    ttl=st.sampled_from([None, 180]),
    ends=st.tuples(st.integers(0, 10), st.integers(0, 12)),
)
def test_online_values_equal_last_training_row(
    tmp_path_factory: pytest.TempPathFactory,
    first: list[dict[str, Any]],
    more: list[dict[str, Any]],
    ttl: int | None,
    ends: tuple[int, int],
) -> None:
    """After each (incremental) materialization, every entity reads what training gives."""
    store = OnlineStore(tmp_path_factory.mktemp("online") / "online.db")
    con = Engine(duckdb.connect(), ":memory:")
    reg = stats(ttl)
    ids = [1, 2, 3, 4]
    rows = list(first)
    for end, added in ((ends[0], []), (ends[1], more)):
        rows += added
        con.register("fv", pl.DataFrame(rows, schema=SCHEMA, orient="row"))
        store.materialize(con, reg.select(["stats:*"]), minutes(end))
        online = store.get_online_features(["stats:conv"], [{"driver_id": i} for i in ids])
        assert online == {"driver_id": ids, "conv": training_rows(con, reg, ids, minutes(end))}
    store.close()


def test_materialize_is_incremental_and_records_the_watermark(tmp_path: Path) -> None:
    con = Engine(duckdb.connect(), ":memory:")
    con.execute(
        "CREATE TABLE fv AS SELECT i AS driver_id, TIMESTAMP '2024-01-01' AS ts, "
        "NULL::TIMESTAMP AS created, i AS conv FROM range(1000) t(i)"
    )
    store = OnlineStore(tmp_path / "online.db")
    reg = stats("1d")
    (first,) = store.materialize(con, reg.select(["stats:*"]), minutes(1))
    assert (first.written, first.deleted, first.full) == (1000, 0, True)
    con.execute(
        "INSERT INTO fv VALUES (5, TIMESTAMP '2024-01-01 00:01', NULL, 500), "
        "(2000, TIMESTAMP '2024-01-01 00:01', NULL, 1)"
    )
    (second,) = store.materialize(con, reg.select(["stats:*"]), minutes(2))
    assert (second.written, second.deleted, second.full) == (2, 0, False)
    assert store.watermarks() == {"stats": minutes(2)}
    # a day later only the two newer rows are still within the ttl: the rest are removed
    (third,) = store.materialize(
        con, reg.select(["stats:*"]), T0 + dt.timedelta(days=1, seconds=30)
    )
    assert (third.written, third.deleted) == (0, 999)
    got = store.get_online_features(
        ["stats:conv"], [{"driver_id": 5}, {"driver_id": 6}, {"driver_id": 2000}]
    )
    assert got == {"driver_id": [5, 6, 2000], "conv": [500, None, 1]}


def test_failed_materialization_publishes_nothing(tmp_path: Path) -> None:
    """Readers see the previous materialization until a complete new one commits."""
    con = Engine(duckdb.connect(), ":memory:")
    con.execute(
        "CREATE TABLE fv AS SELECT 1 AS driver_id, TIMESTAMP '2024-01-01' AS ts, "
        "NULL::TIMESTAMP AS created, 10 AS conv"
    )
    con.execute(
        "CREATE TABLE fv2 AS SELECT 1 AS driver_id, TIMESTAMP '2024-01-01' AS ts, 'x' AS label"
    )
    labels = FeatureView("labels", "fv2", ("driver",), "ts", ("label",))
    reg = FeatureRegistry.of([DRIVER], [stats().views["stats"], labels])
    store = OnlineStore(tmp_path / "online.db")
    store.materialize(con, reg.select(["stats:*", "labels:*"]), minutes(1))
    con.execute("UPDATE fv SET conv = 11")
    # the second view's new snapshot cannot be written into the old table: 2 rows for 1 key
    con.execute("INSERT INTO fv2 VALUES (1, TIMESTAMP '2024-01-01 00:00:30', 'y')")
    original = sqlite3.Connection.executemany

    def broken(self: sqlite3.Connection, sql: str, rows: Any) -> sqlite3.Cursor:
        if '"fv__labels"' in sql and sql.startswith("INSERT"):
            raise sqlite3.OperationalError("disk I/O error")
        return original(self, sql, rows)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(store, "db", _Proxy(store.db, broken))
        with pytest.raises(sqlite3.OperationalError):
            store.materialize(con, reg.select(["stats:*", "labels:*"]), minutes(2))
    reader = OnlineStore(tmp_path / "online.db")
    got = reader.get_online_features(["stats:conv", "labels:label"], [{"driver_id": 1}])
    assert got == {"driver_id": [1], "conv": [10], "label": ["x"]}
    assert reader.watermarks() == {"stats": minutes(1), "labels": minutes(1)}
    # and the next run still brings everything up to date
    store.materialize(con, reg.select(["stats:*", "labels:*"]), minutes(2))
    got = reader.get_online_features(["stats:conv", "labels:label"], [{"driver_id": 1}])
    assert got == {"driver_id": [1], "conv": [11], "label": ["y"]}


class _Proxy:
    """A sqlite3 connection whose executemany can be made to fail."""

    def __init__(self, db: sqlite3.Connection, executemany: Any) -> None:
        self._db = db
        self._executemany = executemany

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        return self._executemany(self._db, sql, rows)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def test_values_of_every_type_round_trip(tmp_path: Path) -> None:
    con = Engine(duckdb.connect(), ":memory:")
    con.execute(
        """CREATE TABLE fv AS SELECT 'k1' AS id, 7 AS grp, TIMESTAMP '2024-01-01' AS ts,
        true AS flag, 1.5::DOUBLE AS x, 2.25::DECIMAL(9, 2) AS price, DATE '2023-05-06' AS day,
        TIMESTAMP '2023-05-06 07:08:09.123456' AS seen,
        TIMESTAMPTZ '2023-05-06 07:08:09+02' AS seen_tz, [1, 2] AS xs, {'a': 1} AS s,
        18446744073709551615::UBIGINT AS big, 'é' AS name, NULL::INTEGER AS missing"""
    )
    feats = ("flag", "x", "price", "day", "seen", "seen_tz", "xs", "s", "big", "name", "missing")
    reg = FeatureRegistry.of(
        [Entity("item", ("id", "grp"))], [FeatureView("items", "fv", ("item",), "ts", feats)]
    )
    store = OnlineStore(tmp_path / "online.db")
    store.materialize(con, reg.select(["items:*"]), minutes(1))
    got = store.get_online_features(["items:*"], [{"id": "k1", "grp": 7}, {"id": "k1", "grp": 8}])
    assert got == {
        "id": ["k1", "k1"],
        "grp": [7, 8],
        "flag": [True, None],
        "x": [1.5, None],
        "price": [Decimal("2.25"), None],
        "day": [dt.date(2023, 5, 6), None],
        "seen": [dt.datetime(2023, 5, 6, 7, 8, 9, 123456), None],
        "seen_tz": [dt.datetime(2023, 5, 6, 5, 8, 9, tzinfo=dt.UTC), None],
        "xs": [[1, 2], None],
        "s": [{"a": 1}, None],
        "big": [18446744073709551615, None],
        "name": ["é", None],
        "missing": [None, None],
    }


def test_lookup_errors_are_one_line(tmp_path: Path) -> None:
    con = Engine(duckdb.connect(), ":memory:")
    con.execute(
        "CREATE TABLE fv AS SELECT 1 AS driver_id, TIMESTAMP '2024-01-01' AS ts, "
        "NULL::TIMESTAMP AS created, 10 AS conv"
    )
    store = OnlineStore(tmp_path / "online.db")
    store.materialize(con, stats().select(["stats:*"]), minutes(1))
    for features, rows, kind, text in [
        (["stat:conv"], [{"driver_id": 1}], UnknownFeatureError, "did you mean stats?"),
        (["stats:con"], [{"driver_id": 1}], UnknownFeatureError, "did you mean conv?"),
        (["stats"], [{"driver_id": 1}], UnknownFeatureError, "is not view:feature"),
        (["stats:conv"], [{"driver": 1}], OnlineStoreError, "entity row 0 has no driver_id"),
    ]:
        with pytest.raises(kind) as exc:
            store.get_online_features(features, rows)
        assert text in str(exc.value)
        assert "\n" not in str(exc.value)
    assert isinstance(exc.value, FeatureError)


def test_concurrent_materialization_is_refused_not_mixed(tmp_path: Path) -> None:
    con = Engine(duckdb.connect(), ":memory:")
    con.execute(
        "CREATE TABLE fv AS SELECT 1 AS driver_id, TIMESTAMP '2024-01-01' AS ts, "
        "NULL::TIMESTAMP AS created, 10 AS conv"
    )
    reg = stats()
    one, two = OnlineStore(tmp_path / "online.db"), OnlineStore(tmp_path / "online.db")
    one.materialize(con, reg.select(["stats:*"]), minutes(1))
    stale = two._stage(con, reg.select(["stats:*"])[0], minutes(2), "stale")
    con.execute("UPDATE fv SET conv = 11")
    one.materialize(con, reg.select(["stats:*"]), minutes(2))
    two.db.execute("BEGIN IMMEDIATE")
    with pytest.raises(OnlineStoreError, match="materialized by another run meanwhile"):
        stale.publish(two.db, minutes(2))
    two.db.execute("ROLLBACK")
    assert two.get_online_features(["stats:conv"], [{"driver_id": 1}])["conv"] == [11]


ONLINE_TYPES = {
    "nan": "'nan'::DOUBLE",
    "nan32": "'nan'::FLOAT",
    "tenth32": "0.1::FLOAT",
    "neg_zero": "'-0.0'::DOUBLE",
    "floats": "['nan'::DOUBLE, '-0.0', 'inf']",
    "clock": "TIME '01:02:03.456789'",
    "nanos": "TIMESTAMP_NS '2024-01-01 00:00:00.123456789'",
    "doc": """'{"a": [1, 2]}'::JSON""",
    "aware_nanos": "'2024-01-01 00:00:00.123456789+00'::TIMESTAMPTZ_NS",
}


def test_online_values_of_every_type_equal_the_training_row(tmp_path: Path) -> None:
    """Values SQLite or the text encoding changed (NaN stored as NULL, -0.0 as 0, TIME and
    JSON as other types, nanoseconds rounded, aware nanoseconds read in the session's zone)
    come back as the training row has them (a view timed in aware nanoseconds too); then a
    change from 0.0 to -0.0 and to NaN is published."""
    con = Engine(duckdb.connect(), ":memory:")
    items = ", ".join(f"{sql} AS {name}" for name, sql in ONLINE_TYPES.items())
    con.execute("SET TimeZone = 'America/New_York'")
    con.execute(
        "CREATE TABLE fv AS SELECT 1 AS driver_id, "
        f"'2024-01-01 00:00:00+00'::TIMESTAMPTZ_NS AS ts, {items}"
    )
    reg = FeatureRegistry.of([DRIVER], [FeatureView("v", "fv", ("driver",), "ts", ONLINE_TYPES)])
    store = OnlineStore(tmp_path / "online.db")
    at = minutes(60)
    store.materialize(con, reg.select(["v:*"]), at)
    online = store.get_online_features(["v:*"], [{"driver_id": 1}])
    entity = pl.DataFrame({"driver_id": [1], "event_timestamp": [at]})
    training = get_historical_features(con, entity, reg.select(["v:*"])).frame.to_dicts()[0]
    for name in ONLINE_TYPES:  # repr: NaN is not equal to itself; instants in any zone
        want = training[name]
        same = online[name][0] == want if isinstance(want, dt.datetime) else None
        assert same or repr(online[name][0]) == repr(want), name
    for value in ("0.0", "-0.0", "nan"):
        # (DuckDB's UPDATE keeps -0.0 when given 0.0: the table is made again)
        con.execute(
            "CREATE OR REPLACE TABLE fv AS "
            f"SELECT * REPLACE ('{value}'::DOUBLE AS neg_zero) FROM fv"
        )
        store.materialize(con, reg.select(["v:*"]), at)
        got = store.get_online_features(["v:neg_zero"], [{"driver_id": 1}])["neg_zero"][0]
        assert repr(got) == repr(float(value)), value
    store.close()


KEYED = """CREATE TABLE fv AS SELECT 7 AS i, 'k' AS s, TIMESTAMP '2023-05-06 07:08:09.123456' AS t,
    DATE '2023-05-06' AS d, 2.5::DECIMAL(9, 2) AS p, true AS b, 18446744073709551615::UBIGINT AS u,
    TIMESTAMP '2024-01-01' AS ts, 42 AS score"""
PY_KEY = {
    "i": 7,
    "s": "k",
    "t": dt.datetime(2023, 5, 6, 7, 8, 9, 123456),
    "d": dt.date(2023, 5, 6),
    "p": Decimal("2.50"),
    "b": True,
    "u": 18446744073709551615,
}


def _numpy_and_pandas_keys() -> list[tuple[str, Any]]:
    import numpy as np
    import pandas as pd

    t = PY_KEY["t"]
    return [
        ("i", np.int64(7)),
        ("i", np.int32(7)),
        ("i", pd.array([7], dtype="Int64")[0]),
        ("s", np.str_("k")),
        ("t", pd.Timestamp(t)),
        ("t", np.datetime64(t.isoformat())),
        ("t", t.replace(tzinfo=dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=-3)))),
        ("t", t.isoformat()),
        ("d", pd.Timestamp("2023-05-06")),
        ("d", np.datetime64("2023-05-06")),
        ("p", Decimal("2.5")),
        ("p", 2.5),
        ("p", np.float64(2.5)),
        ("b", np.bool_(True)),
        ("u", np.uint64(18446744073709551615)),
    ]


def _keyed_store(tmp_path: Path) -> OnlineStore:
    con = Engine(duckdb.connect(), ":memory:")
    con.execute(KEYED)
    entity = Entity("thing", tuple(PY_KEY))
    reg = FeatureRegistry.of([entity], [FeatureView("v", "fv", ("thing",), "ts", ("score",))])
    store = OnlineStore(tmp_path / "online.db")
    store.materialize(con, reg.select(["v:score"]), minutes(1))
    return store


def test_numpy_pandas_and_datetime_keys_match_as_their_python_values(tmp_path: Path) -> None:
    """A numpy int bound as its raw bytes used to miss silently (score None); every scalar
    a pandas user iterates over finds the row the plain Python key finds."""
    store = _keyed_store(tmp_path)
    assert store.get_online_features(["v:score"], [PY_KEY])["score"] == [42]
    for key, value in _numpy_and_pandas_keys():
        got = store.get_online_features(["v:score"], [{**PY_KEY, key: value}])
        assert got["score"] == [42], (key, type(value).__name__, value)
    missing = store.get_online_features(["v:score"], [{**PY_KEY, "i": 8}, {**PY_KEY, "i": None}])
    assert missing["score"] == [None, None]
    store.close()


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("i", [7], "a list key cannot match"),
        ("s", dt.date(2023, 5, 6), "a date key cannot match"),
        ("d", dt.datetime(2023, 5, 6, 1), "is not a date"),
        ("p", Decimal("2.501"), "more than 2 decimal places"),
        ("b", 2, "is not a boolean"),
        ("t", "yesterday", "Invalid isoformat"),
    ],
)
def test_a_key_that_cannot_match_its_column_is_refused(
    tmp_path: Path, key: str, value: Any, text: str
) -> None:
    store = _keyed_store(tmp_path)
    with pytest.raises(OnlineStoreError) as exc:
        store.get_online_features(["v:score"], [{**PY_KEY, key: value}])
    assert f"entity row 0, key {key}" in str(exc.value) and text in str(exc.value)
    assert "\n" not in str(exc.value)
    store.close()


def _latest(rows: list[tuple[int, dt.datetime, Any]]) -> dict[int, Any]:
    """Brute force: each entity's value at its greatest event time."""
    best: dict[int, tuple[dt.datetime, Any]] = {}
    for key, ts, value in rows:
        if key not in best or ts > best[key][0]:
            best[key] = (ts, value)
    return {k: v for k, (_, v) in best.items()}


def test_a_rematerialized_view_is_read_anew_through_the_same_store(tmp_path: Path) -> None:
    """The read plan was refreshed only on PRAGMA data_version, which SQLite leaves as it
    was for the writing connection's own commits: a view whose feature changed type kept
    being read with the old decoders."""
    con = Engine(duckdb.connect(), ":memory:")
    rows = [(1, minutes(0), 10), (1, minutes(5), 11), (2, minutes(3), 20)]
    con.execute("CREATE TABLE fv (driver_id BIGINT, ts TIMESTAMP, conv BIGINT)")
    con.execute("INSERT INTO fv VALUES " + ", ".join(f"({k}, '{t}', {v})" for k, t, v in rows))
    reg = FeatureRegistry.of([DRIVER], [FeatureView("stats", "fv", ("driver",), "ts", ("conv",))])
    store = OnlineStore(tmp_path / "online.db")
    store.materialize(con, reg.select(["stats:conv"]), minutes(9))
    keys = [{"driver_id": 1}, {"driver_id": 2}]
    want = _latest(rows)
    assert store.get_online_features(["stats:conv"], keys)["conv"] == [want[1], want[2]]
    con.execute(
        "CREATE OR REPLACE TABLE fv AS "
        "SELECT driver_id, ts, DATE '2024-01-01' + conv::INTEGER AS conv FROM fv"
    )
    store.materialize(con, reg.select(["stats:conv"]), minutes(9))
    days = {k: dt.date(2024, 1, 1) + dt.timedelta(days=v) for k, v in want.items()}
    assert store.get_online_features(["stats:conv"], keys)["conv"] == [days[1], days[2]]
    store.close()


def test_a_view_removed_from_the_project_is_torn_down(tmp_path: Path) -> None:
    con = Engine(duckdb.connect(), ":memory:")
    con.execute(
        "CREATE TABLE fv AS SELECT 1 AS driver_id, TIMESTAMP '2024-01-01' AS ts, "
        "NULL::TIMESTAMP AS created, 10 AS conv"
    )
    both = [
        FeatureView("stats", "fv", ("driver",), "ts", ("conv",)),
        FeatureView("old", "fv", ("driver",), "ts", ("conv",)),
    ]
    store = OnlineStore(tmp_path / "online.db")
    everything = FeatureRegistry.of([DRIVER], both).select(
        ["stats:*", "old:*"], full_feature_names=True
    )
    store.materialize(con, everything, T0)
    assert store.get_online_features(["old:conv"], [{"driver_id": 1}])["conv"] == [10]
    kept = FeatureRegistry.of([DRIVER], both[:1]).select(["stats:*"], full_feature_names=True)
    store.materialize(con, kept, T0, teardown=True)
    with pytest.raises(UnknownFeatureError, match="old is not in the online store"):
        store.get_online_features(["old:conv"], [{"driver_id": 1}])
    assert store.get_online_features(["stats:conv"], [{"driver_id": 1}])["conv"] == [10]
    store.close()
    tables = {r[0] for r in sqlite3.connect(tmp_path / "online.db").execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}  # fmt: skip
    assert "fv__old" not in tables and "fv__stats" in tables
    snapshots = [p.name for p in (tmp_path / "online.db.snapshots").iterdir()]
    assert len(snapshots) == 1 and snapshots[0].startswith("stats")


def test_threads_read_one_store_at_once(tmp_path: Path) -> None:
    """Several threads sharing one store (a web server's): every multi-view read (one
    snapshot, BEGIN ... COMMIT) equals the brute-force latest row, with no thread's
    transaction meeting another's."""
    from concurrent.futures import ThreadPoolExecutor

    con = Engine(duckdb.connect(), ":memory:")
    rows = [(k, minutes(t), k * 100 + t) for k in range(1, 30) for t in range(0, 9, 2)]
    values = ", ".join(f"({k}, '{t}', {v})" for k, t, v in rows)
    con.execute("CREATE TABLE fv (driver_id BIGINT, ts TIMESTAMP, conv BIGINT)")
    con.execute(f"INSERT INTO fv VALUES {values}")
    views = [FeatureView(n, "fv", ("driver",), "ts", ("conv",)) for n in ("a", "b")]
    reg = FeatureRegistry.of([DRIVER], views)
    store = OnlineStore(tmp_path / "online.db")
    store.materialize(con, reg.select(["a:*", "b:*"], full_feature_names=True), minutes(60))
    want = _latest(rows)

    def read(i: int) -> bool:
        keys = [{"driver_id": 1 + (i + j) % 29} for j in range(3)]
        got = store.get_online_features(["a:conv", "b:conv"], keys, full_feature_names=True)
        expect = [want[k["driver_id"]] for k in keys]
        return got["a__conv"] == expect and got["b__conv"] == expect

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(read, range(2000)))
    store.close()
