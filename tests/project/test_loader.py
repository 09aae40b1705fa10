"""Loading a project: model names, headers, dependencies, and every kind of bad input."""

from __future__ import annotations

import pytest

from sqlops.config import load_config
from sqlops.errors import (
    DuplicateModelError,
    ModelParseError,
    SourceError,
    SqlopsError,
    UnknownTableError,
)
from sqlops.project.loader import load_project

from conftest import ProjectFactory


def test_models_are_named_schema_dot_file(orders_project: object) -> None:
    spec = load_project(load_config(orders_project))  # type: ignore[arg-type]
    assert sorted(spec.models) == ["marts.revenue", "marts.top", "stg.orders"]
    assert spec.models["marts.top"].depends_on == ("marts.revenue",)
    assert spec.models["stg.orders"].depends_on == ("raw.orders",)
    assert spec.models["marts.revenue"].tags == ("daily",)
    assert spec.models["marts.revenue"].materialized == "table"
    assert spec.models["stg.orders"].body_line == 2


def test_top_level_files_go_to_main_and_unqualified_refs_resolve_there(
    make_project: ProjectFactory,
) -> None:
    root = make_project({"sql/base.sql": "select 1 as x", "sql/s/b.sql": "select * from base"})
    spec = load_project(load_config(root))
    assert spec.models["s.b"].depends_on == ("main.base",)


def test_unknown_table_suggests_the_close_name(orders_project: object) -> None:
    (orders_project / "sql/marts/bad.sql").write_text(  # type: ignore[operator]
        "-- materialized: table\nselect *\nfrom stg.ordrs\n"
    )
    with pytest.raises(UnknownTableError) as err:
        load_project(load_config(orders_project))  # type: ignore[arg-type]
    assert str(err.value) == (
        "sql/marts/bad.sql:3:6: unknown table stg.ordrs. did you mean stg.orders?"
    )


def test_duplicate_model_names_name_both_files(make_project: ProjectFactory) -> None:
    root = make_project(
        {"sql/a/x.sql": "select 1 as v", "sql/a/y.sql": "-- name: a.x\nselect 2 as v"}
    )
    with pytest.raises(
        DuplicateModelError,
        match=r"sql/a/y.sql: model a.x is defined twice \(also in sql/a/x.sql\)",
    ):
        load_project(load_config(root))


def test_missing_source_file_points_at_the_config_line(make_project: ProjectFactory) -> None:
    root = make_project(
        {"sqlops.toml": 'models = "sql"\n[sources."raw.a"]\npath = "data/nope.csv"\n'}
    )
    with pytest.raises(
        SourceError, match=r"sqlops.toml:2: source raw.a: no file matches 'data/nope.csv'"
    ):
        load_project(load_config(root))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "-- materialised: table\nselect 1 as a",
            "sql/s/m.sql:1: unknown header key 'materialised'. did you mean materialized?",
        ),
        (
            "-- materialized: tabel\nselect 1 as a",
            "sql/s/m.sql:1: materialized: 'tabel' is not one of view, table, incremental",
        ),
        ("-- materialized: incremental\nselect 1 as a", "needs a unique_key or a cursor"),
        ("-- Note: this is just a comment\nselect 1 as a from", "sql/s/m.sql:2"),
    ],
)
def test_bad_headers_and_sql_are_located(
    make_project: ProjectFactory, text: str, fragment: str
) -> None:
    root = make_project({"sql/s/m.sql": text})
    with pytest.raises(ModelParseError) as err:
        load_project(load_config(root))
    assert fragment in str(err.value)


def test_plain_comments_before_the_sql_are_not_header_keys(make_project: ProjectFactory) -> None:
    root = make_project({"sql/s/m.sql": "-- Note: orders only\n-- tags: a, b\nselect 1 as a"})
    model = load_project(load_config(root)).models["s.m"]
    assert model.tags == ("a", "b")
    assert model.body_line == 3


def test_parse_results_are_cached_by_content(make_project: ProjectFactory) -> None:
    root = make_project({"sql/s/m.sql": "select 1 as a", "sql/s/n.sql": "select * from s.m"})
    config = load_config(root)
    load_project(config)
    cache = root / ".sqlops/cache/parse-v4.json"
    assert cache.exists()
    (root / "sql/s/n.sql").write_text("select * from s.m, s.m2")
    (root / "sql/s/m2.sql").write_text("select 2 as b")
    spec = load_project(config)
    assert spec.models["s.n"].depends_on == ("s.m", "s.m2")


def test_python_model_file_that_fails_to_import_names_the_line(
    make_project: ProjectFactory,
) -> None:
    root = make_project({"sql/py/m.py": "import sqlops\n\nx = 1 / 0\n"})
    with pytest.raises(
        ModelParseError,
        match=r"sql/py/m.py:3: importing the python model file failed: ZeroDivisionError",
    ):
        load_project(load_config(root))


@pytest.mark.parametrize(
    ("path", "text", "fragment"),
    [
        (
            "sql/stg/my model.sql",
            "select 1 as x",
            "sql/stg/my model.sql: model name 'stg.my model'",
        ),
        ("sql/stg/drop table x;.sql", "select 1 as x", "model name 'stg.drop table x;'"),
        ("sql/my-schema/a.sql", "select 1 as x", "model name 'my-schema.a'"),
        ("sql/stg/1st.sql", "select 1 as x", "model name 'stg.1st'"),
        ("sql/stg/a.sql", "-- tags: x\n-- name: stg.a+b\nselect 1 as x", "a.sql:2: model name"),
    ],
)
def test_model_names_must_be_identifiers(
    make_project: ProjectFactory, path: str, text: str, fragment: str
) -> None:
    root = make_project({path: text})
    with pytest.raises(ModelParseError, match="letters, digits and _") as err:
        load_project(load_config(root))
    assert fragment in str(err.value)


def test_identifier_model_names_load(make_project: ProjectFactory) -> None:
    root = make_project(
        {
            "sql/_x/skipped.sql": "select 1",
            "sql/s_1/A_b2.sql": "select 1 as x",
            "sql/t.sql": "select 2",
        }
    )
    assert sorted(load_project(load_config(root)).models) == ["main.t", "s_1.a_b2"]


def test_a_model_file_that_is_not_utf8_names_file_and_line(make_project: ProjectFactory) -> None:
    root = make_project({"sql/stg/a.sql": "select 1 as x"})
    (root / "sql/stg/a.sql").write_bytes(b"-- owner: me\nselect 'caf\xe9' as x\n")
    with pytest.raises(SqlopsError, match=r"^sql/stg/a\.sql:2: is not UTF-8 text") as err:
        load_project(load_config(root))
    assert isinstance(err.value.__cause__, UnicodeDecodeError)


def test_windows_line_endings_load_as_before(make_project: ProjectFactory) -> None:
    root = make_project({"sql/stg/a.sql": "select 1 as x"})
    (root / "sql/stg/a.sql").write_bytes(b"-- materialized: table\r\nselect 1 as x\r\n")
    model = load_project(load_config(root)).models["stg.a"]
    assert (model.materialized, model.sql, model.body_line) == ("table", "select 1 as x", 2)


@pytest.mark.parametrize("materialized", ["view", "table"])
def test_a_model_ending_with_semicolon_and_comment_builds_as_duckdb_runs_it(
    make_project: ProjectFactory, materialized: str
) -> None:
    import duckdb

    from sqlops import Project

    body = "select 1 as a, 'x;y' as b -- the b\nunion all select 2, 'z'; -- done\n;\n/* end */\n"
    root = make_project({"sql/s/m.sql": f"-- materialized: {materialized}\n{body}"})
    spec = load_project(load_config(root))
    assert spec.models["s.m"].sql == body[: body.index("; -- done")]
    project = Project(root)
    assert project.build().ok
    expected = duckdb.sql(body).fetchall()
    assert sorted(project.table("s.m").rows()) == sorted(expected)


def test_a_cte_in_one_scope_does_not_hide_the_source_in_another(
    make_project: ProjectFactory,
) -> None:
    """Section 7's repro: the first build used to fail (no dependency on the source)."""
    import duckdb

    from sqlops import Project

    sql = (
        "select a.k, b.r_name from (with region as (select 0 as k) select * from region) as a,"
        " region as b"
    )
    root = make_project(
        {
            "sqlops.toml": '[sources."main.region"]\npath = "data/region.csv"\n',
            "data/region.csv": "r_name\nAFRICA\nASIA\n",
            "sql/m/r.sql": f"-- materialized: table\n{sql}\n",
        }
    )
    project = Project(root)
    assert project.load().models["m.r"].depends_on == ("main.region",)
    assert project.build().ok
    con = duckdb.connect()
    con.execute(f"create table region as select * from read_csv('{root / 'data/region.csv'}')")
    assert sorted(project.table("m.r").rows()) == sorted(con.execute(sql).fetchall())
