"""The DAG: stable topological order and cycles named in the error."""

from __future__ import annotations

import pytest

from sqlops import Project
from sqlops.errors import CycleError
from sqlops.plan.dag import Dag

from conftest import ProjectFactory


def test_order_puts_every_parent_first_and_breaks_ties_by_name() -> None:
    dag = Dag.from_edges({"d": ["b", "c"], "c": ["a"], "b": ["a"], "a": [], "e": []})
    assert dag.order == ("a", "b", "c", "d", "e")
    assert dag.ancestors("d") == {"a", "b", "c"}
    assert dag.descendants("a") == {"b", "c", "d"}


def test_cycle_error_names_the_loop() -> None:
    with pytest.raises(CycleError) as err:
        Dag.from_edges({"a": ["c"], "b": ["a"], "c": ["b"], "d": ["a"]})
    assert err.value.cycle[0] == err.value.cycle[-1]
    assert set(err.value.cycle) == {"a", "b", "c"}
    assert "dependency cycle: " in str(err.value)


def test_models_reading_each_other_fail_to_plan(make_project: ProjectFactory) -> None:
    root = make_project({"sql/s/a.sql": "select * from s.b", "sql/s/b.sql": "select * from s.a"})
    with pytest.raises(CycleError, match=r"dependency cycle: s\.(a|b) -> s\.(a|b) -> s\.(a|b)"):
        Project(root).plan()


def test_a_model_reading_itself_is_a_cycle(make_project: ProjectFactory) -> None:
    root = make_project({"sql/s/a.sql": "select * from s.a"})
    with pytest.raises(CycleError, match=r"s\.a -> s\.a"):
        Project(root).plan()
