"""The Python API, and the promise that bad input leaves the warehouse as it was."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import sqlops
from sqlops import Project
from sqlops.errors import ExecutionError, SqlopsError, UnknownTableError


def test_sql_on_frames_without_a_project() -> None:
    df = pl.DataFrame({"city": ["Recife", "Natal", "Recife"], "price": [3, 1, 5]})
    other = pd.DataFrame({"city": ["Recife"], "state": ["PE"]})
    got = sqlops.sql(
        "select d.city, o.state, sum(price) as total from d join o using (city) group by all",
        d=df,
        o=other,
    )
    assert got.to_dicts() == [{"city": "Recife", "state": "PE", "total": 8}]


def test_sql_errors_are_sqlops_errors_with_position() -> None:
    with pytest.raises(ExecutionError, match=r"<query>:2:\d+: Binder Error"):
        sqlops.sql("select 1\n, nope from d", d=pl.DataFrame({"a": [1]}))


def test_table_and_sql_read_the_warehouse(orders_project: Path) -> None:
    project = Project(orders_project)
    project.build()
    assert project.table("marts.top").height == 2
    got = project.sql("select count(*) as n from stg.orders where amount > $min", {"min": 6})
    assert got["n"][0] == 2
    with pytest.raises(UnknownTableError, match=r"did you mean marts\.top"):
        project.table("marts.tops")


def test_one_sql_signature_on_the_module_and_the_project(orders_project: Path) -> None:
    """``sql(query, params, *, ref, **frames)`` alike on ``sqlops`` and ``Project``: the
    warehouse or a version, ``$name`` parameters, and frames joined by name."""
    project = Project(orders_project)
    project.build()
    project.commit("v1")
    caps = pl.DataFrame({"customer_id": [10, 30], "cap": [10.0, 20.0]})
    query = (
        "select r.customer_id, r.revenue > c.cap as over from marts.revenue r "
        "join caps c using (customer_id) where r.n >= $n order by 1"
    )
    orders = pl.read_csv(orders_project / "data/orders.csv").drop_nulls(["customer_id", "amount"])
    revenue = orders.group_by("customer_id").agg(pl.col("amount").sum(), pl.len().alias("n"))
    expected = (
        revenue.join(caps, on="customer_id")
        .filter(pl.col("n") >= 1)
        .select("customer_id", (pl.col("amount") > pl.col("cap")).alias("over"))
        .sort("customer_id")
        .rows()
    )
    assert expected == [(10, True), (30, False)]
    calls = [
        lambda: project.sql(query, {"n": 1}, caps=caps),
        lambda: project.sql(query, {"n": 1}, ref="main", caps=caps),
        lambda: sqlops.sql(query, {"n": 1}, project=orders_project, caps=caps),
        lambda: sqlops.sql(query, {"n": 1}, project=orders_project, ref="main", caps=caps),
    ]
    for call in calls:
        assert call().rows() == expected


def test_the_old_project_sql_form_still_works_with_a_warning(orders_project: Path) -> None:
    project = Project(orders_project)
    project.build()
    project.commit("v1")
    with pytest.deprecated_call(match=r"as a dict"):
        got = project.sql("select count(*) as n from stg.orders where amount > $min", min=6)
    assert got["n"][0] == 2
    with pytest.deprecated_call(match="ref="):
        assert project.sql("select count(*) as n from marts.revenue", "main")["n"][0] == 2  # type: ignore[arg-type]


def test_reading_before_any_build_says_what_to_do(orders_project: Path) -> None:
    with pytest.raises(SqlopsError, match="run `sqlops build` first"):
        Project(orders_project).table("marts.top")


def test_lineage_walks_both_ways(orders_project: Path) -> None:
    info = Project(orders_project).lineage("marts.revenue")
    assert info.upstream == {"stg.orders": {"raw.orders": {}}}
    assert info.downstream == {"marts.top": {}}


def test_events_report_every_node(orders_project: Path) -> None:
    events: list[sqlops.Event] = []
    Project(orders_project).build(on_event=events.append)
    assert events[0].kind == "plan" and events[0].total == 4
    finished = {e.name for e in events if e.kind == "finish"}
    assert finished == {"raw.orders", "stg.orders", "marts.revenue", "marts.top"}


def test_public_api_is_explicit() -> None:
    assert sqlops.__all__ == sorted(sqlops.__all__)
    for name in sqlops.__all__:
        assert getattr(sqlops, name) is not None
    with pytest.raises(AttributeError):
        sqlops.nope  # type: ignore[attr-defined]  # noqa: B018


def _snapshot(root: Path) -> dict[str, object]:
    """Every table's content and the stored fingerprints: what must survive bad input."""
    project = Project(root)
    state = project.sql(
        "select name, fingerprint from _sqlops.model_state order by name, built_at"
    ).rows()
    tables = {
        name: hashlib.sha256(project.table(name).sort(pl.all()).write_csv().encode()).hexdigest()
        for name in ("marts.revenue", "marts.top")
    }
    return {"state": state, "tables": tables}


BAD_INPUT = {
    "syntax error": ("sql/marts/top.sql", "select * from marts.revenue where (", "syntax error"),
    "unknown table": ("sql/marts/top.sql", "select * from marts.revnue", "did you mean"),
    "cycle": ("sql/stg/orders.sql", "select * from marts.top", "dependency cycle"),
    "duplicate": ("sql/marts/top2.sql", "-- name: marts.top\nselect 1 as x", "defined twice"),
    "bad config": ("sqlops.toml", "thredas = 2\n", "unknown config key"),
    "missing source": ("data/orders.csv", None, "no file matches"),
    "bad header": ("sql/marts/top.sql", "-- materialized: tabel\nselect 1 as x", "tabel"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_fails_clearly_and_changes_nothing(orders_project: Path, case: str) -> None:
    Project(orders_project).build()
    before = _snapshot(orders_project)
    path, text, fragment = BAD_INPUT[case]
    target = orders_project / path
    if text is None:
        target.unlink()
    else:
        target.write_text(text)
    with pytest.raises(SqlopsError) as err:
        Project(orders_project).build()
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)
    if case == "bad config":
        target.write_text('[sources."raw.orders"]\npath = "data/orders.csv"\n')
    assert _snapshot(orders_project) == before


def test_type_error_in_a_model_is_mapped_to_its_file(orders_project: Path) -> None:
    Project(orders_project).build()
    before = _snapshot(orders_project)
    (orders_project / "sql/marts/top.sql").write_text(
        "-- materialized: table\n"
        "select customer_id,\n       revenue + 'abc' as x\nfrom marts.revenue"
    )
    result = Project(orders_project).build()
    node = next(n for n in result.models if n.name == "marts.top")
    assert node.status == "error"
    assert node.error is not None and node.error.startswith("sql/marts/top.sql:3:")
    assert _snapshot(orders_project) == before


def test_build_at_a_version_does_not_change_the_config_other_threads_see(
    orders_project: Path,
) -> None:
    """``build(at=)`` reads the version's inputs through its own config; a second thread
    using the same project meanwhile still sees the project's sources (today's CSV)."""
    import threading

    project = Project(orders_project)
    project.build()
    v1 = project.commit("v1")
    assert v1 is not None
    csv = orders_project / "data/orders.csv"
    csv.write_text(csv.read_text() + "99,99,1000.0,2026-01-05\n")  # today's inputs differ from v1's
    own = project.config.sources["raw.orders"].path
    seen: set[str] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.add(project.config.sources["raw.orders"].path)
            seen.add(project.load().sources["raw.orders"].location)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert project.build(at=v1.id).ok
    finally:
        done.set()
        reader.join()
    assert seen == {own, str(orders_project / own)}
    # and the build did read v1's rows: no customer 99
    assert 99 not in project.table("marts.revenue")["customer_id"].to_list()
