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
    got = project.sql("select count(*) as n from stg.orders where amount > $min", min=6)
    assert got["n"][0] == 2
    with pytest.raises(UnknownTableError, match=r"did you mean marts\.top"):
        project.table("marts.tops")


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
