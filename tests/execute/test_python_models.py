"""Python models take part in the DAG: LazyFrames in, a frame out, errors located."""

from __future__ import annotations

import polars as pl

from sqlops import Project

from conftest import ProjectFactory

PY_MODEL = '''
import polars as pl
import sqlops


@sqlops.model(inputs=["s.base"], materialized="table")
def enriched(base: pl.LazyFrame) -> pl.LazyFrame:
    """Base rows with the square of x."""
    return base.with_columns((pl.col("x") ** 2).alias("x2"))
'''


def test_python_model_between_sql_models(make_project: ProjectFactory) -> None:
    root = make_project(
        {
            "sql/s/base.sql": "-- materialized: table\nselect range as x from range(5)",
            "sql/s/py_models.py": PY_MODEL,
            "sql/s/total.sql": "-- materialized: table\nselect sum(x2) as total from s.enriched",
        }
    )
    project = Project(root)
    spec = project.load()
    assert spec.models["s.enriched"].depends_on == ("s.base",)
    assert spec.models["s.total"].depends_on == ("s.enriched",)
    assert spec.models["s.enriched"].description == "Base rows with the square of x."
    assert project.build().ok
    assert project.table("s.total")["total"][0] == sum(x * x for x in range(5))
    assert project.plan().models[1].action == "skip"


def test_editing_the_python_file_reruns_the_model(make_project: ProjectFactory) -> None:
    root = make_project(
        {"sql/s/base.sql": "select range as x from range(3)", "sql/s/py_models.py": PY_MODEL}
    )
    project = Project(root)
    project.build()
    path = root / "sql/s/py_models.py"
    path.write_text(path.read_text().replace("** 2", "** 3"))
    assert {n.name: n.reason for n in project.plan().models}["s.enriched"] == "SQL changed"
    project.build()
    assert project.table("s.enriched").sort("x")["x2"].to_list() == [0, 1, 8]


def test_python_model_error_points_at_the_user_line(make_project: ProjectFactory) -> None:
    bad = PY_MODEL.replace(
        "return base.with_columns", 'raise ValueError("boom")\n    return base.with_columns'
    )
    root = make_project({"sql/s/base.sql": "select 1 as x", "sql/s/py_models.py": bad})
    result = Project(root).build()
    node = next(n for n in result.models if n.name == "s.enriched")
    assert node.status == "error"
    line = bad.lstrip("\n").splitlines().index('    raise ValueError("boom")') + 1
    assert node.error == f"sql/s/py_models.py:{line}: python model raised ValueError: boom"


def test_python_model_returning_a_non_frame_is_rejected(make_project: ProjectFactory) -> None:
    bad = PY_MODEL.replace('return base.with_columns((pl.col("x") ** 2).alias("x2"))', "return 42")
    root = make_project({"sql/s/base.sql": "select 1 as x", "sql/s/py_models.py": bad})
    node = next(n for n in Project(root).build().models if n.name == "s.enriched")
    assert node.status == "error"
    assert "python model returned int" in (node.error or "")
    assert "return a Polars DataFrame" in (node.error or "")


def test_python_model_can_return_pandas(make_project: ProjectFactory) -> None:
    code = PY_MODEL.replace(
        'return base.with_columns((pl.col("x") ** 2).alias("x2"))',
        "return base.collect().to_pandas().assign(x2=lambda d: d.x * 10)",
    )
    root = make_project({"sql/s/base.sql": "select 1 as x", "sql/s/py_models.py": code})
    project = Project(root)
    assert project.build().ok
    assert project.table("s.enriched").to_dicts() == [{"x": 1, "x2": 10}]
    assert isinstance(project.table("s.enriched"), pl.DataFrame)


def test_models_from_a_configured_module(make_project: ProjectFactory) -> None:
    root = make_project(
        {
            "sqlops.toml": 'python_models = ["mypkg.features"]\n',
            "mypkg/__init__.py": "",
            "mypkg/features.py": PY_MODEL.replace("inputs=[", 'name="feat.enriched", inputs=['),
            "sql/s/base.sql": "select range as x from range(4)",
        }
    )
    project = Project(root)
    assert project.build().ok
    assert project.table("feat.enriched").sort("x")["x2"].to_list() == [0, 1, 4, 9]


def test_python_view_models_are_refused(make_project: ProjectFactory) -> None:
    import pytest

    from sqlops.errors import ModelParseError

    root = make_project(
        {
            "sql/s/base.sql": "select 1 as x",
            "sql/s/py_models.py": PY_MODEL.replace('materialized="table"', 'materialized="view"'),
        }
    )
    with pytest.raises(ModelParseError, match=r"py_models.py:\d+: python model enriched cannot"):
        Project(root).plan()
