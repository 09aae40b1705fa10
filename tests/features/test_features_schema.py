"""Models in the ``features`` schema live beside the feature views' DuckDB views there: a
build keeps them (it used to drop every view of the schema that was no feature view, models
included), and a feature view named like one of them is refused instead of replacing it."""

from __future__ import annotations

import pytest

import sqlops

from conftest import ProjectFactory

FILES = {
    "sqlops.toml": """
        [sources."raw.orders"]
        path = "data/orders.csv"
        [entities.customer]
        join_keys = ["customer_id"]
        [feature_views.spend]
        source = "features.spend_source"
        entities = ["customer"]
        timestamp = "at"
        features = ["total"]
    """,
    "data/orders.csv": "customer_id,amount\n1,5.0\n1,2.0\n2,1.0\n",
    "sql/features/spend_source.sql": """
        -- materialized: table
        select customer_id, sum(amount) as total, timestamp '2026-01-01' as at
        from raw.orders group by customer_id
    """,
    "sql/features/counts.sql": "select customer_id, count(*) as n from raw.orders group by 1\n",
}


def test_models_of_schema_features_survive_the_feature_views(make_project: ProjectFactory) -> None:
    root = make_project(FILES)
    project = sqlops.Project(root)
    project.build().raise_on_error()
    project.build(full_refresh=True).raise_on_error()
    assert project.sql("select sum(n) as n from features.counts")["n"].to_list() == [3]
    assert project.sql("select sum(total) as t from features.spend")["t"].to_list() == [8.0]


def test_a_feature_view_named_like_a_model_is_refused(make_project: ProjectFactory) -> None:
    config = FILES["sqlops.toml"].replace("[feature_views.spend]", "[feature_views.counts]")
    files = {**FILES, "sqlops.toml": config}
    root = make_project(files)
    with pytest.raises(sqlops.ConfigError) as exc:
        sqlops.Project(root).build()
    assert "feature view counts would be the view features.counts" in str(exc.value)
