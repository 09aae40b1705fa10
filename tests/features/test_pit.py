"""Point-in-time training sets against a brute-force loop, plus the known traps by name."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pitcheck import brute_force

from sqlops.execute.engine import Engine
from sqlops.features import (
    Entity,
    EntityFrameError,
    Feature,
    FeatureError,
    FeatureRegistry,
    FeatureView,
)
from sqlops.features.pit import get_historical_features, latest_sql

T0 = datetime(2024, 1, 1)
DRIVER = Entity("driver", ("driver_id",))


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


def registry(*views: FeatureView, entities: tuple[Entity, ...] = (DRIVER,)) -> FeatureRegistry:
    return FeatureRegistry.of(entities, views)


def stats_view(ttl: Any = None, created: str | None = "created", source: str = "fv") -> FeatureView:
    return FeatureView(
        "stats", source, ("driver",), "ts", ("conv",), created_timestamp=created, ttl=ttl
    )


def frame(rows: list[dict[str, Any]], schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row")


VIEW_SCHEMA = {
    "driver_id": pl.Int64,
    "ts": pl.Datetime("us"),
    "created": pl.Datetime("us"),
    "conv": pl.Int64,
}
ENTITY_SCHEMA = {"driver_id": pl.Int64, "event_timestamp": pl.Datetime("us")}


def train(
    view_rows: list[dict[str, Any]],
    entity_rows: list[dict[str, Any]],
    reg: FeatureRegistry,
    features: list[str],
    **kwargs: Any,
) -> list[dict[str, Any]]:
    con = Engine(duckdb.connect(), ":memory:")
    con.register("fv", frame(view_rows, VIEW_SCHEMA))
    entity = frame(entity_rows, ENTITY_SCHEMA)
    result = get_historical_features(con, entity, reg.select(features), **kwargs)
    return result.frame.to_dicts()


# -- random data against the brute force ----------------------------------------------------

view_row = st.fixed_dictionaries(
    {
        "driver_id": st.sampled_from([1, 2, None]),
        "ts": st.one_of(st.integers(0, 8).map(minutes), st.none()),
        "created": st.one_of(st.none(), st.integers(0, 4).map(minutes)),
        "conv": st.one_of(st.none(), st.integers(0, 99)),
    }
)
entity_row = st.fixed_dictionaries(
    {
        "driver_id": st.sampled_from([1, 2, 3, None]),
        "event_timestamp": st.integers(0, 10).map(minutes),
    }
)


@settings(max_examples=120, deadline=None)
@given(
    view_rows=st.lists(view_row, min_size=1, max_size=14),
    entity_rows=st.lists(entity_row, min_size=1, max_size=8),
    ttl=st.sampled_from([None, 0, 120, 300]),
    plan=st.sampled_from(["asof", "range", "auto"]),
    filter_created=st.booleans(),
)
def test_training_set_equals_brute_force(
    view_rows: list[dict[str, Any]],
    entity_rows: list[dict[str, Any]],
    ttl: int | None,
    plan: str,
    filter_created: bool,
) -> None:
    if filter_created and plan == "asof":
        plan = "range"
    view = stats_view(ttl=ttl)
    got = train(
        view_rows,
        entity_rows,
        registry(view),
        ["stats:conv"],
        plan=plan,
        filter_by_created_timestamp=filter_created,
    )
    want = brute_force(
        entity_rows, view_rows, ["driver_id"], ["conv"], ttl=view.ttl, filter_created=filter_created
    )
    assert got == want


two_key_row = st.fixed_dictionaries(
    {
        "a": st.sampled_from(["x", "x_y", "y"]),
        "b": st.sampled_from(["y_z", "z", "y"]),
        "ts": st.integers(0, 8).map(minutes),
        "v": st.integers(0, 9),
    }
)


@settings(max_examples=60, deadline=None)
@given(
    view_rows=st.lists(two_key_row, max_size=12),
    drivers=st.lists(view_row, max_size=8),
    entity_rows=st.lists(
        st.fixed_dictionaries(
            {
                "a": st.sampled_from(["x", "x_y", "y"]),
                "b": st.sampled_from(["y_z", "z", "y"]),
                "driver_id": st.sampled_from([1, 2, 3]),
                "event_timestamp": st.integers(0, 14).map(minutes),
            }
        ),
        max_size=8,
    ),
    plan=st.sampled_from(["asof", "range"]),
)
def test_many_views_composite_keys_equal_brute_force(
    view_rows: list[dict[str, Any]],
    drivers: list[dict[str, Any]],
    entity_rows: list[dict[str, Any]],
    plan: str,
) -> None:
    pair = Entity("pair", ("a", "b"))
    reg = registry(
        stats_view(ttl="5m"),
        FeatureView("pairs", "pv", ("pair",), "ts", ("v",), ttl="1h"),
        entities=(DRIVER, pair),
    )
    con = Engine(duckdb.connect(), ":memory:")
    con.register("fv", frame(drivers, VIEW_SCHEMA))
    con.register(
        "pv",
        frame(view_rows, {"a": pl.String, "b": pl.String, "ts": pl.Datetime("us"), "v": pl.Int64}),
    )
    entity = frame(
        entity_rows,
        {
            "a": pl.String,
            "b": pl.String,
            "driver_id": pl.Int64,
            "event_timestamp": pl.Datetime("us"),
        },
    )
    got = get_historical_features(
        con,
        entity,
        reg.select(["pairs:v", "stats:conv"]),
        plan=plan,  # type: ignore[arg-type]
    ).frame.to_dicts()
    by_pair = brute_force(
        entity_rows, view_rows, ["a", "b"], ["v"], ttl=timedelta(hours=1), created=None
    )
    by_driver = brute_force(entity_rows, drivers, ["driver_id"], ["conv"], ttl=timedelta(minutes=5))
    assert got == [{**p, "conv": d["conv"]} for p, d in zip(by_pair, by_driver, strict=True)]


# -- named regressions ----------------------------------------------------------------------


@pytest.mark.parametrize("plan", ["asof", "range"])
def test_created_timestamp_breaks_ties_among_three_versions(plan: str) -> None:
    """Feast issue 3360: with 3+ rows at one event time, the latest created one wins."""
    rows = [
        {"driver_id": 1, "ts": minutes(0), "created": minutes(1), "conv": 10},
        {"driver_id": 1, "ts": minutes(0), "created": minutes(3), "conv": 30},
        {"driver_id": 1, "ts": minutes(0), "created": minutes(2), "conv": 20},
        {"driver_id": 1, "ts": minutes(0), "created": None, "conv": 99},
    ]
    got = train(
        rows,
        [{"driver_id": 1, "event_timestamp": minutes(5)}],
        registry(stats_view()),
        ["stats:conv"],
        plan=plan,
    )
    assert got[0]["conv"] == 30


@pytest.mark.parametrize("plan", ["asof", "range"])
@pytest.mark.parametrize("reverse", [False, True])
def test_rows_equal_in_both_times_are_chosen_by_value_not_position(
    plan: str, reverse: bool
) -> None:
    """Rows with equal keys, event and created time: the greatest value wins (NULL lowest),
    in whichever order the source holds them (a rebuilt model need not keep its order)."""
    rows = [
        {"driver_id": 1, "ts": minutes(0), "created": minutes(1), "conv": 20},
        {"driver_id": 1, "ts": minutes(0), "created": minutes(1), "conv": None},
        {"driver_id": 1, "ts": minutes(0), "created": minutes(1), "conv": 35},
        {"driver_id": 1, "ts": minutes(0), "created": minutes(1), "conv": -4},
        {"driver_id": 2, "ts": minutes(0), "created": None, "conv": None},
        {"driver_id": 2, "ts": minutes(0), "created": None, "conv": 7},
    ]
    got = train(
        rows[::-1] if reverse else rows,
        [{"driver_id": d, "event_timestamp": minutes(5)} for d in (1, 2)],
        registry(stats_view()),
        ["stats:conv"],
        plan=plan,
    )
    assert [r["conv"] for r in got] == [35, 7]


@pytest.mark.parametrize("plan", ["asof", "range"])
def test_ttl_window_includes_both_ends(plan: str) -> None:
    rows = [
        {"driver_id": 1, "ts": minutes(10), "created": None, "conv": 1},
        {"driver_id": 2, "ts": minutes(0), "created": None, "conv": 2},
        {"driver_id": 3, "ts": minutes(0) - timedelta(microseconds=1), "created": None, "conv": 3},
    ]
    entities = [{"driver_id": d, "event_timestamp": minutes(10)} for d in (1, 2, 3)]
    got = train(rows, entities, registry(stats_view(ttl="10m")), ["stats:conv"], plan=plan)
    assert [r["conv"] for r in got] == [1, 2, None]


def test_filter_by_created_timestamp_keeps_late_rows_out() -> None:
    """A backfill created after the entity time must not leak; NULL created is excluded."""
    rows = [
        {"driver_id": 1, "ts": minutes(0), "created": minutes(0), "conv": 1},
        {"driver_id": 1, "ts": minutes(1), "created": minutes(9), "conv": 2},  # late
        {"driver_id": 2, "ts": minutes(1), "created": None, "conv": 3},
    ]
    entities = [
        {"driver_id": 1, "event_timestamp": minutes(5)},
        {"driver_id": 2, "event_timestamp": minutes(5)},
    ]
    reg = registry(stats_view())
    assert [r["conv"] for r in train(rows, entities, reg, ["stats:conv"])] == [2, 3]
    filtered = train(rows, entities, reg, ["stats:conv"], filter_by_created_timestamp=True)
    assert [r["conv"] for r in filtered] == [1, None]


@pytest.mark.parametrize("plan", ["asof", "range"])
def test_null_feature_of_latest_row_is_returned_not_skipped(plan: str) -> None:
    rows = [
        {"driver_id": 1, "ts": minutes(0), "created": None, "conv": 5},
        {"driver_id": 1, "ts": minutes(1), "created": None, "conv": None},
    ]
    got = train(
        rows,
        [{"driver_id": 1, "event_timestamp": minutes(2)}],
        registry(stats_view()),
        ["stats:conv"],
        plan=plan,
    )
    assert got == [{"driver_id": 1, "event_timestamp": minutes(2), "conv": None}]


@pytest.mark.parametrize("plan", ["asof", "range"])
def test_duplicate_entity_rows_all_stay_in_order(plan: str) -> None:
    """Feast issue 6787: entity rows sharing keys and timestamp are all kept."""
    rows = [{"driver_id": 1, "ts": minutes(0), "created": None, "conv": 7}]
    entities = [
        {"driver_id": 2, "event_timestamp": minutes(1)},
        {"driver_id": 1, "event_timestamp": minutes(1)},
        {"driver_id": 1, "event_timestamp": minutes(1)},
        {"driver_id": 1, "event_timestamp": minutes(1)},
    ]
    got = train(rows, entities, registry(stats_view()), ["stats:conv"], plan=plan)
    assert [r["conv"] for r in got] == [None, 7, 7, 7]


@pytest.mark.parametrize("plan", ["asof", "range"])
def test_keys_whose_concatenations_collide_stay_apart(plan: str) -> None:
    pair = Entity("pair", ("a", "b"))
    reg = registry(FeatureView("pairs", "pv", ("pair",), "ts", ("v",)), entities=(pair,))
    con = Engine(duckdb.connect(), ":memory:")
    con.register(
        "pv",
        pl.DataFrame(
            {"a": ["a_b", "a"], "b": ["c", "b_c"], "ts": [minutes(0), minutes(0)], "v": [1, 2]}
        ),
    )
    entity = pl.DataFrame(
        {"a": ["a", "a_b"], "b": ["b_c", "c"], "event_timestamp": [minutes(1)] * 2}
    )
    got = get_historical_features(con, entity, reg.select(["pairs:v"]), plan=plan)  # type: ignore[arg-type]
    assert got.frame["v"].to_list() == [2, 1]


@pytest.mark.parametrize("plan", ["asof", "range"])
def test_aware_and_naive_timestamps_meet_in_utc(plan: str) -> None:
    con = Engine(duckdb.connect(), ":memory:")
    # the view's times are naive (UTC): 10:00 and 11:00
    con.register(
        "fv",
        pl.DataFrame(
            {
                "driver_id": [1, 1],
                "ts": [datetime(2024, 1, 1, 10), datetime(2024, 1, 1, 11)],
                "conv": [10, 11],
            }
        ),
    )
    plus2 = timezone(timedelta(hours=2))
    # 12:30+02:00 is 10:30 UTC: only the 10:00 row is visible
    entity = pl.DataFrame(
        {"driver_id": [1], "event_timestamp": [datetime(2024, 1, 1, 12, 30, tzinfo=plus2)]}
    ).with_columns(pl.col("event_timestamp").dt.convert_time_zone("Europe/Berlin"))
    reg = registry(stats_view(created=None))
    got = get_historical_features(con, entity, reg.select(["stats:conv"]), plan=plan)  # type: ignore[arg-type]
    assert got.frame["conv"].to_list() == [10]
    # and the other way: an aware view read by a naive entity frame
    con.register(
        "fv",
        pl.DataFrame(
            {"driver_id": [1], "ts": [datetime(2024, 1, 1, 12, 0, tzinfo=plus2)], "conv": [7]}
        ).with_columns(pl.col("ts").dt.convert_time_zone("Asia/Tokyo")),
    )
    naive = pl.DataFrame(
        {
            "driver_id": [1, 1],
            "event_timestamp": [datetime(2024, 1, 1, 9, 59), datetime(2024, 1, 1, 10)],
        }
    )
    got = get_historical_features(con, naive, reg.select(["stats:conv"]), plan=plan)  # type: ignore[arg-type]
    assert got.frame["conv"].to_list() == [None, 7]
    # the entity columns come back as given
    assert got.frame["event_timestamp"].to_list() == naive["event_timestamp"].to_list()


def test_pandas_nanosecond_entity_frame() -> None:
    pd = pytest.importorskip("pandas")
    con = Engine(duckdb.connect(), ":memory:")
    con.register("fv", pl.DataFrame({"driver_id": [1], "ts": [minutes(0)], "conv": [3]}))
    entity = pd.DataFrame(
        {
            "driver_id": [1, 1],
            "event_timestamp": pd.to_datetime(
                ["2023-12-31 23:59:59.999999999", "2024-01-01 00:00:00.000000000"]
            ),
        }
    )
    got = get_historical_features(
        con, entity, registry(stats_view(created=None)).select(["stats:conv"])
    )
    assert got.frame["conv"].to_list() == [None, 3]


def test_empty_entity_frame_gives_empty_result_with_columns() -> None:
    got = train(
        [{"driver_id": 1, "ts": minutes(0), "created": None, "conv": 1}],
        [],
        registry(stats_view()),
        ["stats:conv"],
    )
    assert got == []


def test_empty_feature_view_gives_nulls() -> None:
    got = train(
        [],
        [{"driver_id": 1, "event_timestamp": minutes(0)}],
        registry(stats_view()),
        ["stats:conv"],
    )
    assert got == [{"driver_id": 1, "event_timestamp": minutes(0), "conv": None}]


def test_full_feature_names_prefix_the_view() -> None:
    rows = [{"driver_id": 1, "ts": minutes(0), "created": None, "conv": 4}]
    con = Engine(duckdb.connect(), ":memory:")
    con.register("fv", frame(rows, VIEW_SCHEMA))
    entity = frame([{"driver_id": 1, "event_timestamp": minutes(1)}], ENTITY_SCHEMA)
    sel = registry(stats_view()).select(["stats:*"], full_feature_names=True)
    got = get_historical_features(con, entity, sel)
    assert got.frame.columns == ["driver_id", "event_timestamp", "stats__conv"]


def test_date_range_mode_equals_brute_force_over_range_rows() -> None:
    """No entity frame: each (keys, event time) in [start, end], with values as of then."""
    rows = [
        {"driver_id": 1, "ts": minutes(0), "created": None, "conv": 1},
        {"driver_id": 1, "ts": minutes(5), "created": minutes(1), "conv": 2},
        {"driver_id": 1, "ts": minutes(5), "created": minutes(2), "conv": 3},
        {"driver_id": 2, "ts": minutes(6), "created": None, "conv": 4},
        {"driver_id": 2, "ts": minutes(30), "created": None, "conv": 5},
    ]
    con = Engine(duckdb.connect(), ":memory:")
    con.register("fv", frame(rows, VIEW_SCHEMA))
    reg = registry(stats_view(ttl="1h"))
    got = get_historical_features(
        con, None, reg.select(["stats:conv"]), start_date=minutes(1), end_date=minutes(10)
    ).frame.to_dicts()
    in_range = [r for r in rows if minutes(1) <= r["ts"] <= minutes(10)]
    base = sorted({(r["ts"], r["driver_id"]) for r in in_range})
    entities = [{"driver_id": k, "event_timestamp": t} for t, k in base]
    want = brute_force(entities, in_range, ["driver_id"], ["conv"], ttl=timedelta(hours=1))
    assert got == want
    assert [r["conv"] for r in got] == [3, 4]


def test_asof_loop_threshold_is_restored() -> None:
    con = Engine(duckdb.connect(), ":memory:")
    con.execute("SET asof_loop_join_threshold = 7")
    con.register("fv", frame([], VIEW_SCHEMA))
    entity = frame([{"driver_id": 1, "event_timestamp": minutes(0)}], ENTITY_SCHEMA)
    get_historical_features(con, entity, registry(stats_view()).select(["stats:conv"]), plan="asof")
    assert con.execute("SELECT current_setting('asof_loop_join_threshold')").fetchone() == (7,)


# -- bad input: one line each -----------------------------------------------------------------


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize(
    ("entity", "message"),
    [
        (
            pl.DataFrame({"event_timestamp": [T0]}),
            "no column driver_id, the join key of feature view stats",
        ),
        (pl.DataFrame({"driver_id": [1]}), "entity frame has no timestamp column event_timestamp"),
        (
            pl.DataFrame({"driver_id": [1], "event_timestamp": ["2024-01-01"]}),
            "entity frame.event_timestamp is VARCHAR, not a timestamp",
        ),
        (
            pl.DataFrame({"driver_id": [1], "event_timestamp": [T0], "conv": [1]}),
            "entity frame column conv has the name of feature",
        ),
    ],
)
def test_bad_entity_frames_are_refused(entity: pl.DataFrame, message: str) -> None:
    con = Engine(duckdb.connect(), ":memory:")
    con.register("fv", frame([], VIEW_SCHEMA))
    with pytest.raises(EntityFrameError) as exc:
        get_historical_features(con, entity, registry(stats_view()).select(["stats:conv"]))
    assert message in _one_line(exc)


@pytest.mark.parametrize(
    ("view_rows", "message"),
    [
        (
            pl.DataFrame({"driver_id": [1], "ts": [5], "conv": [1]}),
            "feature view stats (fv).ts is BIGINT, not a timestamp",
        ),
        (
            pl.DataFrame({"driver_id": [1], "ts": [T0]}),
            "feature view stats reads fv, which has no column conv",
        ),
    ],
)
def test_bad_view_relations_are_refused(view_rows: pl.DataFrame, message: str) -> None:
    con = Engine(duckdb.connect(), ":memory:")
    con.register("fv", view_rows)
    entity = frame([{"driver_id": 1, "event_timestamp": minutes(0)}], ENTITY_SCHEMA)
    with pytest.raises(EntityFrameError) as exc:
        get_historical_features(
            con, entity, registry(stats_view(created=None)).select(["stats:conv"])
        )
    assert message in _one_line(exc)


def test_date_range_and_entity_frame_together_are_refused() -> None:
    con = Engine(duckdb.connect(), ":memory:")
    con.register("fv", frame([], VIEW_SCHEMA))
    entity = frame([], ENTITY_SCHEMA)
    with pytest.raises(FeatureError) as exc:
        get_historical_features(
            con, entity, registry(stats_view()).select(["stats:conv"]), end_date=T0
        )
    assert "not both" in _one_line(exc)


def test_feature_dtype_metadata_is_kept() -> None:
    view = FeatureView(
        "v", "t", ("driver",), "ts", (Feature("x", "DOUBLE", "speed", "ml", ("a",)),)
    )
    assert view.features[0].dtype == "DOUBLE"


@pytest.mark.parametrize("kind", ["table", "query", "arrow"])
def test_entity_rows_from_a_table_a_query_or_arrow(kind: str) -> None:
    con = Engine(duckdb.connect(), ":memory:")
    con.register("fv", pl.DataFrame({"driver_id": [1, 2], "ts": [minutes(0)] * 2, "conv": [5, 6]}))
    con.execute(
        "CREATE TABLE ent AS SELECT * FROM (VALUES (2, TIMESTAMP '2024-01-01 00:01'), "
        "(1, TIMESTAMP '2024-01-01 00:01')) t(driver_id, event_timestamp)"
    )
    entity: Any = {
        "table": "ent",
        "query": "SELECT * FROM ent",
        "arrow": con.polars("SELECT * FROM ent").to_arrow(),
    }[kind]
    sel = registry(stats_view(created=None)).select(["stats:conv"])
    assert get_historical_features(con, entity, sel).frame["conv"].to_list() == [6, 5]


def test_created_cutoff_skips_views_without_a_created_timestamp() -> None:
    """As in Feast, the cutoff applies only where there is a created timestamp to compare."""
    rows = [{"driver_id": 1, "ts": minutes(0), "created": None, "conv": 1}]
    entities = [{"driver_id": 1, "event_timestamp": minutes(5)}]
    reg = registry(stats_view(created=None))
    got = train(rows, entities, reg, ["stats:conv"], filter_by_created_timestamp=True)
    assert [r["conv"] for r in got] == [1]


def test_date_range_mode_refuses_views_with_different_keys() -> None:
    con = Engine(duckdb.connect(), ":memory:")
    con.register("fv", frame([], VIEW_SCHEMA))
    con.register("pv", pl.DataFrame({"a": ["x"], "ts": [T0], "v": [1]}))
    reg = registry(
        stats_view(),
        FeatureView("pairs", "pv", ("pair",), "ts", ("v",)),
        entities=(DRIVER, Entity("pair", ("a",))),
    )
    with pytest.raises(FeatureError) as exc:
        get_historical_features(con, None, reg.select(["stats:conv", "pairs:v"]), end_date=T0)
    assert "the date-range mode needs views with the same join keys" in _one_line(exc)


def test_missing_source_relation_is_one_line() -> None:
    con = Engine(duckdb.connect(), ":memory:")
    entity = frame([{"driver_id": 1, "event_timestamp": T0}], ENTITY_SCHEMA)
    with pytest.raises(FeatureError) as exc:
        get_historical_features(con, entity, registry(stats_view()).select(["stats:conv"]))
    assert _one_line(exc).startswith("cannot read fv: ")


@pytest.mark.parametrize(
    ("dtype", "values"),
    [
        ("DOUBLE", ["'-0.0'", "'0.0'"]),
        ("FLOAT", ["'0.0'", "'-0.0'"]),
        ("DOUBLE", ["'-nan'", "'nan'"]),
        ("DOUBLE[]", ["['-0.0']", "['0.0']"]),
        ("STRUCT(a DOUBLE)", ["{'a': '-0.0'}", "{'a': '0.0'}"]),
        ("INTERVAL", ["INTERVAL '1 month'", "INTERVAL '30 days'"]),
    ],
)
def test_tied_rows_with_equal_but_different_values_give_one_answer(
    dtype: str, values: list[str]
) -> None:
    """Rows equal in keys and both times whose values DuckDB compares equal yet are not the
    same (-0.0 and 0.0, INTERVAL '1 month' and '30 days'): every source order, both plans
    and the online store's query give one value (the text is compared, in plain DuckDB)."""
    seen = set()
    for order in (values, values[::-1]):
        con = Engine(duckdb.connect(), ":memory:")
        rows = " UNION ALL ".join(
            f"SELECT 1 AS driver_id, TIMESTAMP '2024-01-01' AS ts, CAST({v} AS {dtype}) AS v, "
            f"{n} AS o"
            for n, v in enumerate(order)
        )
        con.execute(f"CREATE TABLE fv AS SELECT driver_id, ts, v FROM ({rows}) ORDER BY o")
        sel = registry(FeatureView("s", "fv", ("driver",), "ts", ("v",))).select(["s:v"])
        at = T0 + timedelta(hours=1)
        entity = pl.DataFrame({"driver_id": [1], "event_timestamp": [at]})
        for plan in ("asof", "range"):
            got = get_historical_features(con, entity, sel, plan=plan).frame  # type: ignore[arg-type]
            seen.add(str(got["v"].to_list()))
        sql, _ = latest_sql(con, sel[0], at)
        ((online,),) = con.execute(f"SELECT [__f0]::VARCHAR FROM ({sql})").fetchall()
        seen.add(online)
    assert len({s.replace("'", "") for s in seen}) == 1, seen


@pytest.mark.parametrize("plan", ["asof", "range"])
def test_date_range_mode_keeps_nanosecond_event_times(plan: str) -> None:
    """Each (keys, event time) of a view with nanosecond times is its own entity row, with
    that row's value (rounded to microseconds, two rows merged and missed their own value)."""
    con = Engine(duckdb.connect(), ":memory:")
    con.execute(
        "CREATE TABLE fv AS SELECT * FROM (VALUES "
        "(1, TIMESTAMP_NS '2024-01-01 00:00:00.000000400', 5), "
        "(1, TIMESTAMP_NS '2024-01-01 00:00:00.000000100', 3), "
        "(1, TIMESTAMP_NS '2023-12-31 00:00:00', 4)) v(driver_id, ts, conv)"
    )
    sel = registry(stats_view(created=None)).select(["stats:conv"])
    got = get_historical_features(
        con,
        None,
        sel,
        start_date=datetime(2023, 12, 30),
        end_date=datetime(2024, 1, 2),
        plan=plan,  # type: ignore[arg-type]
    ).frame
    con.register("got", got)
    rows = con.execute("SELECT CAST(event_timestamp AS VARCHAR), conv FROM got").fetchall()
    assert rows == [
        ("2023-12-31 00:00:00", 4),
        ("2024-01-01 00:00:00.0000001", 3),
        ("2024-01-01 00:00:00.0000004", 5),
    ]


@pytest.mark.parametrize(
    ("column", "session", "values"),
    [
        ("VARCHAR COLLATE NOCASE", "", ["a", "B", "b"]),
        ("VARCHAR COLLATE NOACCENT", "", ["a", "e", "é"]),
        ("VARCHAR", "nocase", ["a", "B", "b"]),
    ],
)
def test_tied_strings_equal_under_a_collation_give_one_answer(
    column: str, session: str, values: list[str]
) -> None:
    """Strings a collation holds equal ('b' and 'B') are still different values: a column's
    collation (DESCRIBE shows plain VARCHAR) or the session's default one does not make
    the answer depend on the source order; the greatest by bytes wins."""
    seen = set()
    for order in (values, values[::-1]):
        con = Engine(duckdb.connect(), ":memory:")
        if session:
            con.execute(f"SET default_collation = '{session}'")
        con.execute(f"CREATE TABLE fv (driver_id INT, ts TIMESTAMP, v {column})")
        for v in order:
            con.execute(f"INSERT INTO fv VALUES (1, TIMESTAMP '2024-01-01', '{v}')")
        sel = registry(FeatureView("s", "fv", ("driver",), "ts", ("v",))).select(["s:v"])
        at = T0 + timedelta(hours=1)
        entity = pl.DataFrame({"driver_id": [1], "event_timestamp": [at]})
        for plan in ("asof", "range"):
            got = get_historical_features(con, entity, sel, plan=plan).frame  # type: ignore[arg-type]
            seen.add(got["v"][0])
        sql, _ = latest_sql(con, sel[0], at)
        seen.add(con.execute(f"SELECT __f0 FROM ({sql})").fetchall()[0][0])
    assert seen == {max(values, key=str.encode)}


@pytest.mark.parametrize("plan", ["asof", "range"])
def test_aware_nanosecond_times_of_polars_frames(plan: str) -> None:
    """Polars keeps pandas' aware nanosecond times (DuckDB: TIMESTAMPTZ_NS), in the entity
    frame and in a view: read as UTC instants with their nanoseconds, whatever the
    session's time zone (they were refused as 'not a timestamp')."""
    con = Engine(duckdb.connect(), ":memory:")
    con.execute("SET TimeZone = 'Asia/Kolkata'")
    aware = pl.Datetime("ns", "UTC")
    view = pl.DataFrame(
        {"driver_id": [1, 1], "ts": [minutes(0), minutes(10)], "conv": [1, 2]}
    ).with_columns(pl.col("ts").cast(aware).dt.offset_by("5ns"))
    con.register("fv", view)
    entity = pl.DataFrame(
        {"driver_id": [1, 1, 1], "event_timestamp": [minutes(10), minutes(10), minutes(11)]}
    ).with_columns(
        pl.col("event_timestamp").cast(aware).dt.offset_by(pl.Series(["4ns", "5ns", "0ns"]))
    )
    sel = registry(stats_view(ttl="1h", created=None)).select(["stats:conv"])
    got = get_historical_features(con, entity, sel, plan=plan).frame  # type: ignore[arg-type]
    assert got["conv"].to_list() == [1, 2, 2]
    # the same instants (shown in the session's zone)
    assert got["event_timestamp"].dt.convert_time_zone("UTC").equals(entity["event_timestamp"])


tied_row = st.fixed_dictionaries(
    {
        "driver_id": st.just(1),
        "ts": st.just(minutes(0)),
        "b": st.one_of(st.none(), st.booleans()),
        "s": st.one_of(st.none(), st.text(alphabet="aAzZéÉ\u00ff\U0001f600", max_size=3)),
        "d": st.one_of(st.none(), st.decimals(-5, 5, places=2)),
        "l": st.one_of(st.none(), st.lists(st.integers(-2, 2), max_size=3)),
    }
)


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(tied_row, min_size=1, max_size=6), seed=st.randoms(use_true_random=False))
def test_full_ties_of_many_types_equal_brute_force_in_any_order(
    rows: list[dict[str, Any]], seed: Any
) -> None:
    """Rows equal in keys and time, features of types DuckDB orders in its own way (BOOLEAN,
    text by code point, DECIMAL, lists): the greatest values win, NULL lowest, as a Python
    loop finds them, in any source order, in both plans and the online store's query."""
    features = ["b", "s", "d", "l"]
    want = brute_force(
        [{"driver_id": 1, "event_timestamp": minutes(1)}],
        rows,
        ["driver_id"],
        features,
        ttl=None,
        created=None,
    )[0]
    schema = {
        "driver_id": pl.Int64,
        "ts": pl.Datetime("us"),
        "b": pl.Boolean,
        "s": pl.String,
        "d": pl.Decimal(10, 2),
        "l": pl.List(pl.Int64),
    }
    shuffled = list(rows)
    seed.shuffle(shuffled)
    con = Engine(duckdb.connect(), ":memory:")
    con.register("src", pl.DataFrame(shuffled, schema=schema, orient="row"))
    con.execute("CREATE TABLE fv AS SELECT * FROM src")  # a table keeps the shuffled order
    sel = registry(FeatureView("t", "fv", ("driver",), "ts", tuple(features))).select(["t:*"])
    entity = pl.DataFrame({"driver_id": [1], "event_timestamp": [minutes(1)]})
    for plan in ("asof", "range"):
        got = get_historical_features(con, entity, sel, plan=plan).frame.to_dicts()[0]  # type: ignore[arg-type]
        assert {f: got[f] for f in features} == {f: want[f] for f in features}, plan
    sql, _ = latest_sql(con, sel[0], minutes(1))
    online = con.execute(f"SELECT __f0, __f1, __f2, __f3 FROM ({sql})").fetchall()[0]
    assert list(online) == [want[f] for f in features]
