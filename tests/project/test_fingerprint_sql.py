"""The SQL part of a model's fingerprint changes whenever DuckDB could read the SQL
differently, and only layout and comments leave it alone.

The oracle is DuckDB's own parser (``json_serialize_sql``, source positions removed): two
texts it parses differently, or that it accepts and rejects, must fingerprint differently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlops.errors import ModelParseError
from sqlops.project.parse import analyze

BASE = "select a, b as \"B\", 'x' || c from t where x = 1 and s = 'it''s' order by 1"
_CON = duckdb.connect()


def _duckdb_tree(sql: str) -> Any:
    """DuckDB's parse of the text, without source positions (error text kept)."""
    out = json.loads(_CON.execute("select json_serialize_sql(?)", [sql]).fetchone()[0])
    if out.get("error"):
        return ["error", out.get("error_message")]
    return _strip(out)


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("query_location")}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _fingerprint(sql: str) -> str:
    return analyze(sql, path=Path("m.sql")).fingerprint


@pytest.mark.parametrize(
    "edited",
    [
        "select a,, b as \"B\", 'x' || c from t where x = 1 and s = 'it''s' order by 1",
        "select a, b as \"b\", 'x' || c from t where x = 1 and s = 'it''s' order by 1",
        "select a, b as \"B\", 'X' || c from t where x = 1 and s = 'it''s' order by 1",
        "select a, b as \"B\", 'x' || c from t where x = 1.0 and s = 'it''s' order by 1",
        "select a, b as \"B\", 'x' || c from t where x = 1 and s = 'it''s ' order by 1",
        "select a, b as \"B\", 'x' || c from t where x = 1 and s = 'it''s' order by 1 desc",
        "select a, b as \"B\", 'x' || c from t where x = 1 and s = 'it''s' order by 2",
        "select a, b as \"B\", 'x' || c from t where x = -1 and s = 'it''s' order by 1",
        "select a, b as \"B\", 'x' || c from t where x = 1 or s = 'it''s' order by 1",
    ],
)
def test_every_edit_duckdb_can_see_changes_the_fingerprint(edited: str) -> None:
    assert _duckdb_tree(edited) != _duckdb_tree(BASE)  # the edit is visible to DuckDB
    assert _fingerprint(edited) != _fingerprint(BASE)


@pytest.mark.parametrize(
    "edited",
    [
        "select  a, b as \"B\", 'x' || c\n   from t where x = 1 and s = 'it''s' order by 1",
        "select a, b as \"B\", 'x' || c from t where x = 1 and s = 'it''s' order by 1;",
        "select a, b as \"B\", 'x' || c from t where x = 1 and s = 'it''s' order by 1; -- done",
        "select a, b as \"B\", 'x' || c from t where x = 1 and s = 'it''s' order by 1;;\n\n",
        "-- header\nselect a,\n  b as \"B\",  -- the b\n  'x'||c\nfrom t\n"
        "where x=1 and s='it''s' /* keep */ order by 1",
        "select a , b as \"B\" , 'x' || c from t where x = 1 and s = 'it''s' order by 1 ",
    ],
)
def test_layout_and_comments_keep_the_fingerprint(edited: str) -> None:
    assert _duckdb_tree(edited) == _duckdb_tree(BASE)
    assert _fingerprint(edited) == _fingerprint(BASE)


_EDIT_CHARS = st.sampled_from(list(" \n,;'\"-/*+=()xX1.e:|"))
_BASES = [
    BASE,
    "select x'ff' as b, e'a\\nb' as e, 'a'\n'b' as s, 1.5 as n, - -1 as m from t",
    "with r as (select * from t where a <> 1) select a+-b, a::int, [1, 2][1] from r -- end",
]


@settings(max_examples=300, deadline=None)
@given(
    base=st.sampled_from(_BASES),
    position=st.floats(min_value=0, max_value=1),
    edit=st.one_of(st.tuples(st.just("insert"), _EDIT_CHARS), st.just(("delete", ""))),
)
def test_random_edits_duckdb_can_see_change_the_fingerprint(
    base: str, position: float, edit: tuple[str, str]
) -> None:
    at = int(position * len(base))
    kind, char = edit
    edited = base[:at] + char + base[at:] if kind == "insert" else base[:at] + base[at + 1 :]
    try:
        before, after = _fingerprint(base), _fingerprint(edited)
    except ModelParseError:
        return  # refused at load time: the user sees the error instead
    if _duckdb_tree(edited) != _duckdb_tree(base):
        assert before != after, edited
