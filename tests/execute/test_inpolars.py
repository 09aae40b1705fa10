"""Table models that Polars runs (``sqlops.execute.inpolars``) give what DuckDB gives.

Every case is checked against plain DuckDB reading the same CSV, with the macros written out
by hand, and says which engine must have run it: the subset Polars runs, and the SQL it must
leave to DuckDB (where the engines' semantics differ) still giving DuckDB's answer.
"""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from sqlops import ConfigError, Project

from conftest import ProjectFactory


def _csv() -> str:
    rows = ["id,x,n,s"]
    for i in range(1, 2500):
        x = "" if i % 17 == 0 else ("NaN" if i == 1234 else f"{(i * 7919) % 1000 / 8}")
        n = "" if i % 13 == 0 else str(i % 41 - 5)
        s = "" if i % 19 == 0 else "abc"[i % 3]
        rows.append(f"{i},{x},{n},{s}")
    return "\n".join(rows) + "\n"


ZN = "(n::DOUBLE - avg(n::DOUBLE) OVER ()) / nullif(stddev_pop(n::DOUBLE) OVER (), 0)"
ZA = "(a::DOUBLE - avg(a::DOUBLE) OVER ()) / nullif(stddev_samp(a::DOUBLE) OVER (), 0)"
MINMAX = "(x - min(x) OVER ()) / nullif(max(x) OVER () - min(x) OVER (), 0)"
AGGS = (
    "count(*) as c, count(x) as cx, avg(x) as ax, min(x), max(x), stddev_pop(n), "
    "stddev_samp(n) as sd, var_pop(x) as vx, sum(x) as sx, min(s) as ms, avg(n) as an"
)

# name: (model SQL, the same in plain DuckDB, engine that must run it)
CASES: dict[str, tuple[str, str, str]] = {
    "seed zscore": (
        "select x, zscore(n) as nz, s from raw.t where x is not null and n is not null",
        f"select x, {ZN} as nz, s from t where x is not null and n is not null",
        "polars",
    ),
    "zscore_samp in a subquery": (
        "select a, zscore_samp(a) as z from (select x as a from raw.t where x < 1e300) q",
        f"select a, {ZA} as z from (select x as a from t where x < 1e300) q",
        "polars",
    ),
    "minmax with a NaN": (
        "select id, minmax(x) as m from raw.t",
        f"select id, {MINMAX} as m from t",
        "polars",
    ),
    # var_pop over a column with a NaN: DuckDB's answer depends on row order, so DuckDB runs it
    "aggregates over a NaN": (f"select {AGGS} from raw.t", f"select {AGGS} from t", "duckdb"),
    "aggregates": (
        f"select {AGGS} from raw.t where x < 1e300",
        f"select {AGGS} from t where x < 1e300",
        "polars",
    ),
    "aggregates of nothing": (
        f"select {AGGS} from raw.t where id < 0",
        f"select {AGGS} from t where id < 0",
        "polars",
    ),
    "arithmetic and CASE": (
        "select id, x * 2 + 1 as y, n / 2 as h, -x as neg, case when x > 100 then 'big' "
        "when x is null then 'none' else 'small' end as size, case when n > 0 then n else 0.5e0 "
        "end as pos from raw.t",
        "select id, x * 2 + 1 as y, n / 2 as h, -x as neg, case when x > 100 then 'big' "
        "when x is null then 'none' else 'small' end as size, case when n > 0 then n else 0.5e0 "
        "end as pos from t",
        "polars",
    ),
    "comparisons and logic": (
        "select id, x > 50 as gt, s = 'a' as isa, x is distinct from 1.5 as d, "
        "not (n >= 3 or x < 20) as combo, s <> 'b' and n is null as e from raw.t",
        "select id, x > 50 as gt, s = 'a' as isa, x is distinct from 1.5 as d, "
        "not (n >= 3 or x < 20) as combo, s <> 'b' and n is null as e from t",
        "polars",
    ),
    "names in other case": (
        'select ID, X as "Value" from raw.t where N is not null',
        'select ID, X as "Value" from t where N is not null',
        "polars",
    ),
    "casts and star": (
        "select *, n::double as nd, cast(id as bigint) as i2 from raw.t where n > 2",
        "select *, n::double as nd, cast(id as bigint) as i2 from t where n > 2",
        "polars",
    ),
    "integer arithmetic": ("select n + 1 as m from raw.t", "select n + 1 as m from t", "duckdb"),
    "decimal arithmetic": (
        "select n * 1.5 as m from raw.t",
        "select n * 1.5 as m from t",
        "duckdb",
    ),
    # DuckDB sums BIGINT into HUGEINT (kept exact in storage, an Int128 in Polars)
    "sum of integers": ("select sum(n) as t from raw.t", "select sum(n) as t from t", "duckdb"),
    "float to integer": (
        "select x::int as xi from raw.t where x < 1e300",
        "select x::int as xi from t where x < 1e300",
        "duckdb",
    ),
    "group by": (
        "select n, count(*) as c from raw.t group by n",
        "select n, count(*) as c from t group by n",
        "duckdb",
    ),
    "order by and limit": (
        "select id from raw.t order by id desc limit 3",
        "select id from t order by id desc limit 3",
        "duckdb",
    ),
    "only constants": ("select 1 as one from raw.t", "select 1 as one from t", "duckdb"),
    "other functions": ("select upper(s) as u from raw.t", "select upper(s) as u from t", "duckdb"),
}


POLARS_READER = '[engine]\ncsv_reader = "polars"\n[sources."raw.t"]\npath = "data/t.csv"\n'


def _project(make_project: ProjectFactory, models: dict[str, str], engine: str = "") -> Path:
    """The executor reads Polars inputs: the CSV goes through the (opt-in) Polars reader."""
    config = (
        '[engine]\ncsv_reader = "polars"\n' + engine + '[sources."raw.t"]\npath = "data/t.csv"\n'
    )
    files = {"sqlops.toml": config, "data/t.csv": _csv()}
    files |= {
        f"sql/{name.replace('.', '/')}.sql": f"-- materialized: table\n{sql}\n"
        for name, sql in models.items()
    }
    return make_project(files)


def _expected(root: Path, sql: str) -> pl.DataFrame:
    con = duckdb.connect()
    con.execute(f"create view t as select * from read_csv('{root / 'data/t.csv'}')")
    relation = con.sql(sql)
    frame = pl.from_arrow(relation.to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    # Arrow has no 128-bit integers: DuckDB hands HUGEINT over as DECIMAL(38,0)
    huge = [c for c, t in zip(relation.columns, relation.types, strict=True) if t == "HUGEINT"]
    return frame.with_columns(pl.col(huge).cast(pl.Int128))


def _same(got: pl.DataFrame, expected: pl.DataFrame) -> None:
    """Equal as multisets of rows (DuckDB may reorder rows under a window), names, types
    and values (floats to 1e-9 relative), NaN equal to NaN."""
    assert got.schema == expected.schema
    assert_frame_equal(
        got.sort(pl.all(), nulls_last=True), expected.sort(pl.all(), nulls_last=True), rel_tol=1e-9
    )


@pytest.mark.parametrize("case", CASES)
def test_models_give_what_duckdb_gives(make_project: ProjectFactory, case: str) -> None:
    model, reference, engine = CASES[case]
    root = _project(make_project, {"m.result": model})
    project = Project(root)
    result = project.build()
    assert result.ok, [n.error for n in result.nodes]
    node = next(n for n in result.nodes if n.name == "m.result")
    assert node.engine == engine
    _same(project.table("m.result"), _expected(root, reference))


def test_nan_and_empty_aggregates_follow_duckdb(make_project: ProjectFactory) -> None:
    """The corner cases where Polars' defaults differ from SQL: max with a NaN is NaN (Polars
    skips NaN), sum of no rows is NULL (Polars: 0), count is BIGINT (Polars: UInt32)."""
    root = _project(
        make_project,
        {"m.all": f"select {AGGS} from raw.t", "m.none": f"select {AGGS} from raw.t where id < 0"},
    )
    project = Project(root)
    assert project.build().ok
    full, empty = (
        project.table("m.all").row(0, named=True),
        project.table("m.none").row(0, named=True),
    )
    assert math.isnan(full["max(x)"]) and not math.isnan(full["min(x)"])
    assert empty["sx"] is None and empty["c"] == 0 and empty["ax"] is None
    assert project.table("m.none").schema["c"] == pl.Int64


@pytest.mark.parametrize(
    "sql",
    ["select * from raw.t where s is not null", "select count(*) as c, max(s) as m from raw.t"],
)
def test_an_empty_csv_gives_what_duckdb_gives(make_project: ProjectFactory, sql: str) -> None:
    root = make_project(
        {
            "sqlops.toml": POLARS_READER,
            "data/t.csv": "id,x,n,s\n",
            "sql/m/result.sql": f"-- materialized: table\n{sql}\n",
        }
    )
    project = Project(root)
    result = project.build()
    assert result.ok, [n.error for n in result.nodes]
    _same(project.table("m.result"), _expected(root, sql.replace("raw.t", "t")))


def test_a_constant_column_has_no_zscore(make_project: ProjectFactory) -> None:
    """DuckDB's std of a constant column is exactly 0, so ``zscore`` gives NULL; Polars'
    two-pass std leaves a rounding residue (5.6e-17 for 0.3s) that must not turn into
    z-scores of noise."""
    rows = "g,v\n" + "".join(f"{i % 2},0.3\n" for i in range(3000))
    root = make_project(
        {
            "sqlops.toml": POLARS_READER,
            "data/t.csv": rows,
            "sql/m/z.sql": "-- materialized: table\n"
            "select zscore(v) as z, zscore_samp(v) as zs from raw.t\n",
            "sql/m/sd.sql": "-- materialized: table\n"
            "select stddev_pop(v) as sd, var_samp(v) as vs from raw.t\n",
        }
    )
    project = Project(root)
    result = project.build()
    assert {n.engine for n in result.models} == {"polars"}
    z = project.table("m.z")
    assert z.height == 3000 and z["z"].null_count() == 3000 and z["zs"].null_count() == 3000
    assert project.table("m.sd").row(0) == (0.0, 0.0)


def test_models_downstream_read_the_frame_and_match(make_project: ProjectFactory) -> None:
    """A model reading a table Polars computed in the same build (in Polars, or in DuckDB
    over the kept frame) gives what it gives over the stored table."""
    models = {
        "clean.z": "select id, x, zscore(n) as nz, s from raw.t where x < 1e300 and n is not null",
        "marts.stats": "select avg(nz) as m, stddev_pop(x) as sx, count(*) as c from clean.z",
        "marts.by_s": "select s, count(*) as c, avg(x) as ax from clean.z group by s",
    }
    root = _project(make_project, models)
    project = Project(root)
    result = project.build()
    assert result.ok, [n.error for n in result.nodes]
    engines = {n.name: n.engine for n in result.models}
    assert engines == {"clean.z": "polars", "marts.stats": "polars", "marts.by_s": "duckdb"}
    stored = project.sql("select avg(nz) as m, stddev_pop(x) as sx, count(*) as c from clean.z")
    _same(project.table("marts.stats"), stored)
    by_s = project.sql("select s, count(*) as c, avg(x) as ax from clean.z group by s")
    _same(project.table("marts.by_s"), by_s)
    reference = (
        "select avg(nz) as m, stddev_pop(x) as sx, count(*) as c from "
        f"(select id, x, {ZN} as nz from t where x < 1e300 and n is not null)"
    )
    _same(project.table("marts.stats"), _expected(root, reference))


def test_the_catalog_records_the_engine_also_in_an_older_catalog(
    make_project: ProjectFactory,
) -> None:
    """Catalogs written before the engine column existed gain it on the next build."""
    root = _project(make_project, {"m.z": CASES["seed zscore"][0], "m.g": CASES["group by"][0]})
    catalog = root / ".sqlops" / "catalog.duckdb"
    catalog.parent.mkdir(parents=True)
    with duckdb.connect(str(catalog)) as con:  # model_runs as the previous release made it
        con.execute(
            "CREATE TABLE model_runs (run_id VARCHAR NOT NULL, name VARCHAR NOT NULL, "
            "kind VARCHAR NOT NULL, materialized VARCHAR NOT NULL, status VARCHAR NOT NULL, "
            "reason VARCHAR NOT NULL, rows BIGINT, seconds DOUBLE NOT NULL, "
            "fingerprint VARCHAR NOT NULL, error VARCHAR, path VARCHAR)"
        )
    assert Project(root).build().ok
    with duckdb.connect(str(catalog), read_only=True) as con:
        rows = con.execute("select name, engine from model_runs where kind = 'model'").fetchall()
    assert sorted(rows) == [("m.g", "duckdb"), ("m.z", "polars")]


def test_executor_duckdb_turns_it_off(make_project: ProjectFactory) -> None:
    model, reference, _ = CASES["seed zscore"]
    root = _project(make_project, {"m.result": model}, 'executor = "duckdb"\n')
    project = Project(root)
    result = project.build()
    assert [n.engine for n in result.models] == ["duckdb"]
    _same(project.table("m.result"), _expected(root, reference))


def test_unknown_executor_is_a_config_error(make_project: ProjectFactory) -> None:
    root = _project(make_project, {}, 'executor = "spark"\n')
    with pytest.raises(ConfigError, match=r"engine\.executor = 'spark' is not one of auto, duckdb"):
        Project(root)


@pytest.mark.parametrize("reader", ["scan source", "duckdb's polars reader"])
def test_parts_do_not_depend_on_how_the_frame_is_chunked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    """Equal rows give equal parts however Polars happened to chunk them in memory (it
    depends on the engine, the filters and the input), so a rebuild stores nothing new; and
    the parts read back as the frame. Also through DuckDB's own Polars reader, which the
    engine falls back to on a DuckDB without Python scan sources (simulated here: that
    DuckDB cannot be installed next to this one) and which scans Arrow chunks in parallel."""
    from sqlops.execute import scansource
    from sqlops.execute.engine import Engine
    from sqlops.execute.parts import write_frame_parts
    from sqlops.storage.objects import ObjectStore

    if reader != "scan source":
        monkeypatch.setattr(scansource, "_polars_source_class", lambda: None)

    frame = pl.DataFrame({"i": range(600_000), "x": [i / 7 for i in range(600_000)]})
    pieces = [frame.slice(k, 10_000) for k in range(0, frame.height, 10_000)]
    chunked = pl.concat(pieces, rechunk=False)
    assert chunked.n_chunks() == 60 and frame.n_chunks() == 1
    store = ObjectStore(tmp_path / "objects", tmp_path)
    engine = Engine.open(threads=2)
    try:
        parts = write_frame_parts(engine, frame, store, "m.t")
        assert write_frame_parts(engine, chunked, store, "m.t") == parts
    finally:
        engine.close()
    files = [str(store.path(p)) for p in parts]
    with duckdb.connect() as con:
        back = con.sql(f"select * from read_parquet({files})").pl()
    assert_frame_equal(back, frame)


def test_a_value_polars_cannot_read_leaves_the_model_to_duckdb(
    make_project: ProjectFactory,
) -> None:
    """The scan parses ``b`` as DuckDB's sniffed BOOLEAN; Polars cannot parse ``T`` as one,
    so DuckDB (whose reader does) runs the model, with DuckDB's answer."""
    rows = ["v,b"] + [f"{i},{'TF'[i % 2]}" for i in range(3000)]
    root = make_project(
        {
            "sqlops.toml": POLARS_READER,
            "data/t.csv": "\n".join(rows) + "\n",
            "sql/m/result.sql": "-- materialized: table\nselect zscore(v) as z, b from raw.t\n",
        }
    )
    project = Project(root)
    result = project.build()
    assert result.ok, [n.error for n in result.nodes]
    assert [n.engine for n in result.models] == ["duckdb"]
    expected = _expected(root, f"select {ZN.replace('n::', 'v::')} as z, b from t")
    _same(project.table("m.result"), expected)


def test_parse_tree_keys_outside_the_allow_list_refuse_the_sql() -> None:
    """A clause DuckDB adds or renames is refused, never dropped: an unknown key, or a known
    one that must be blank holding something, gives no Polars plan."""
    from sqlops.execute import inpolars
    from sqlops.execute.engine import Engine

    engine = Engine.open()
    sql = "select x * 2.0e0 as y from t where x > 1"
    inputs = {"t": pl.LazyFrame({"x": [1.0, 2.0]})}
    assert inpolars.plan(engine.parse_tree(sql), inputs) is not None
    edits = {
        "a new clause": lambda node: node.update(new_clause={"x": 1}),
        "a renamed WHERE": lambda node: node.update(where=node.pop("where_clause")),
        "a filled QUALIFY": lambda node: node.update(qualify={"class": "CONSTANT"}),
        "a new expression key": lambda node: node["select_list"][0].update(nulls="LAST"),
        "a new table key": lambda node: node["from_table"].update(tablesample=True),
    }
    for what, edit in edits.items():
        tree = engine.parse_tree(sql)
        edit(tree["statements"][0]["node"])
        assert inpolars.plan(tree, inputs) is None, what


SPECIALS = [None, float("nan"), float("inf"), float("-inf"), 0.0, -0.0, 1.5, -2.25, 1e300]
# SQL the executor runs over special values, and (in plain DuckDB over the same frame) the one
# reason it may decline after planning: a standard deviation or variance over NaN or ±inf,
# which DuckDB's running update gives in an order-dependent way
NON_FINITE = "select coalesce(bool_or(not isfinite({})), false) from t{}"
EXECUTOR_SQL = {
    "select x, zscore(x) as z, minmax(y) as m from t": NON_FINITE.format("x", ""),
    "select zscore_samp(y) as z, x from t where x is not null": NON_FINITE.format(
        "y", " where x is not null"
    ),
    f"select {AGGS.replace('(n)', '(i)').replace('(s)', '(x)')} from t": NON_FINITE.format("x", ""),
    "select count(*) as c, avg(x) as a, stddev_samp(x) as s, var_pop(y) as v, max(y) as mx "
    "from t where y > 0": NON_FINITE.format("x) or not isfinite(y", " where y > 0"),
    "select x + y as s, x * 2 as d, -y as n, x / y as q, x >= y as ge, x is distinct from y "
    "as di, case when x > y then x when y is null then 0.5e0 else y end as c from t": "select "
    "false",
    "select i, i / 2 as h, i::double as d, cast(i as bigint) as b, i > 3 and x < 1 as a, "
    "not (i = 2 or x is null) as o from t": "select false",
}


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(SPECIALS), st.sampled_from(SPECIALS), st.integers(-5, 5)),
        max_size=8,
    ),
    constant=st.booleans(),
)
def test_the_executor_gives_what_duckdb_gives_over_special_values(
    rows: list[tuple[float | None, float | None, int]], constant: bool
) -> None:
    """NULL, NaN, ±inf, empty and constant columns: every column's type, NULLs, NaNs and
    infinities equal DuckDB's over the same frame (finite floats to 1e-9: the engines add in
    different orders); the executor leaves a query to DuckDB only for its known reason."""
    from sqlops.execute import inpolars
    from sqlops.execute.engine import Engine

    if constant:
        rows = [(1.5, y, 2) for _, y, _ in rows]
    frame = pl.DataFrame(
        {"x": [r[0] for r in rows], "y": [r[1] for r in rows], "i": [r[2] for r in rows]},
        schema={"x": pl.Float64, "y": pl.Float64, "i": pl.Int64},
    )
    engine = Engine.open()
    engine.register("t", frame)
    for sql, declines in EXECUTOR_SQL.items():
        query = inpolars.plan(engine.parse_tree(sql), {"t": frame.lazy()})
        assert query is not None, sql
        query = inpolars.named(query, engine.output_columns(sql))
        assert query is not None, sql
        got, expected = inpolars.finish(query.collect()), engine.polars(sql)
        with duckdb.connect() as con:
            con.register("t", frame.to_arrow())
            should_decline = con.sql(declines).fetchall()[0][0]
        assert (got is None) == should_decline, (sql, rows)
        if got is None:  # declined for its reason: DuckDB computes it
            continue
        assert got.schema == expected.schema, sql
        assert_frame_equal(got, expected, rel_tol=1e-9, abs_tol=1e-12), sql
