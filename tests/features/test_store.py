"""The feature store end to end through a real project folder: config -> build ->
``features.*`` views -> training sets (checked against a brute-force loop) -> save, load and
rebuild -> materialize -> online values; and bad input refused in one line, nothing written."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from pitcheck import brute_force

import sqlops

from conftest import ProjectFactory

DRIVER_STATS = """driver_id,event_timestamp,created,conv_rate,acc_rate,avg_daily_trips
1001,2024-01-01 10:00:00,2024-01-01 10:05:00,0.50,0.90,10
1001,2024-01-02 10:00:00,2024-01-02 10:05:00,0.60,0.80,12
1001,2024-01-02 10:00:00,2024-01-02 11:00:00,0.65,0.85,13
1001,2024-01-02 10:00:00,2024-01-02 10:30:00,0.61,0.81,11
1002,2024-01-01 11:00:00,2024-01-01 11:05:00,0.30,0.70,5
1002,2024-01-03 09:00:00,2024-01-05 00:00:00,0.35,,6
1003,2024-01-02 00:00:00,2024-01-02 00:00:00,,0.50,
"""
CONFIG = """
[sources."raw.driver_stats"]
path = "data/driver_stats.csv"

[entities.driver]
join_keys = ["driver_id"]
description = "A driver"

[feature_views.driver_hourly_stats]
source = "raw.driver_stats"
entities = ["driver"]
timestamp = "event_timestamp"
created_timestamp = "created"
ttl = "1d"
features = ["conv_rate", "acc_rate", "avg_daily_trips"]
owner = "ml-team"

[feature_views.driver_trips]
source = "marts.driver_trips"
entities = ["driver"]
timestamp = "event_timestamp"
owner = "ml-team"
description = "Trips per driver, no ttl"

[feature_views.driver_trips.features.trips]
type = "BIGINT"
description = "Average daily trips"
"""
TRIPS_SQL = """
-- materialized: table
select driver_id, event_timestamp, avg_daily_trips * 10 as trips from raw.driver_stats
"""
FEATURES = ["conv_rate", "acc_rate", "avg_daily_trips"]
T = dt.datetime


@pytest.fixture
def project(make_project: ProjectFactory) -> Path:
    return make_project(
        {
            "sqlops.toml": CONFIG,
            "data/driver_stats.csv": DRIVER_STATS,
            "sql/marts/driver_trips.sql": TRIPS_SQL,
        }
    )


@pytest.fixture
def built(project: Path) -> sqlops.Project:
    proj = sqlops.Project(project)
    proj.build().raise_on_error()
    return proj


def entity_frame() -> pl.DataFrame:
    """Rows at ttl edges (exactly t, exactly t - 1d), ties, duplicates and no match."""
    return pl.DataFrame(
        {
            "driver_id": [1001, 1001, 1002, 1001, 1002, 1003, 1004, 1001, 1002, 1001],
            "event_timestamp": [
                T(2024, 1, 2, 10),  # the three tied rows: the latest created wins
                T(2024, 1, 2, 9),
                T(2024, 1, 2, 11),  # exactly t - ttl after the 1002 row
                T(2024, 1, 3, 10),  # exactly at t - ttl of the tie
                T(2024, 1, 3, 9),  # a late-arriving row (created later) still counts
                T(2024, 1, 2, 0),  # NULL features
                T(2024, 1, 2, 0),  # unknown entity
                T(2024, 1, 2, 10),  # duplicate of the first row
                T(2024, 1, 2, 11, 0, 1),  # one second past the ttl
                T(2024, 1, 3, 10, 0, 1),
            ],
        }
    )


def source_rows() -> list[dict[str, Any]]:
    return pl.read_csv(io.StringIO(DRIVER_STATS), try_parse_dates=True).to_dicts()


def plain(project: Path, sql: str) -> list[tuple[Any, ...]]:
    """A query against the warehouse in plain DuckDB (no sqlops in between)."""
    con = duckdb.connect(str(project / ".sqlops/warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def file_bytes(frame: pl.DataFrame) -> bytes:
    """The frame as a Parquet file (Arrow IPC would also carry the undefined bytes under
    NULLs, which differ between two equal frames)."""
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def test_build_creates_feature_views_equal_to_their_source(built: sqlops.Project) -> None:
    root = built.root
    cols = "driver_id, event_timestamp, created, conv_rate, acc_rate, avg_daily_trips"
    got = plain(root, "SELECT * FROM features.driver_hourly_stats ORDER BY ALL")
    assert got == plain(root, f"SELECT {cols} FROM raw.driver_stats ORDER BY ALL")
    names = [r[0] for r in plain(root, "DESCRIBE features.driver_trips")]
    assert names == ["driver_id", "event_timestamp", "trips"]
    kinds = "SELECT DISTINCT temporary FROM duckdb_views() WHERE schema_name = 'features'"
    assert plain(root, kinds) == [(False,)]


def test_build_records_statistics_equal_to_polars(built: sqlops.Project) -> None:
    stats = built.features.get_feature_view("driver_hourly_stats")["stats"]
    frame = pl.read_csv(io.StringIO(DRIVER_STATS))
    for name in FEATURES:
        col = frame[name]
        got = stats[name]
        assert got["rows"] == frame.height
        assert got["nulls"] == col.null_count()
        assert got["null_rate"] == pytest.approx(col.null_count() / frame.height)
        assert got["distinct"] == col.drop_nulls().n_unique() and got["distinct_exact"]
        assert got["mean"] == pytest.approx(col.mean())
        assert got["std"] == pytest.approx(col.std())
        assert got["min"] == pytest.approx(col.min())
        assert got["max"] == pytest.approx(col.max())
        for q in (50, 75, 90, 95, 99):
            assert got[f"p{q}"] == pytest.approx(col.quantile(q / 100, "linear"))
        hist = got["histogram"]
        assert hist["kind"] == "numeric" and len(hist["edges"]) == len(hist["counts"]) + 1
        assert sum(hist["counts"]) == col.drop_nulls().len()


def test_training_set_equals_brute_force(built: sqlops.Project) -> None:
    entity = entity_frame()
    got = built.features.get_historical_features(
        entity, ["driver_hourly_stats:*", "driver_trips:trips"]
    )
    rows = source_rows()
    expected = brute_force(
        entity.to_dicts(),
        rows,
        ["driver_id"],
        FEATURES,
        ttl=dt.timedelta(days=1),
        ts="event_timestamp",
    )
    trips = [
        {**r, "trips": None if r["avg_daily_trips"] is None else r["avg_daily_trips"] * 10}
        for r in rows
    ]
    expected_trips = brute_force(
        entity.to_dicts(),
        trips,
        ["driver_id"],
        ["trips"],
        ttl=None,
        ts="event_timestamp",
        created=None,
    )
    want = [{**a, "trips": b["trips"]} for a, b in zip(expected, expected_trips, strict=True)]
    assert got.to_dicts() == want
    assert got.columns == ["driver_id", "event_timestamp", *FEATURES, "trips"]


def test_saved_training_set_loads_and_rebuilds_byte_for_byte(
    built: sqlops.Project, project: Path
) -> None:
    store = built.features
    frame = store.get_historical_features(entity_frame(), ["driver_hourly_stats:*"])
    saved = store.save_training_set("drivers_v1", frame)
    assert saved["data_version"] in {c.id for c in built.log()}
    # the data moves on: new rows, a rebuild
    changed = DRIVER_STATS.replace("0.65,0.85,13", "0.99,0.99,99")
    (project / "data/driver_stats.csv").write_text(changed)
    built.build().raise_on_error()
    assert not store.get_historical_features(entity_frame(), ["driver_hourly_stats:*"]).equals(
        frame
    )
    assert file_bytes(store.load_training_set("drivers_v1")) == file_bytes(frame)
    assert file_bytes(store.rebuild_training_set("drivers_v1")) == file_bytes(frame)
    # and reading at the recorded version directly gives the same rows
    at = store.get_historical_features(
        entity_frame(), ["driver_hourly_stats:*"], ref=saved["data_version"]
    )
    assert file_bytes(at) == file_bytes(frame)


def test_training_set_from_a_query_records_statistics(built: sqlops.Project) -> None:
    store = built.features
    query = "SELECT 1001 AS driver_id, TIMESTAMP '2024-01-02 12:00:00' AS event_timestamp"
    store.save_training_set("from_query", query, ["driver_hourly_stats:conv_rate"])
    loaded = store.load_training_set("from_query")
    assert loaded.to_dicts() == [
        {"driver_id": 1001, "event_timestamp": T(2024, 1, 2, 12), "conv_rate": 0.65}
    ]
    assert file_bytes(store.rebuild_training_set("from_query")) == file_bytes(loaded)


def test_online_values_equal_the_last_training_row(built: sqlops.Project) -> None:
    store = built.features
    end = T(2024, 1, 2, 12)
    store.materialize(end)
    ids = [1001, 1002, 1003, 1004]
    online = store.get_online_features(
        ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate", "driver_trips:trips"],
        [{"driver_id": i} for i in ids],
    )
    training = store.get_historical_features(
        pl.DataFrame({"driver_id": ids, "event_timestamp": [end] * len(ids)}),
        ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate", "driver_trips:trips"],
    )
    assert online == {
        c: training[c].to_list() for c in ["driver_id", "conv_rate", "acc_rate", "trips"]
    }
    assert (built.root / ".sqlops/online.sqlite").is_file()


def test_python_declarations_register_like_python_models(make_project: ProjectFactory) -> None:
    root = make_project(
        {
            "sqlops.toml": '[sources."raw.driver_stats"]\npath = "data/driver_stats.csv"\n',
            "data/driver_stats.csv": DRIVER_STATS,
            "sql/features.py": """
                import sqlops

                driver = sqlops.Entity("driver", ["driver_id"])
                stats = sqlops.FeatureView(
                    "stats",
                    source="raw.driver_stats",
                    entities=["driver"],
                    timestamp="event_timestamp",
                    features=[sqlops.Feature("conv_rate", "DOUBLE"), "acc_rate"],
                    ttl="1d",
                )
            """,
        }
    )
    proj = sqlops.Project(root)
    proj.build().raise_on_error()
    assert [v["name"] for v in proj.features.list_feature_views()] == ["stats"]
    got = plain(root, "SELECT * FROM features.stats ORDER BY ALL")
    sql = "SELECT driver_id, event_timestamp, conv_rate, acc_rate FROM raw.driver_stats"
    assert got == plain(root, f"{sql} ORDER BY ALL")


def test_statistics_are_reused_when_nothing_changed(built: sqlops.Project, project: Path) -> None:
    first = built.features.get_feature_view("driver_hourly_stats")
    (project / "sql/marts/driver_trips.sql").write_text(TRIPS_SQL.replace("* 10", "* 20"))
    built.build().raise_on_error()
    again = built.features.get_feature_view("driver_hourly_stats")
    assert again["fingerprint"] == first["fingerprint"] and again["stats"] == first["stats"]
    trips = built.features.get_feature_view("driver_trips")["stats"]["trips"]
    assert trips["max"] == 13 * 20


# -- bad input: one line, what and where, nothing written ---------------------------------


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (('ttl = "1d"', 'ttl = "1 day"'), "sqlops.toml:13: feature_views.driver_hourly_stats.ttl"),
        (
            (
                'entities = ["driver"]\ntimestamp = "event_timestamp"\ncreated',
                'entities = ["drivers"]\ntimestamp = "event_timestamp"\ncreated',
            ),
            "sqlops.toml:10: feature_views.driver_hourly_stats.entities names unknown entity "
            "drivers. did you mean driver?",
        ),
        (
            (
                'owner = "ml-team"\n\n[feature_views.driver_trips]',
                'owners = "ml-team"\n\n[feature_views.driver_trips]',
            ),
            "sqlops.toml:15: unknown config key feature_views.driver_hourly_stats.owners. "
            "did you mean owner?",
        ),
        (
            ('source = "raw.driver_stats"', 'source = "raw.driver_stat"'),
            "sqlops.toml:9: feature_views.driver_hourly_stats.source names unknown source or "
            "model raw.driver_stat. did you mean raw.driver_stats?",
        ),
        (
            ('join_keys = ["driver_id"]', "join_keys = []"),
            "sqlops.toml:5: entities.driver has no join_keys",
        ),
        (
            ('type = "BIGINT"', 'kind = "BIGINT"'),
            "sqlops.toml:25: unknown config key feature_views.driver_trips.features.trips.kind",
        ),
    ],
)
def test_bad_config_is_one_line_naming_file_line_and_key(
    project: Path, edit: tuple[str, str], message: str
) -> None:
    config = project / "sqlops.toml"
    text = config.read_text()
    assert edit[0] in text
    config.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(sqlops.SqlopsError) as caught:
        sqlops.Project(project).build()
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    assert not (project / ".sqlops/warehouse.duckdb").exists() or not plain(
        project, "SELECT * FROM duckdb_views() WHERE schema_name = 'features'"
    )


def test_a_column_missing_from_the_source_is_refused_at_build(project: Path) -> None:
    config = project / "sqlops.toml"
    config.write_text(config.read_text().replace('"acc_rate",', '"acc_rat",'))
    with pytest.raises(sqlops.FeatureDefinitionError) as caught:
        sqlops.Project(project).build()
    assert str(caught.value) == (
        "sqlops.toml:8: feature view driver_hourly_stats names column acc_rat, which "
        "raw.driver_stats does not have; did you mean acc_rate?"
    )
    views = plain(project, "SELECT view_name FROM duckdb_views() WHERE schema_name = 'features'")
    assert views == []
    assert sqlops.Project(project).features.get_feature_view("driver_trips")["stats"] == {}


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda s: s.get_historical_features(entity_frame(), ["driver_hourly_stat:conv_rate"]),
            "unknown feature view driver_hourly_stat; did you mean driver_hourly_stats?",
        ),
        (
            lambda s: s.get_historical_features(entity_frame(), ["driver_hourly_stats:conv"]),
            "feature view driver_hourly_stats has no feature conv; did you mean conv_rate?",
        ),
        (
            lambda s: s.get_historical_features(
                entity_frame().drop("driver_id"), ["driver_hourly_stats:conv_rate"]
            ),
            "entity frame has no column driver_id",
        ),
        (
            lambda s: s.get_historical_features(
                entity_frame().rename({"event_timestamp": "ts"}), ["driver_hourly_stats:*"]
            ),
            "entity frame has no timestamp column event_timestamp",
        ),
        (
            lambda s: s.get_historical_features(
                entity_frame().with_columns(pl.col("event_timestamp").cast(pl.String)),
                ["driver_hourly_stats:*"],
            ),
            "entity frame.event_timestamp is VARCHAR, not a timestamp",
        ),
        (
            lambda s: s.get_historical_features(
                entity_frame(), ["driver_hourly_stats:avg_daily_trips", "driver_trips:*"]
            ),
            "",
        ),
        (lambda s: s.load_training_set("nope"), "no training set named nope"),
        (
            lambda s: s.get_online_features(["driver_hourly_stats:conv_rate"], [{"driver_id": 1}]),
            "the online store is empty; run `sqlops features materialize` first",
        ),
        (
            lambda s: s.save_training_set("x", pl.DataFrame({"a": [1]})),
            "save_training_set needs the frame get_historical_features returned",
        ),
    ],
)
def test_bad_requests_are_one_line_errors(built: sqlops.Project, call: Any, message: str) -> None:
    store = built.features
    if not message:  # no clash: a frame with both names is fine, with different names
        assert call(store).height == entity_frame().height
        return
    with pytest.raises(sqlops.FeatureError) as caught:
        call(store)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    assert not (built.root / ".sqlops/online.sqlite").exists()
    assert not (built.root / ".sqlops/training_sets").exists()


def test_duplicate_feature_names_need_full_feature_names(make_project: ProjectFactory) -> None:
    config = (
        CONFIG
        + """
[feature_views.driver_copy]
source = "raw.driver_stats"
entities = ["driver"]
timestamp = "event_timestamp"
features = ["conv_rate"]
"""
    )
    root = make_project(
        {
            "sqlops.toml": config,
            "data/driver_stats.csv": DRIVER_STATS,
            "sql/marts/driver_trips.sql": TRIPS_SQL,
        }
    )
    proj = sqlops.Project(root)
    proj.build().raise_on_error()
    refs = ["driver_hourly_stats:conv_rate", "driver_copy:conv_rate"]
    with pytest.raises(sqlops.UnknownFeatureError, match="comes from both"):
        proj.features.get_historical_features(entity_frame(), refs)
    got = proj.features.get_historical_features(entity_frame(), refs, full_feature_names=True)
    assert got.columns[-2:] == ["driver_hourly_stats__conv_rate", "driver_copy__conv_rate"]


def test_config_lists_the_feature_store(project: Path) -> None:
    values = sqlops.Project(project).config.to_dict()
    assert list(values["entities"]["driver"]["join_keys"]) == ["driver_id"]
    assert values["feature_views"]["driver_hourly_stats"]["ttl"] == 86400
    json.dumps(values)


def test_removed_views_are_dropped_from_the_warehouse(built: sqlops.Project, project: Path) -> None:
    config = project / "sqlops.toml"
    text = config.read_text()
    config.write_text(text[: text.index("[feature_views.driver_trips]")])
    sqlops.Project(project).build().raise_on_error()
    listed = "SELECT view_name FROM duckdb_views() WHERE schema_name = 'features'"
    assert plain(project, listed) == [("driver_hourly_stats",)]
    config.write_text(text[: text.index("[feature_views.driver_hourly_stats]")])
    sqlops.Project(project).build().raise_on_error()
    assert plain(project, listed) == []


def test_pandas_frames_and_date_ranges_are_saved_and_rebuilt(built: sqlops.Project) -> None:
    store = built.features
    frame = store.get_historical_features(entity_frame().to_pandas(), ["driver_hourly_stats:*"])
    assert frame.equals(store.get_historical_features(entity_frame(), ["driver_hourly_stats:*"]))
    store.save_training_set("from_pandas", frame)
    assert file_bytes(store.rebuild_training_set("from_pandas")) == file_bytes(frame)
    ranged = store.get_historical_features(
        None, ["driver_hourly_stats:conv_rate"], start_date=T(2024, 1, 1), end_date=T(2024, 1, 3)
    )
    assert ranged.height == 4  # distinct (driver, event time) in the range
    store.save_training_set("ranged", ranged)
    assert file_bytes(store.rebuild_training_set("ranged")) == file_bytes(ranged)
    open_ended = store.get_historical_features(
        None, ["driver_hourly_stats:conv_rate"], start_date=T(2024, 1, 1)
    )
    with pytest.raises(sqlops.FeatureError, match="only with an explicit end_date"):
        store.save_training_set("open", open_ended)


def test_a_training_set_saved_at_a_checked_out_tag_records_that_version(
    built: sqlops.Project,
) -> None:
    built.commit("first build")
    built.tag("v1")
    built.checkout("v1")
    store = sqlops.Project(built.root).features
    frame = store.get_historical_features(entity_frame(), ["driver_hourly_stats:*"])
    saved = store.save_training_set("at_v1", frame)
    assert saved["data_version"] == built.versions.resolve("v1")
    assert file_bytes(store.rebuild_training_set("at_v1")) == file_bytes(frame)


def test_a_table_name_reads_like_the_same_rows_as_a_query(make_project: ProjectFactory) -> None:
    """Training sets, saved sets and fitted transforms take a table name (one named by a
    keyword, ``marts.order``) wherever they take a query, and read the same rows."""
    root = make_project(
        {
            "sqlops.toml": CONFIG,
            "data/driver_stats.csv": DRIVER_STATS,
            "sql/marts/driver_trips.sql": TRIPS_SQL,
            "sql/marts/order.sql": "-- materialized: table\nselect 1001 as driver_id, "
            "timestamp '2024-01-02 12:00:00' as event_timestamp\n",
        }
    )
    proj = sqlops.Project(root)
    proj.build().raise_on_error()
    store = proj.features
    refs = ["driver_hourly_stats:conv_rate"]
    query = "SELECT 1001 AS driver_id, TIMESTAMP '2024-01-02 12:00:00' AS event_timestamp"
    want = store.get_historical_features(query, refs)
    assert store.get_historical_features("marts.order", refs).equals(want)
    store.save_training_set("by_name", "marts.order", refs)
    assert store.load_training_set("by_name").equals(want)
    fitted = store.fit_transform("t", "marts.order", {"driver_id": "z_score"})
    assert fitted.columns == ["driver_id", "event_timestamp"]
    assert store.transform("t", "marts.order").equals(fitted)
