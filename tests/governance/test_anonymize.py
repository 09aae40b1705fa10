"""Anonymization in SQL: the HMAC built from DuckDB's sha256 equals RFC 4231 and Python's
``hmac``; the key is only ever a bound parameter; no raw value survives any rule."""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sqlops.config.governance import ColumnPolicy
from sqlops.errors import PrivacyError
from sqlops.execute.engine import Engine
from sqlops.governance.anonymize import (
    anonymized_select,
    column_expression,
    create_hmac_table,
    hmac_params,
    quote,
)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    eng = Engine.open(macros=False)
    yield eng
    eng.close()


def policy(rule: str, to: str | None = None, column: str = "c") -> ColumnPolicy:
    return ColumnPolicy("marts.t", column, pii="other", anonymize=rule, to=to)


def sql_hmac(engine: Engine, key: bytes, message: object, dtype: str = "VARCHAR") -> object:
    expr = column_expression(policy("hash"), "m", dtype)
    assert expr is not None
    params = {**hmac_params(key), "msg": message}
    return engine.fetch_value(f"SELECT {expr} FROM (SELECT CAST($msg AS {dtype}) AS m)", params)


# RFC 4231 section 4: (key, data, HMAC-SHA-256); case 5 (truncated output) left out
RFC4231 = [
    (b"\x0b" * 20, b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
    (
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (
        b"\xaa" * 20,
        b"\xdd" * 50,
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
    ),
    (
        bytes(range(1, 26)),
        b"\xcd" * 50,
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
    ),
    (
        b"\xaa" * 131,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
    (
        b"\xaa" * 131,
        b"This is a test using a larger than block-size key and a larger than block-size data."
        b" The key needs to be hashed before being used by the HMAC algorithm.",
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ),
]


@pytest.mark.parametrize(("key", "data", "expected"), RFC4231)
def test_hash_matches_rfc4231_vectors(engine: Engine, key: bytes, data: bytes, expected: str):
    assert sql_hmac(engine, key, data, "BLOB") == expected


@settings(max_examples=60, deadline=None)
@given(key=st.binary(min_size=1, max_size=200), message=st.text(max_size=80))
def test_hash_matches_python_hmac(engine: Engine, key: bytes, message: str):
    expected = hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
    assert sql_hmac(engine, key, message) == expected


@pytest.mark.parametrize(
    ("value", "dtype", "text"),
    [(37, "INTEGER", "37"), (date(2020, 1, 2), "DATE", "2020-01-02"), ("", "VARCHAR", "")],
)
def test_hash_message_of_a_value_is_its_text_cast(engine: Engine, value, dtype, text):
    key = random.Random(1).randbytes(64)  # exactly one block
    assert sql_hmac(engine, key, value, dtype) == hmac.new(key, text.encode(), "sha256").hexdigest()


def test_hash_keeps_null_and_never_puts_the_key_in_sql(engine: Engine):
    key = b"s3cret-key-never-in-sql"
    assert sql_hmac(engine, key, None) is None
    expr = column_expression(policy("hash"), '"c"', "VARCHAR") or ""
    params = hmac_params(key)
    assert "s3cret" not in expr and key.hex() not in expr
    for padded in params.values():
        assert padded.hex() not in expr and len(padded) == 64
    assert "$sqlops_hmac_ipad" in expr and "$sqlops_hmac_opad" in expr


def test_hash_in_a_view_reads_the_padded_keys_from_a_temp_table(engine: Engine):
    key, con = b"view-secret", engine.con.cursor()
    view_engine = Engine(con, ":memory:")
    create_hmac_table(view_engine, "sqlops_hmac_keys", key)
    expr = column_expression(policy("hash"), "m", "VARCHAR", hmac_from="sqlops_hmac_keys")
    con.execute(f"CREATE TEMP VIEW hashed AS SELECT {expr} AS h FROM (SELECT 'a@b.com' AS m)")
    view_sql = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'hashed'").fetchone()
    assert view_sql is not None and "view-secret" not in view_sql[0]
    assert con.execute("SELECT h FROM hashed").fetchall() == [
        (hmac.new(key, b"a@b.com", hashlib.sha256).hexdigest(),)
    ]


@pytest.mark.parametrize("key", [None, b""])
def test_hash_without_secret_is_refused(key: bytes | None):
    with pytest.raises(PrivacyError, match=r"marts\.t\.email.*HMAC secret"):
        anonymized_select({"email": policy("hash", column="email")}, [("email", "VARCHAR")], key)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("4111111111111111", "************1111"),
        ("abcdefgh", "****efgh"),
        ("abcdefg", "*******"),
        ("abcd", "****"),
        ("", ""),
        ("joão@exâmple.com", "************.com"),
        (None, None),
    ],
)
def test_mask_keeps_last_four_of_long_values_only(engine: Engine, value, expected):
    expr = column_expression(policy("mask"), "m", "VARCHAR")
    assert engine.fetch_value(f"SELECT {expr} FROM (SELECT $v::VARCHAR AS m)", {"v": value}) == (
        expected
    )


def test_mask_of_a_number_is_text(engine: Engine):
    expr = column_expression(policy("mask"), "m", "BIGINT")
    assert engine.fetch_value(f"SELECT {expr} FROM (SELECT 12345678901::BIGINT AS m)") == (
        "*******8901"
    )


@pytest.mark.parametrize("dtype", ["VARCHAR", "INTEGER", "DATE", "DOUBLE"])
def test_redact_is_null_of_the_column_type(engine: Engine, dtype: str):
    expr = column_expression(policy("redact"), "m", dtype)
    row = engine.execute(f"SELECT {expr}, typeof({expr}) FROM (SELECT NULL::{dtype} AS m)")
    assert row.fetchall() == [(None, dtype)]


@pytest.mark.parametrize(
    ("to", "dtype", "value", "expected"),
    [
        ("year", "DATE", "DATE '1985-07-19'", date(1985, 1, 1)),
        ("month", "DATE", "DATE '1985-07-19'", date(1985, 7, 1)),
        ("day", "TIMESTAMP", "TIMESTAMP '1985-07-19 10:11:12'", datetime(1985, 7, 19)),
        ("band:10", "INTEGER", "37", 30),
        ("band:10", "INTEGER", "-3", -10),
        ("band:10", "BIGINT", "9007199254740993", 9007199254740990),
        ("band:5", "DOUBLE", "37.5", 35.0),
        ("band:10", "DECIMAL(6,2)", "37.25", 30),
        ("prefix:3", "VARCHAR", "'01310-100'", "013"),
        ("year", "DATE", "NULL", None),
    ],
)
def test_generalize_keeps_type(engine: Engine, to, dtype, value, expected):
    expr = column_expression(policy("generalize", to), "m", dtype)
    got = engine.execute(f"SELECT {expr}, typeof({expr}) FROM (SELECT {value}::{dtype} AS m)")
    assert got.fetchall() == [(expected, dtype)]


@pytest.mark.parametrize(
    ("to", "dtype"),
    [("band:10", "VARCHAR"), ("year", "INTEGER"), ("prefix:3", "BIGINT"), ("year", "BLOB")],
)
def test_generalize_that_does_not_fit_names_the_column(to: str, dtype: str):
    with pytest.raises(PrivacyError, match=r"^marts\.t\.c: generalize"):
        column_expression(policy("generalize", to), "m", dtype)


def test_drop_leaves_the_column_out():
    assert column_expression(policy("drop"), "m", "VARCHAR") is None
    select, params = anonymized_select(
        {"b": policy("drop", column="b")}, [("a", "INTEGER"), ("b", "VARCHAR")], None
    )
    assert select == '"a"' and params == {}


def test_no_raw_value_survives_an_anonymized_read(engine: Engine):
    """Planted values in every tagged column: no cell of the output contains one."""
    rng = random.Random(7)
    rows = [  # birth dates off Jan 1, which a year cut would keep as they are
        (
            f"user{rng.randrange(10**6)}@example.com",
            f"{rng.randrange(10**11):011d}",
            date(
                1950 + rng.randrange(60), 2 + rng.randrange(11), 2 + rng.randrange(27)
            ),  # not Jan 1
            f"0{rng.randrange(10**7):07d}",
            rng.randrange(18, 99),
            f"secret-{rng.randrange(10**9)}",
            f"note-{i}",
        )
        for i in range(200)
    ]
    columns = [
        ("email", "VARCHAR"),
        ("cpf", "VARCHAR"),
        ("birth", "DATE"),
        ("postcode", "VARCHAR"),
        ("age", "INTEGER"),
        ("token", "VARCHAR"),
        ("note", "VARCHAR"),
    ]
    rules = {
        "email": policy("hash", column="email"),
        "cpf": policy("mask", column="cpf"),
        "birth": policy("generalize", "year", column="birth"),
        "postcode": policy("generalize", "prefix:3", column="postcode"),
        "age": policy("generalize", "band:10", column="age"),
        "token": policy("redact", column="token"),
    }
    con = engine.con.cursor()
    con.execute(
        "CREATE TEMP TABLE planted (email VARCHAR, cpf VARCHAR, birth DATE, postcode VARCHAR,"
        " age INTEGER, token VARCHAR, note VARCHAR)"
    )
    con.executemany("INSERT INTO planted VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    select, params = anonymized_select(rules, columns, b"k" * 32)
    assert "k" * 32 not in select
    out = con.execute(f"SELECT {select} FROM planted", params).fetchall()
    cells = {str(cell) for row in out for cell in row}
    raw = {str(v) for row in rows for v in (*row[:4], row[5])}
    leaked = {cell for cell in cells for value in raw if value in cell}
    assert not leaked
    assert all(row[4] % 10 == 0 for row in out)  # ages only as bands
    assert [row[-1] for row in out] == [row[-1] for row in rows]  # untagged columns as they are


def test_quote_escapes_double_quotes():
    assert quote('we"ird') == '"we""ird"'
