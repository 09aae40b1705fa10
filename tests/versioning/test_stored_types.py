"""Every DuckDB type survives storage: a table model, an incremental model, a Python model's
frame and a copied DuckDB source read back, through their views in the warehouse and through
every version of them, with exactly the types and values plain DuckDB gives for the same
SELECT. The types come from DuckDB itself (``duckdb_types()``), so a type a new DuckDB adds
fails ``test_every_duckdb_type_has_a_case`` until it gets a case here.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

import sqlops
from sqlops.execute.materialize import quote

from conftest import ProjectFactory

# DuckDB's logical type -> (the column's type, SQL literals of values to store). Extremes
# first; every column also gets a NULL row.
CASES: dict[str, tuple[str, list[str]]] = {
    "BOOLEAN": ("BOOLEAN", ["true", "false"]),
    "TINYINT": ("TINYINT", ["-128", "127"]),
    "SMALLINT": ("SMALLINT", ["-32768", "32767"]),
    "INTEGER": ("INTEGER", ["-2147483648", "2147483647"]),
    "BIGINT": ("BIGINT", ["-9223372036854775808", "9223372036854775807"]),
    "HUGEINT": (
        "HUGEINT",
        ["-170141183460469231731687303715884105727 - 1", "170141183460469231731687303715884105727"],
    ),
    "UTINYINT": ("UTINYINT", ["0", "255"]),
    "USMALLINT": ("USMALLINT", ["0", "65535"]),
    "UINTEGER": ("UINTEGER", ["0", "4294967295"]),
    "UBIGINT": ("UBIGINT", ["0", "18446744073709551615"]),
    "UHUGEINT": ("UHUGEINT", ["0", "340282366920938463463374607431768211455"]),
    "FLOAT": ("FLOAT", ["'nan'", "'-inf'", "-0.0", "3.4028235e38", "1e-45"]),
    "DOUBLE": ("DOUBLE", ["'nan'", "'inf'", "-0.0", "1.7976931348623157e308", "5e-324"]),
    "DECIMAL": ("DECIMAL(38,10)", ["-9999999999999999999999999999.9999999999", "0.0000000001"]),
    "VARCHAR": ("VARCHAR", ["''", "'é\n\"x''y'", "'\\x00'"]),
    "JSON": ("JSON", ["'{\"a\": [1, 2.5, null]}'", "'\"s\"'"]),
    "BLOB": ("BLOB", ["'\\x00\\xFF'::BLOB", "''::BLOB"]),
    "BIT": ("BIT", ["'0'", "'1010101010101010101'"]),
    "BIGNUM": ("BIGNUM", ["'-' || repeat('9', 80)", "'1' || repeat('0', 50)"]),
    "DATE": ("DATE", ["'0001-01-01'", "'9999-12-31'", "'infinity'", "'-infinity'"]),
    "TIME": ("TIME", ["'00:00:00'", "'23:59:59.999999'"]),
    "TIME_NS": ("TIME_NS", ["'23:59:59.999999999'", "'00:00:00.000000001'"]),
    "TIME WITH TIME ZONE": (
        "TIME WITH TIME ZONE",
        ["'12:34:56.123456+15:59:59'", "'00:00:00-15:59:59'", "'24:00:00+00'"],
    ),
    "TIMESTAMP": ("TIMESTAMP", ["'1677-09-22 00:00:00'", "'2262-04-11 23:47:16.854775'"]),
    "TIMESTAMP_S": ("TIMESTAMP_S", ["'2020-01-02 03:04:05'", "'-infinity'"]),
    "TIMESTAMP_MS": ("TIMESTAMP_MS", ["'2020-01-02 03:04:05.123'"]),
    "TIMESTAMP_NS": ("TIMESTAMP_NS", ["'2020-01-02 03:04:05.123456789'"]),
    "TIMESTAMP WITH TIME ZONE": ("TIMESTAMPTZ", ["'2020-01-02 03:04:05.123456+05:30'"]),
    "TIMESTAMPTZ_NS": ("TIMESTAMPTZ_NS", ["'2020-01-02 03:04:05.123456789+00'"]),
    "INTERVAL": (
        "INTERVAL",
        [
            "INTERVAL '1 month -2 days -5 microseconds'",
            "to_months(2147483647) + to_days(-2147483648) + to_microseconds(9223372036854775807)",
        ],
    ),
    "UUID": (
        "UUID",
        ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'"],
    ),
    "ENUM": ("ENUM('a', 'it''s', 'z,y')", ["'it''s'", "'z,y'"]),
    "LIST": ("HUGEINT[]", ["[170141183460469231731687303715884105727, NULL]", "[]"]),
    "ARRAY": ("INTERVAL[2]", ["[INTERVAL '1 microsecond', NULL]"]),
    "STRUCT": (
        "STRUCT(e ENUM('x', 'y'), \"t z\" TIME WITH TIME ZONE, hugeint UHUGEINT, b BIT)",
        [
            "{'e': 'y', 't z': '01:02:03+04', 'hugeint': 340282366920938463463374607431768211455, "
            "'b': '101'}"
        ],
    ),
    "MAP": ("MAP(ENUM('x', 'y'), HUGEINT)", ["MAP {'y': 170141183460469231731687303715884105727}"]),
    "UNION": (
        "UNION(h HUGEINT, i INTERVAL, s VARCHAR)",
        [
            "union_value(h := 170141183460469231731687303715884105727::HUGEINT)",
            "union_value(i := INTERVAL '1 month 1 microsecond')",
            "union_value(s := 'x')",
        ],
    ),
    "VARIANT": ("VARIANT", ["1::VARIANT", "[1, 2]::VARIANT", "'s'::VARIANT"]),
    "GEOMETRY": ("GEOMETRY", ["'POINT(1 2)'", "'LINESTRING(0 0, 1 1)'"]),
    "NULL": ('"NULL"', ["NULL"]),
}
# Logical types duckdb_types() lists that no column can have.
NOT_COLUMN_TYPES = {
    "TUPLE": "a row of a table function's input, not a value type",
    "TYPE": "a type as a value (for type functions), not storable",
}
# Nested cases that need more than one level of restoring.
EXTRA: dict[str, tuple[str, list[str]]] = {
    "list_of_unions": ("UNION(t TIME WITH TIME ZONE, n INTEGER)[]", ["[union_value(n := 1)]"]),
    "struct_in_list": ("STRUCT(a TIMESTAMP_S[3])[]", ["[{'a': ['2020-01-01', NULL, NULL]}]"]),
}


def _columns() -> dict[str, tuple[str, list[str]]]:
    named = {f"c_{k.lower().replace(' ', '_')}": v for k, v in CASES.items()}
    return named | EXTRA


def _select(columns: dict[str, tuple[str, list[str]]], rows: int | None = None) -> str:
    """One row per value (a column with fewer values repeats its first), then a NULL row."""
    height = max(len(values) for _, values in columns.values()) if rows is None else rows
    lines = []
    for i in range(height + 1):
        items = [str(i)]
        for kind, values in columns.values():
            value = "NULL" if i == height else values[i] if i < len(values) else values[0]
            items.append(f"CAST({value} AS {kind})" if kind != '"NULL"' else value)
        lines.append("(" + ", ".join(items) + ")")
    names = ", ".join(["id", *(f'"{c}"' for c in columns)])
    return "select * from (values\n" + ",\n".join(lines) + f"\n) as t({names})"


def _seen(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[list[Any], list[Any]]:
    """Column names and types, and every value as DuckDB's text, ordered by id."""
    described = con.execute(f"DESCRIBE {relation}").fetchall()
    types = [(row[0], row[1]) for row in described]
    text = ", ".join(f"CAST({quote(name)} AS VARCHAR)" for name, _ in types)
    values = con.execute(f"SELECT {text} FROM {relation} ORDER BY id").fetchall()
    return types, values


def _by_column(types: list[Any], values: list[Any]) -> dict[str, tuple[str, list[Any]]]:
    return {name: (kind, [row[i] for row in values]) for i, (name, kind) in enumerate(types)}


def _expected(sql: str) -> tuple[list[Any], list[Any]]:
    con = duckdb.connect()
    con.execute(f"CREATE VIEW expected AS {sql}")
    return _seen(con, "expected")


def _warehouse(root: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(
        str(root / ".sqlops/warehouse.duckdb"),
        read_only=True,
        config={"file_search_path": str(root)},
    )


def test_every_duckdb_type_has_a_case() -> None:
    """A type DuckDB adds shows up here until it gets a case (and the storage test runs it)."""
    rows = duckdb.sql(
        "SELECT DISTINCT logical_type FROM duckdb_types() WHERE database_name = 'system'"
    ).fetchall()
    missing = {r[0] for r in rows} - CASES.keys() - NOT_COLUMN_TYPES.keys()
    assert not missing, f"add a case to CASES for {sorted(missing)}"


def _project(make_project: ProjectFactory, tick: int, source_db: Path) -> Path:
    select = _select(_columns())
    return make_project(
        {
            "sqlops.toml": f"""
                [sources."raw.tick"]
                path = "data/tick.csv"
                [sources."raw.copied"]
                path = "{source_db.as_posix()}"
                format = "duckdb"
                table = "main.t"
            """,
            "data/tick.csv": f"n\n{tick}\n",
            "sql/m/all_types.sql": f"-- materialized: table\n{select}\n",
            "sql/m/grown.sql": (
                "-- materialized: incremental\n-- unique_key: id\n"
                f"select v.*, k.n from ({select}) as v, raw.tick as k\n"
            ),
        }
    )


def _compare_all(con: duckdb.DuckDBPyConnection, tick: int, prefix: str = "") -> None:
    select = _select(_columns())
    expected = _expected(select)
    assert _seen(con, f"{prefix}m.all_types") == expected
    assert _seen(con, f"{prefix}raw.copied") == expected
    grown = _expected(f"select v.*, {tick}::BIGINT as n from ({select}) as v")
    assert _seen(con, f"{prefix}m.grown") == grown


def test_every_type_reads_back_as_plain_duckdb_gives_it(
    make_project: ProjectFactory, tmp_path: Path, backend: str
) -> None:
    source_db = tmp_path / "source.duckdb"
    with duckdb.connect(str(source_db)) as con:
        con.execute(f"CREATE TABLE t AS {_select(_columns())}")
    root = _project(make_project, 1, source_db)
    project = sqlops.Project(root)
    assert project.build().raise_on_error().ok
    with _warehouse(root) as con:
        _compare_all(con, 1)
    first = project.commit("all types")
    assert first is not None

    # the incremental model upserts every row (same ids, new n): old parts are read back,
    # merged and stored again
    (root / "data/tick.csv").write_text("n\n2\n")
    assert project.build().raise_on_error().ok
    with _warehouse(root) as con:
        _compare_all(con, 2)
    project.commit("tick 2")

    # a checkout into a fresh warehouse restores the types from the version store alone
    shutil.rmtree(root / ".sqlops/warehouse.duckdb", ignore_errors=True)
    (root / ".sqlops/warehouse.duckdb").unlink(missing_ok=True)
    project.checkout(first.id)
    with _warehouse(root) as con:
        _compare_all(con, 1)

    # time travel: a scratch connection over the commit, and one table read from it
    engine = project.engine_at("main")
    try:
        _compare_all(engine.con, 2)
    finally:
        engine.close()
    # and as a Polars frame, as plain DuckDB and Polars give the same SELECT
    assert project.table("m.all_types", ref=first.id).equals(_polars(_select(_columns())))


# What a Polars frame holds for the types Polars cannot (``sqlops.sql``'s promise), written
# out by hand: DuckDB's text, except for 128-bit integers, which are Int128 and UInt128.
AS_TEXT = {
    **dict.fromkeys(
        ["c_uhugeint", "c_bit", "c_bignum", "c_time_with_time_zone", "c_interval", "c_union"],
        "VARCHAR",
    ),
    "c_array": "VARCHAR[2]",
    "list_of_unions": "VARCHAR[]",
    "c_struct": "STRUCT(e ENUM('x', 'y'), \"t z\" VARCHAR, hugeint VARCHAR, b VARCHAR)",
}


def _polars(sql: str) -> pl.DataFrame:
    """What plain DuckDB's Arrow export gives for ``sql``, in Polars, with ``AS_TEXT``'s
    columns as text and the HUGEINTs and UHUGEINTs (Arrow's DECIMAL(38,0) or text) as ints."""
    with duckdb.connect() as con:
        relation = con.sql(sql)
        relation = relation.project(
            ", ".join(
                f"CAST({quote(c)} AS {AS_TEXT[c]}) AS {quote(c)}" if c in AS_TEXT else quote(c)
                for c in relation.columns
            )
        )
        frame = pl.from_arrow(relation.to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    struct, map_ = frame.schema["c_struct"], frame.schema["c_map"]
    assert isinstance(struct, pl.Struct) and isinstance(map_, pl.Map)
    return frame.cast(
        {
            "c_hugeint": pl.Int128,
            "c_uhugeint": pl.UInt128,
            "c_list": pl.List(pl.Int128),
            "c_struct": pl.Struct(
                {**{f.name: f.dtype for f in struct.fields}, "hugeint": pl.UInt128}
            ),
            "c_map": pl.Map(map_.key, pl.Int128),
        }
    )


FRAME = """
import polars as pl
import pytest

FRAME = pl.DataFrame(
    {
        "id": [0, 1, 2],
        "i128": pl.Series([-(2**127), 2**127 - 1, None], dtype=pl.Int128),
        "u128": pl.Series([0, 2**128 - 1, None], dtype=pl.UInt128),
        "dec": pl.Series(["1.5", "-99999999999999999999.25", None], dtype=pl.Decimal(38, 2)),
        "enum": pl.Series(["b", "a", None], dtype=pl.Enum(["a", "b"])),
        "dur": pl.Series([1, -(2**62), None], dtype=pl.Duration("us")),
        "ns": pl.Series([1, 2**62, None], dtype=pl.Datetime("ns", "Asia/Kolkata")),
        "ms": pl.Series([1, 2**40, None], dtype=pl.Datetime("ms")),
        "arr": pl.Series([[1, 2], [3, 4], None], dtype=pl.Array(pl.Int128, 2)),
        "nested": [{"a": [1.5, None]}, None, {"a": []}],
    }
)
"""


def test_python_model_frames_read_back_as_duckdb_reads_them(make_project: ProjectFactory) -> None:
    model = FRAME + (
        "\n\nimport sqlops\n\n\n@sqlops.model(inputs=[], materialized='table')\n"
        "def frame() -> pl.DataFrame:\n    return FRAME\n"
    )
    root = make_project({"sql/m/py_models.py": model})
    namespace: dict[str, Any] = {}
    exec(FRAME, namespace)
    frame = namespace["FRAME"]
    project = sqlops.Project(root)
    assert project.build(sources={"raw.frame": frame}).raise_on_error().ok
    # DuckDB cannot read Polars' 128-bit integers; sqlops reads them as (U)HUGEINT
    con = duckdb.connect()
    con.register("frame_in", frame.drop("i128", "u128", "arr"))
    con.execute("CREATE VIEW expected AS SELECT * FROM frame_in")
    expected = _by_column(*_seen(con, "expected"))
    wide = {"i128": "HUGEINT", "u128": "UHUGEINT", "arr": "HUGEINT[2]"}
    with _warehouse(root) as wh:
        for table in ("m.frame", "raw.frame"):
            got = _by_column(*_seen(wh, table))
            assert {c: got[c][0] for c in wide} == wide
            assert {c: v for c, v in got.items() if c not in wide} == expected
    back = project.table("m.frame")
    assert back.select("i128", "u128", "arr").equals(frame.select("i128", "u128", "arr"))


def test_sum_above_2_53_is_stored_exactly_as_a_number(make_project: ProjectFactory) -> None:
    """sum(BIGINT) is HUGEINT: stored as DECIMAL(38,0), read back as HUGEINT and as an int."""
    root = make_project(
        {
            "sql/m/s.sql": (
                "-- materialized: table\n"
                "select sum(x) as s from (values (4611686018427387904), (4611686018427387904), "
                "(1)) as t(x)\n"
            )
        }
    )
    project = sqlops.Project(root)
    assert project.build().raise_on_error().ok
    with _warehouse(root) as con:
        assert con.execute("SELECT typeof(s), s::VARCHAR FROM m.s").fetchall() == [
            ("HUGEINT", str(2**63 + 1))
        ]
    objects = list((root / ".sqlops/versions/objects").glob("??/*.parquet"))
    stored = duckdb.execute(f"SELECT typeof(s) FROM read_parquet('{objects[0]}')").fetchall()
    assert stored == [("DECIMAL(38,0)",)]
    assert project.table("m.s")["s"].to_list() == [2**63 + 1]
    assert project.sql("select s from m.s")["s"].dtype == pl.Int128


def test_hugeint_of_39_digits_is_stored_as_text(make_project: ProjectFactory) -> None:
    """DECIMAL(38,0) holds 38 digits: a larger HUGEINT makes the table store text."""
    big = 2**127 - 1
    root = make_project(
        {
            "sql/m/big.sql": (
                f"-- materialized: table\nselect {big}::HUGEINT as h, 1::HUGEINT as one\n"
            )
        }
    )
    project = sqlops.Project(root)
    assert project.build().raise_on_error().ok
    [obj] = list((root / ".sqlops/versions/objects").glob("??/*.parquet"))
    stored = duckdb.execute(f"SELECT typeof(h), typeof(one) FROM read_parquet('{obj}')")
    assert stored.fetchall() == [("VARCHAR", "VARCHAR")]
    assert project.table("m.big").to_dicts() == [{"h": big, "one": 1}]
    with _warehouse(root) as con:
        assert con.execute("SELECT typeof(h), h::VARCHAR FROM m.big").fetchall() == [
            ("HUGEINT", str(big))
        ]


def test_sql_gives_python_ints_for_huge_integers() -> None:
    frame = sqlops.sql(
        "select sum(x) as s, 340282366920938463463374607431768211455::UHUGEINT as u, "
        "[2::HUGEINT] as l from df",
        df=pl.DataFrame({"x": [1, 2, 3]}),
    )
    assert frame.to_dicts() == [{"s": 6, "u": 2**128 - 1, "l": [2]}]
    assert frame.schema == pl.Schema({"s": pl.Int128, "u": pl.UInt128, "l": pl.List(pl.Int128)})


def test_build_at_reads_a_snapshot_with_the_source_types(make_project: ProjectFactory) -> None:
    """A CSV column of integers past 2^63 is HUGEINT to DuckDB; its snapshot stores it as
    DECIMAL(38,0), and a build at that version reads it as HUGEINT again, exactly."""
    old = "id,big\n1,99999999999999999999\n2,3\n"
    root = make_project(
        {
            "sqlops.toml": '[sources."raw.t"]\npath = "data/t.csv"\n',
            "data/t.csv": old,
            "sql/m/t.sql": "-- materialized: table\nselect id, big, big + 1 as next from raw.t\n",
        }
    )
    expected = _expected(
        f"select id, big, big + 1 as next from read_csv('{(root / 'data/t.csv').as_posix()}')"
    )
    project = sqlops.Project(root)
    assert project.build().raise_on_error().ok
    first = project.commit("v1")
    assert first is not None
    (root / "data/t.csv").write_text("id,big\n1,1\n")
    assert project.build().raise_on_error().ok
    assert project.build(at=first.id).raise_on_error().ok
    with _warehouse(root) as con:
        assert _seen(con, "m.t") == expected


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("'a'::ENUM('a', 'b') as e", "'a' as e"),  # both stored as text
        ("'a' as e", "'a'::ENUM('a', 'b') as e"),
        ("1::HUGEINT as e", "1::DOUBLE as e"),  # HUGEINT is stored as DECIMAL(38,0)
        ("1.5::DOUBLE as e", "(2::HUGEINT ** 100)::HUGEINT as e"),
        ("'a' as e", "'a' as e, 1::HUGEINT as f"),  # a column added
        ("'a' as e, 1::HUGEINT as f", "'a' as f, 1::HUGEINT as e"),  # names swapped
    ],
)
@pytest.mark.parametrize("rows", [0, 1, 5000])
def test_a_rebuild_with_other_types_reads_back_the_new_types(
    make_project: ProjectFactory, before: str, after: str, rows: int
) -> None:
    """The last build's types are only a guess for the next: a model whose types changed
    (even to ones Parquet stores alike) reads back as its new SQL gives them."""
    root = make_project(
        {"sql/m/t.sql": f"-- materialized: table\nselect range as id, {before} from range(1)"}
    )
    project = sqlops.Project(root)
    assert project.build().raise_on_error().ok
    sql = f"select range as id, {after} from range({rows})"
    (root / "sql/m/t.sql").write_text(f"-- materialized: table\n{sql}\n")
    assert project.build().raise_on_error().ok
    with _warehouse(root) as con:
        got = _seen(con, "m.t")
    want = _expected(sql)
    assert got == want


@pytest.mark.parametrize(
    "select",
    [
        'select 1 as "HUGEINT", (2::HUGEINT ** 100)::HUGEINT as "x, y VARCHAR"',
        'select \'a\' as "name", \'12:00:00+01\'::TIMETZ as "a "" b"',
        "select [1.5::DECIMAL(3,1)]::DECIMAL(3,1)[1] as d, NULL as n",
        "select 'x'::ENUM('x') as \"b VARCHAR, c\", 1 as c",
    ],
)
def test_a_first_build_reads_back_exactly_whatever_the_names(
    make_project: ProjectFactory, select: str
) -> None:
    """Without a last build to guess from, the part-writing statement checks that no
    column needs storing differently; names that look like types cannot fool it."""
    sql = f"select range as id, * from range(2), ({select})"
    root = make_project({"sql/m/t.sql": f"-- materialized: table\n{sql}\n"})
    assert sqlops.Project(root).build().raise_on_error().ok
    with _warehouse(root) as con:
        assert _seen(con, "m.t") == _expected(sql)


def test_an_incremental_model_whose_column_type_changed_reads_back_the_new_type(
    make_project: ProjectFactory,
) -> None:
    """Old parts store a CSV's HUGEINT column as DECIMAL(38,0); the file's new rows are
    BIGINT: the view casts every part's column to the newer type, not back to HUGEINT."""
    root = make_project(
        {
            "sqlops.toml": '[sources."raw.t"]\npath = "data/t.csv"\n',
            "data/t.csv": "id,v\n1,99999999999999999999\n",
            "sql/m/i.sql": "-- materialized: incremental\n-- unique_key: id\nselect * from raw.t\n",
        }
    )
    project = sqlops.Project(root)
    assert project.build().raise_on_error().ok
    (root / "data/t.csv").write_text("id,v\n2,8\n")
    assert project.build().raise_on_error().ok
    with _warehouse(root) as con:
        rows = con.execute("SELECT id, typeof(v), v::VARCHAR FROM m.i ORDER BY id").fetchall()
    plain = duckdb.execute(
        "SELECT typeof(v) FROM (SELECT 99999999999999999999::HUGEINT AS v UNION ALL BY NAME "
        "SELECT 8::BIGINT AS v)"
    ).fetchall()
    assert rows == [(1, plain[0][0], "99999999999999999999"), (2, plain[0][0], "8")]
