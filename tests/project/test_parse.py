"""Dependency inference: golden cases in fixtures/dependencies.sql."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sqlops.errors import ModelParseError
from sqlops.macros import TABLE_MACROS
from sqlops.project.parse import analyze, column_sources

FIXTURES = Path(__file__).parent / "fixtures" / "dependencies.sql"


def _cases() -> list[tuple[str, str, list[str], list[str]]]:
    """Blocks of ``-- title:``, SQL, ``-- tables:`` and optional ``-- files:`` lines."""
    cases = []
    for block in re.split(r"\n(?=-- title:)", FIXTURES.read_text().strip()):
        lines = block.splitlines()
        title = lines[0].removeprefix("-- title:").strip()
        meta = {ln.split(":", 1)[0][3:]: ln.split(":", 1)[1] for ln in lines if ln[:3] == "-- "}
        sql = "\n".join(ln for ln in lines[1:] if not ln.startswith("-- "))
        split = [x.strip() for x in meta.get("tables", "").split(",") if x.strip()]
        files = [x.strip() for x in meta.get("files", "").split(",") if x.strip()]
        cases.append((title, sql, split, files))
    return cases


@pytest.mark.parametrize(("title", "sql", "tables", "files"), _cases(), ids=lambda v: str(v)[:40])
def test_dependencies_match_golden(
    title: str, sql: str, tables: list[str], files: list[str]
) -> None:
    info = analyze(sql, path=Path("m.sql"), table_macros=TABLE_MACROS)
    assert [t.name for t in info.tables] == sorted(tables), title
    assert list(info.files) == sorted(files), title


def test_table_positions_point_into_the_file() -> None:
    info = analyze("select *\nfrom a\njoin stg.b using (id)", path=Path("m.sql"), body_line=4)
    positions = {t.name: (t.line, t.col) for t in info.tables}
    assert positions["stg.b"][0] == 6
    assert positions["a"][0] == 5


@pytest.mark.parametrize(
    ("sql", "where", "message"),
    [
        ("select a,\nfrom t where (", "sql/x/m.sql:4:14:", "syntax error near '('"),
        ("select 1; select 2", "sql/x/m.sql:3:", "found 2 statements"),
        ("select 1;\n-- more\nselect 2;", "sql/x/m.sql:5:", "found 2 statements"),
        ("; select 1", "sql/x/m.sql:3:", "found ';' before it"),
        ("-- nothing\n;", "sql/x/m.sql:3:", "no SQL"),
        ("insert into t values (1)", "sql/x/m.sql:3:", "must be one SELECT"),
        ("", "sql/x/m.sql:3:", "no SQL"),
    ],
)
def test_bad_sql_names_file_line_and_col(sql: str, where: str, message: str) -> None:
    with pytest.raises(ModelParseError) as err:
        analyze(sql, path=Path("sql/x/m.sql"), body_line=3)
    text = str(err.value)
    assert text.startswith(where)
    assert message in text
    assert "\n" not in text


@pytest.mark.parametrize(
    "tail",
    [";", "; -- done", ";\n-- done\n", ";;\n\n", " -- done\n;\n/* end */", ";\n\t \n", ""],
)
def test_a_trailing_semicolon_and_comments_end_the_statement(tail: str) -> None:
    sql = "select 1 as a -- one\n, 2 as b"
    info = analyze(sql + tail, path=Path("m.sql"))
    assert (sql + tail)[: info.end] == sql
    assert info.fingerprint == analyze(sql, path=Path("m.sql")).fingerprint


SHOP = {
    "main.orders": {"id": "INT", "customer_id": "INT", "amount": "DOUBLE", "status": "VARCHAR"},
    "raw.customers": {"id": "INT", "Name": "VARCHAR", "region": "VARCHAR"},
}


@pytest.mark.parametrize(
    ("sql", "values", "filters"),
    [
        (
            "select o.amount * 2 as amt, c.name from orders o join raw.customers c "
            "on c.id = o.customer_id where o.status <> 'x'",
            {"amt": [("main.orders", "amount")], "name": [("raw.customers", "name")]},
            [("main.orders", "customer_id"), ("main.orders", "status"), ("raw.customers", "id")],
        ),
        (
            "with big as (select * from orders where amount > 10) select region, count(*) as n "
            "from big join raw.customers c on c.id = big.customer_id group by region",
            {"region": [("raw.customers", "region")], "n": []},
            [
                ("main.orders", "amount"),
                ("main.orders", "customer_id"),
                ("raw.customers", "id"),
                ("raw.customers", "region"),
            ],
        ),
        (
            "select id, row_number() over (order by amount) as rn from deduplicate('orders') "
            "qualify rn <= 2",
            {"id": [("main.orders", "id")], "rn": [("main.orders", "amount")]},
            [("main.orders", "*"), ("main.orders", "amount")],
        ),
        (
            "select * from orders where customer_id in (select id from raw.customers) "
            "order by amount limit 3",
            {c: [("main.orders", c)] for c in SHOP["main.orders"]},
            [("main.orders", "amount"), ("main.orders", "customer_id"), ("raw.customers", "id")],
        ),
    ],
    ids=["join-where", "cte-group", "macro-qualify", "in-subquery-limit"],
)
def test_column_hop_names_value_and_filter_inputs(
    sql: str, values: dict[str, list[tuple[str, str]]], filters: list[tuple[str, str]]
) -> None:
    targets = {"orders": "main.orders", "raw.customers": "raw.customers"}
    hop = column_sources(sql, targets=targets, schema=SHOP, table_macros=TABLE_MACROS)
    assert hop.values == values
    assert hop.filters == filters
