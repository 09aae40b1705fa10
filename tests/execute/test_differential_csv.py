"""A source means one thing: every path a model can take over a CSV source gives the rows and
column types of plain DuckDB ``read_csv`` of the file.

The paths: a view, a table and an incremental model (``select *``), each built with the
Polars executor on and off and with every CSV reader setting. The files: an adversarial
corpus (where Polars' own CSV inference differs from DuckDB's) and random CSVs whose columns
DuckDB reads as numbers, dates, times, booleans or text (hypothesis).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from sqlops import Project

READERS = ("auto", "polars", "duckdb")
EXECUTORS = ("auto", "duckdb")
KINDS = ("view", "table", "incremental")
SCHEMA = {"view": "v", "table": "t", "incremental": "inc"}  # the schema of each path's model
CONFIGS = list(itertools.product(READERS, EXECUTORS))


def _rows(header: str, row: Callable[[int], str], n: int) -> bytes:
    return ("\n".join([header, *(row(i) for i in range(n))]) + "\n").encode()


CORPUS: dict[str, bytes] = {
    "issue_repro": b'id,zip,flag,s\n1,00001,T,""\n2,00002,F,a\n',
    "issue_repro_no_flag": b'id,zip,s\n1,00001,""\n2,00002,a\n',
    "leading_zeros": _rows("id,code", lambda i: f"{i},{i % 50:05d}", 300),
    "yes_no": _rows("id,ok", lambda i: f"{i},{'yes' if i % 3 else 'no'}", 50),
    "true_false_words": _rows("id,ok", lambda i: f"{i},{'true' if i % 2 else 'FALSE'}", 50),
    "padded_numbers": _rows("id,n,x", lambda i: f"{i}, {i},  {i}.5", 50),
    "inf_nan": _rows("id,x", lambda i: f"{i},{['inf', '-inf', 'nan', '1.5', ''][i % 5]}", 50),
    "floats_with_inf": _rows("id,x", lambda i: f"{i},{['1e3', '-inf', '2.25', 'inf'][i % 4]}", 50),
    "quoted_empty": _rows(
        "id,s,n", lambda i: f'{i},{["", "a", "b"][i % 3]!r},""'.replace("'", '"'), 30
    ),
    "empty_lines": b"id,s\n1,a\n\n2,b\n\n\n3,c\n",
    "huge_ints": _rows("id,big", lambda i: f"{i},{2**63 + i}", 20),
    "many_digits": _rows("id,d", lambda i: f"{i},{i}.12345678901234567890123", 20),
    "dates_iso": _rows("id,d", lambda i: f"{i},2026-{i % 12 + 1:02d}-{i % 28 + 1:02d}", 40),
    "dates_dmy": _rows("id,d", lambda i: f"{i},{i % 28 + 1:02d}/{i % 12 + 1:02d}/2026", 40),
    "dates_mixed": b"id,d\n1,2026-01-02\n2,2026/01/03\n3,2026-1-4\n",
    "timestamps": _rows("id,t", lambda i: f"{i},2026-01-{i % 28 + 1:02d} 12:{i % 60:02d}:00", 40),
    "timestamps_tz": _rows(
        "id,t", lambda i: f"{i},2026-01-{i % 28 + 1:02d}T12:00:00+0{i % 5}:00", 40
    ),
    "type_change_late": _rows("id,v", lambda i: f"{i},{i if i < 25_000 else 'x7'}", 25_010),
    "float_late": _rows("id,v", lambda i: f"{i},{i if i < 25_000 else i + 0.5}", 25_010),
    "newlines_quotes": b'id,s\n1,"line one\nline two"\n2,"say ""hi"""\n3,plain\n',
    "bom": b"\xef\xbb\xbfid,s\n1,a\n2,b\n",
    "semicolon": b"id;x;s\n1;1.5;a\n2;2.5;b\n3;;c\n",
    "tab": b"id\tx\ts\n1\t1.5\ta\n2\t2.5\tb\n",
    "latin1": "id,s\n1,café\n2,ação\n".encode("latin-1"),
    "header_only": b"id,x,s\n",
    "one_column": b"s\na\n\nb\n",
    "crlf": b"id,s\r\n1,a\r\n2,b\r\n",
    "bools_and_numbers": _rows("id,b,n", lambda i: f"{i},{i % 2},{-i}", 40),
}


def _project(root: Path, files: dict[str, bytes], reader: str, executor: str) -> Project:
    lines = [f'[engine]\ncsv_reader = "{reader}"\nexecutor = "{executor}"']
    for name, data in files.items():
        (root / "data").mkdir(parents=True, exist_ok=True)
        (root / "data" / f"{name}.csv").write_bytes(data)
        lines.append(f'[sources."raw.{name}"]\npath = "data/{name}.csv"')
        for kind in KINDS:
            model = root / "sql" / SCHEMA[kind] / f"{name}.sql"
            model.parent.mkdir(parents=True, exist_ok=True)
            key = f"-- unique_key: {_first_column(data)}\n" if kind == "incremental" else ""
            model.write_text(f"-- materialized: {kind}\n{key}select * from raw.{name}\n")
    (root / "sqlops.toml").write_text("\n".join(lines) + "\n")
    return Project(root)


def _first_column(data: bytes) -> str:
    match = re.search(rb"[A-Za-z_]\w*", data)
    assert match is not None
    return match.group().decode()


def _duckdb(path: Path) -> pl.DataFrame | str:
    """What plain DuckDB reads, or its error."""
    try:
        with duckdb.connect() as con:
            frame = pl.from_arrow(con.sql(f"select * from read_csv('{path}')").to_arrow_table())
    except duckdb.Error as exc:
        return str(exc).splitlines()[0]
    assert isinstance(frame, pl.DataFrame)
    return frame


Built = dict[str, "pl.DataFrame | str"]  # "kind.name" -> what the model reads, or its error


def _build(project: Project, engines: dict[str, str] | None = None) -> Built:
    """Build, then read every model back (one read-only connection to the warehouse);
    ``engines`` gets the engine that computed each model."""
    nodes = project.build().nodes
    errors = {
        n.name: n.error or (None if n.status in ("success", "skipped") else n.status) for n in nodes
    }
    if engines is not None:
        engines.update({n.name: n.engine for n in nodes})
    out: Built = {}
    with duckdb.connect(
        str(project.config.warehouse_path),
        read_only=True,
        config={"file_search_path": str(project.root)},
    ) as con:
        for name in [n for n in errors if n.split(".")[0] in SCHEMA.values()]:
            error = errors[name]
            try:  # a view over a file DuckDB cannot read builds, and fails when read
                frame = (
                    None
                    if error
                    else pl.from_arrow(con.sql(f"select * from {name}").to_arrow_table())
                )
            except duckdb.Error as exc:
                frame, error = None, str(exc).splitlines()[0]
            out[name] = frame if isinstance(frame, pl.DataFrame) else str(error)
    return out


def _check(root: Path, built: Built, name: str, kind: str) -> None:
    expected = _duckdb(root / "data" / f"{name}.csv")
    got = built[f"{SCHEMA[kind]}.{name}"]
    if isinstance(expected, str):  # DuckDB cannot read it: neither can any path
        assert isinstance(got, str), f"{kind} {name} built a file DuckDB refuses: {expected}"
        assert "Traceback" not in got and "\n" not in got
        return
    assert not isinstance(got, str), f"{kind} {name}: {got}"
    assert got.schema == expected.schema, f"{kind} {name}"
    assert_frame_equal(got, expected, check_exact=True)


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple[Path, Built]]:
    """One project per (reader, executor) with every corpus file, built once."""
    out = {}
    for reader, executor in CONFIGS:
        root = tmp_path_factory.mktemp(f"csv-{reader}-{executor}")
        ENGINES[reader, executor] = {}
        project = _project(root, CORPUS, reader, executor)
        out[reader, executor] = (root, _build(project, ENGINES[reader, executor]))
    return out


ENGINES: dict[tuple[str, str], dict[str, str]] = {}  # filled by ``builds``
# corpus files the Polars path computes (reader polars, executor auto) when this was written:
# a path that silently stopped being taken would leave every comparison DuckDB against DuckDB
TAKEN = {
    "bom", "bools_and_numbers", "crlf", "dates_iso", "floats_with_inf", "header_only",
    "inf_nan", "issue_repro_no_flag", "leading_zeros", "many_digits", "newlines_quotes",
    "padded_numbers", "quoted_empty", "semicolon", "tab", "true_false_words",
}  # fmt: skip


CASES = [
    pytest.param(name, kind, config, id=f"{name}-{kind}-{'-'.join(config)}")
    for name in CORPUS
    for kind in KINDS
    for config in CONFIGS
]


@pytest.mark.parametrize(("name", "kind", "config"), CASES)
def test_every_path_reads_what_duckdb_reads(
    builds: dict[tuple[str, str], tuple[Path, Built]],
    name: str,
    kind: str,
    config: tuple[str, str],
) -> None:
    _check(*builds[config], name, kind)


def test_the_fast_path_is_taken_where_it_can_be(
    builds: dict[tuple[str, str], tuple[Path, Built]],
) -> None:
    engines = ENGINES["polars", "auto"]
    taken = {name for name in CORPUS if engines.get(f"{SCHEMA['table']}.{name}") == "polars"}
    assert taken >= TAKEN, sorted(TAKEN - taken)


def test_the_issue_repro_without_booleans_reads_duckdb_values_in_polars(
    builds: dict[tuple[str, str], tuple[Path, Built]],
) -> None:
    """The issue's zeros and quoted empty string, through the Polars scan and executor."""
    name = f"{SCHEMA['table']}.issue_repro_no_flag"
    assert ENGINES["polars", "auto"][name] == "polars"
    got = builds["polars", "auto"][1][name]
    assert isinstance(got, pl.DataFrame)
    assert got.to_dicts() == [
        {"id": 1, "zip": "00001", "s": None},
        {"id": 2, "zip": "00002", "s": "a"},
    ]


def test_the_issue_repro_reads_duckdb_values(
    builds: dict[tuple[str, str], tuple[Path, Built]],
) -> None:
    """The issue's file: zip keeps its zeros, T is true, a quoted empty string is NULL."""
    got = builds["polars", "auto"][1]["t.issue_repro"]
    assert isinstance(got, pl.DataFrame)
    assert got.to_dicts() == [
        {"id": 1, "zip": "00001", "flag": True, "s": None},
        {"id": 2, "zip": "00002", "flag": False, "s": "a"},
    ]


# Random CSVs: each column draws its values from one pool of a type DuckDB's sniffer can
# detect (so most files have numeric, date or boolean columns, not only VARCHAR), with
# empty and quoted-empty fields (NULLs) mixed in; ``tokens`` mixes adversarial values.
TOKENS = [
    "", '""', "0", "007", "1", " 1", "-2", "1.5", " 2.5", "1e3", "inf", "-inf", "nan", "NaN",
    "T", "F", "true", "false", "yes", "2026-01-02", "2026-13-01", "12:30:00", "a", "a b",
    '"x,y"', '"q""q"', "0.1234567890123456789",
]  # fmt: skip
BOOLS = [("true", "false"), ("TRUE", "False"), ("T", "F"), ("t", "f"), ("yes", "no")]
DATES = ["%Y-%m-%d", "%d/%m/%Y", "%m-%d-%Y", "%Y/%m/%d"]
MODERN = {"min_value": datetime(1900, 1, 1), "max_value": datetime(2100, 12, 31)}
ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)


def _float_text(x: float, form: str) -> str:
    return {"repr": repr(x), "exp": f"{x:e}", "fixed": f"{x:.3f}", "g": f"{x:g}"}[form]


def _text(delimiter: str) -> st.SearchStrategy[str]:
    """Strings, quoted when they hold the delimiter, a quote or a newline (or are empty)."""
    chars = st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
        st.sampled_from([",", ";", "\t", "\n", '"', " ", "|"]),
    )

    def csv(value: str) -> str:
        plain = value and not any(c in value for c in (delimiter, '"', "\n", "\r"))
        return value if plain else '"' + value.replace('"', '""') + '"'

    return st.text(chars, min_size=1, max_size=8).map(csv)


def _pool(kind: str, delimiter: str) -> st.SearchStrategy[str]:
    """The values of one column of ``kind``."""
    if kind == "small_int":
        return st.integers(-999, 999).map(str)
    if kind == "bigint":
        return st.integers(-(2**63), 2**63 - 1).map(str)
    if kind == "huge_int":
        return st.integers(-(2**70), 2**70).map(str)
    if kind == "zero_padded":
        return st.integers(0, 9999).map(lambda i: f"{i:05d}")
    if kind == "decimal":
        return st.integers(1, 20).flatmap(
            lambda places: st.decimals(-(10**8), 10**8, places=places).map(str)
        )
    if kind == "double":
        forms = st.sampled_from(["repr", "exp", "fixed", "g"])
        return forms.flatmap(lambda form: FLOATS.map(lambda x: _float_text(x, form)))
    if kind == "date":
        fmt = st.sampled_from(DATES)
        return fmt.flatmap(
            lambda f: st.dates(date(1900, 1, 1), date(2100, 12, 31)).map(lambda d: d.strftime(f))
        )
    if kind == "timestamp":
        return st.datetimes(**MODERN).map(lambda t: t.isoformat(sep=" "))
    if kind == "timestamp_tz":
        return st.datetimes(**MODERN, timezones=ZONES).map(lambda t: t.isoformat())
    if kind == "time":
        return st.times().map(lambda t: t.isoformat())
    if kind == "bool":
        return st.sampled_from(BOOLS).flatmap(st.sampled_from)
    if kind == "text":
        return _text(delimiter)
    return st.sampled_from(TOKENS)


POOLS = [
    "small_int", "bigint", "huge_int", "zero_padded", "decimal", "double", "date",
    "timestamp", "timestamp_tz", "time", "bool", "text", "tokens",
]  # fmt: skip


@st.composite
def typed_csvs(draw: st.DrawFn) -> str:
    """A CSV file with a header ``c0,c1,...`` and 1-20 rows of typed columns."""
    delimiter = draw(st.sampled_from([",", ",", ";", "\t", "|"]))
    kinds = draw(st.lists(st.sampled_from(POOLS), min_size=1, max_size=5))
    nulls = st.sampled_from(["", '""'])
    pools = [_pool(kind, delimiter) for kind in kinds]
    rows = []
    for _ in range(draw(st.integers(1, 20))):
        row = [draw(nulls) if draw(st.integers(0, 9)) == 0 else draw(pool) for pool in pools]
        rows.append(delimiter.join(row))
    header = delimiter.join(f"c{i}" for i in range(len(kinds)))
    return "\n".join([header, *rows]) + "\n"


def test_random_csvs_read_what_duckdb_reads(tmp_path_factory: pytest.TempPathFactory) -> None:
    typed: list[bool] = []  # per example: whether DuckDB read a column as other than VARCHAR

    @settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(text=typed_csvs())
    def check(text: str) -> None:
        root = tmp_path_factory.mktemp("random")
        engines: dict[str, str] = {}
        built = _build(_project(root, {"r": text.encode()}, "polars", "auto"), engines)
        event(f"the table model computed by {engines.get('t.r')}")
        plain = _duckdb(root / "data" / "r.csv")
        kinds = set(plain.dtypes) if isinstance(plain, pl.DataFrame) else set()
        for dtype in sorted(map(str, kinds)):
            event(f"DuckDB reads a column as {dtype}")
        typed.append(bool(kinds - {pl.String}))
        for kind in KINDS:
            _check(root, built, "r", kind)

    check()
    assert sum(typed) >= len(typed) // 2, f"only {sum(typed)} of {len(typed)} files typed"
