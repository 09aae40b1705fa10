"""Selectors: names, globs, graph operators, tags, paths, exclusion."""

from __future__ import annotations

from pathlib import Path

import pytest

from sqlops import Project
from sqlops.errors import SelectionError


@pytest.mark.parametrize(
    ("select", "exclude", "expected"),
    [
        ((), (), {"stg.orders", "marts.revenue", "marts.top"}),
        (("marts.revenue",), (), {"marts.revenue"}),
        (("revenue",), (), {"marts.revenue"}),
        (("+marts.revenue",), (), {"stg.orders", "marts.revenue"}),
        (("stg.orders+",), (), {"stg.orders", "marts.revenue", "marts.top"}),
        (("raw.orders+",), (), {"stg.orders", "marts.revenue", "marts.top"}),
        (("tag:daily",), (), {"marts.revenue"}),
        (("path:sql/marts",), (), {"marts.revenue", "marts.top"}),
        (("marts.*",), (), {"marts.revenue", "marts.top"}),
        (("stg.orders+",), ("marts.top",), {"stg.orders", "marts.revenue"}),
        (("stg.orders marts.top",), (), {"stg.orders", "marts.top"}),
    ],
)
def test_selection(
    orders_project: Path, select: tuple[str, ...], exclude: tuple[str, ...], expected: set[str]
) -> None:
    plan = Project(orders_project).plan(select, exclude)
    assert {n.name for n in plan.models} == expected


@pytest.mark.parametrize(
    ("selector", "fragment"),
    [
        ("marts.revenu", "did you mean marts.revenue?"),
        ("tag:dayly", "did you mean daily?"),
        ("path:sql/mart", "matches no path"),
    ],
)
def test_selector_that_matches_nothing_is_an_error(
    orders_project: Path, selector: str, fragment: str
) -> None:
    with pytest.raises(SelectionError, match=fragment):
        Project(orders_project).plan([selector])
