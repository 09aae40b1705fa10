"""PII detection: every SQL validator equals its Python reference (random strings and
generated valid/mutated documents), CPF/CNPJ equal validate-docbr, and a scan of planted
values finds each column with the brute-force match rate and never shows a value."""

from __future__ import annotations

import ipaddress
import json
import random
import string
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from validate_docbr import CNPJ, CPF

from sqlops.config.governance import PII_KINDS, ColumnPolicy
from sqlops.execute.engine import Engine
from sqlops.governance import validators as v
from sqlops.governance.pii import (
    STRENGTH,
    PiiFinding,
    confidence,
    proposed_tags,
    scan,
)

ALNUM = string.digits + string.ascii_uppercase
ALPHABET = string.digits * 3 + "ABCZaz .-/@:+()éã"


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    eng = Engine.open(macros=False)
    yield eng
    eng.close()


def sql_verdicts(engine: Engine, kind: str, values: list[str]) -> list[bool]:
    """The SQL predicate of ``kind`` over each value, trimmed as the scan trims it."""
    test = v.TEXT_SQL[kind]("x")
    rows = engine.execute(
        f"SELECT {test} FROM (SELECT trim(unnest($vals::VARCHAR[])) AS x, generate_subscripts"
        "($vals::VARCHAR[], 1) AS i) ORDER BY i",
        {"vals": values},
    ).fetchall()
    return [bool(r[0]) for r in rows]


def python_verdicts(kind: str, values: list[str]) -> list[bool]:
    return [v.TEXT_PYTHON[kind](value.strip(" ")) for value in values]


def test_every_pii_kind_has_a_validator_pair():
    assert set(v.TEXT_SQL) == set(v.TEXT_PYTHON) == set(STRENGTH) == set(PII_KINDS) - {"other"}


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(alphabet=ALPHABET, max_size=24), min_size=20, max_size=60))
def test_sql_validators_equal_python_on_random_strings(engine: Engine, values: list[str]):
    for kind in v.TEXT_SQL:
        assert sql_verdicts(engine, kind, values) == python_verdicts(kind, values), kind


# ---- generated documents: valid by construction, then one character changed ----------------


def cpf(rng: random.Random) -> str:
    base = [rng.randrange(10) for _ in range(9)]
    base.append(v.mod11_digit(base, v.CPF_WEIGHTS[0]))
    base.append(v.mod11_digit(base, v.CPF_WEIGHTS[1]))
    return "".join(map(str, base))


def cnpj(rng: random.Random, alphabet: str = ALNUM) -> str:
    base = [rng.choice(alphabet) for _ in range(12)]
    values = [ord(c) - 48 for c in base]
    values.append(v.mod11_digit(values, v.CNPJ_WEIGHTS[0]))
    values.append(v.mod11_digit(values, v.CNPJ_WEIGHTS[1]))
    return "".join(base) + "".join(str(d) for d in values[12:])


def card(rng: random.Random) -> str:
    body = str(rng.choice([4, 5, 3, 6, 2])) + "".join(
        str(rng.randrange(10)) for _ in range(rng.choice([12, 14, 15, 17]))
    )
    return next(body + str(d) for d in range(10) if v.luhn_ok(body + str(d)))


def iban(rng: random.Random) -> str:
    country = rng.choice(["GB", "DE", "BR", "FR", "NL"])
    bban = "".join(rng.choice(ALNUM) for _ in range(rng.randrange(11, 30)))
    moved = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    return f"{country}{check:02d}{bban}"


def cpf_formatted(doc: str) -> str:
    return f"{doc[:3]}.{doc[3:6]}.{doc[6:9]}-{doc[9:]}"


def cnpj_formatted(doc: str) -> str:
    return f"{doc[:2]}.{doc[2:5]}.{doc[5:8]}/{doc[8:12]}-{doc[12:]}"


def mutate(doc: str, rng: random.Random, position: int | None = None) -> str:
    i = rng.randrange(len(doc)) if position is None else position
    pool = string.digits if doc[i].isdigit() else string.ascii_uppercase
    return doc[:i] + rng.choice(pool.replace(doc[i], "")) + doc[i + 1 :]


GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "cpf": cpf,
    "cnpj": cnpj,
    "credit_card": card,
    "iban": iban,
}


@pytest.mark.parametrize("kind", list(GENERATORS))
def test_generated_documents_valid_and_mutated_agree(engine: Engine, kind: str):
    rng = random.Random(kind)
    valid = [GENERATORS[kind](rng) for _ in range(300)]
    if kind == "cpf":
        valid = [d for d in valid if len(set(d)) > 1]
        valid += [cpf_formatted(d) for d in valid[:100]]
    if kind == "cnpj":
        valid = [d for d in valid if len(set(d)) > 1]
        valid += [cnpj_formatted(d) for d in valid[:100]]
    assert all(sql_verdicts(engine, kind, valid))
    assert all(python_verdicts(kind, valid))
    mutated = [mutate(d, rng) for d in valid]
    assert sql_verdicts(engine, kind, mutated) == python_verdicts(kind, mutated)
    last = [mutate(d, rng, len(d) - 1) for d in valid]  # a wrong last check digit
    assert not any(sql_verdicts(engine, kind, last))
    if kind in ("credit_card", "iban"):  # Luhn and mod 97 catch every single change
        assert not any(sql_verdicts(engine, kind, mutated))


def test_cpf_and_cnpj_equal_validate_docbr(engine: Engine):
    rng = random.Random(3)
    cpfs = [cpf(rng) for _ in range(200)]
    cpfs += [mutate(d, rng) for d in cpfs] + ["00000000000", "11111111111", "123.456.789-09"]
    cnpjs = [cnpj(rng, string.digits) for _ in range(100)] + [cnpj(rng) for _ in range(100)]
    cnpjs += [mutate(d, rng) for d in cnpjs] + ["00000000000000", "AAAAAAAAAAAA00"]
    cnpjs += [cnpj_formatted(d) for d in cnpjs[:50]]
    assert sql_verdicts(engine, "cpf", cpfs) == [CPF().validate(d) for d in cpfs]
    assert sql_verdicts(engine, "cnpj", cnpjs) == [CNPJ().validate(d) for d in cnpjs]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.ABC.345/01DE-35", True),  # Receita Federal's official example
        ("12ABC34501DE35", True),
        ("12.ABC.345/01DE-36", False),
        ("00.000.000/0000-00", False),
        ("11.111.111/1111-11", False),
    ],
)
def test_alphanumeric_cnpj_official_example(engine: Engine, value: str, expected: bool):
    assert sql_verdicts(engine, "cnpj", [value]) == [expected] == [v.is_cnpj(value)]


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("email", ["ana.silva+x@example.com.br"], ["ana@", "a@b", "a b@c.com"]),
        ("phone", ["+55 11 98765-4321", "(11) 98765-4321", "+1 415 555 2671"], ["12345"]),
        ("ip_address", ["10.0.0.255", "::1", "2001:db8:0:0:1::ff", "fe80::"], ["256.1.1.1"]),
        ("ssn", ["078-05-1120"], ["000-12-3456", "666-12-3456", "912-12-3456", "123-00-4567"]),
        ("date_of_birth", ["1985-03-12", "12/03/1985"], ["2999-01-01", "31/02/1990"]),
        ("person_name", ["Maria da Silva", "JOÃO Pedro Souza"], ["Acme Ltda", "maria"]),
    ],
)
def test_pattern_kinds_on_known_values(engine: Engine, kind: str, good: list[str], bad: list[str]):
    assert sql_verdicts(engine, kind, good + bad) == [True] * len(good) + [False] * len(bad)
    assert python_verdicts(kind, good + bad) == [True] * len(good) + [False] * len(bad)


# ---- the scan ------------------------------------------------------------------------------


def planted_rows(n: int) -> tuple[list[str], list[tuple[object, ...]]]:
    rng = random.Random(11)
    words = ["lorem", "ipsum", "dolor", "sit", "amet", "42", "x-1", "ok"]

    def some(make: Callable[[], str], share: float) -> str | None:
        roll = rng.random()
        if roll < 0.05:
            return None
        return make() if roll < share else " ".join(rng.choices(words, k=3))

    rows = [
        (
            some(lambda: f"u{rng.randrange(10**6)}@example.com", 0.9),
            some(lambda: cpf_formatted(cpf(rng)), 0.8),
            some(lambda: card(rng), 0.95),
            some(lambda: cnpj(rng), 0.7),
            some(lambda: iban(rng), 0.9),
            " ".join(rng.choices(words, k=rng.randrange(1, 6))),
            rng.randrange(10**6),
        )
        for _ in range(n)
    ]
    return ["contato", "documento", "pagamento", "empresa", "conta", "notes", "amount"], rows


def test_scan_finds_planted_columns_with_exact_rates(engine: Engine):
    names, rows = planted_rows(2000)
    con = engine.con.cursor()
    con.execute(
        "CREATE TEMP TABLE people (contato VARCHAR, documento VARCHAR, pagamento VARCHAR, "
        "empresa VARCHAR, conta VARCHAR, notes VARCHAR, amount BIGINT)"
    )
    con.executemany("INSERT INTO people VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    types = ["VARCHAR"] * 6 + ["BIGINT"]
    declared = {"documento": ColumnPolicy("marts.people", "documento", pii="cpf")}
    found = scan(
        Engine(con, ":memory:"),
        "people",
        "marts.people",
        list(zip(names, types, strict=True)),
        declared,
    )
    by_column = {f.column: f for f in found}
    expected = {
        "contato": "email",
        "documento": "cpf",
        "pagamento": "credit_card",
        "empresa": "cnpj",
        "conta": "iban",
    }
    assert {c: f.kind for c, f in by_column.items()} == expected
    assert len(found) == len(expected)  # the free text and the numbers: nothing
    for column, kind in expected.items():
        i = names.index(column)
        cells = [r[i].strip(" ") for r in rows if r[i] is not None and r[i].strip(" ")]
        rate = sum(v.TEXT_PYTHON[kind](c) for c in cells) / len(cells)
        assert by_column[column].match_rate == rate
        assert by_column[column].confidence == confidence(kind, rate, False)
        assert by_column[column].declared == (column == "documento")
    raw = {str(c) for r in rows for c in r[:5] if c is not None}
    text = json.dumps({"columns": [f.to_dict() for f in found]})
    assert not any(value in text for value in raw)
    assert list(found[0].to_dict()) == [
        "table",
        "column",
        "kind",
        "match_rate",
        "confidence",
        "declared",
    ]
    sampled = scan(
        Engine(con, ":memory:"),
        "people",
        "marts.people",
        [("contato", "VARCHAR")],
        {},
        sample_rows=500,
    )
    assert [f.kind for f in sampled] == ["email"] and 0.8 < sampled[0].match_rate < 1


def test_scan_by_name_and_by_date_values(engine: Engine):
    con = engine.con.cursor()
    con.execute(
        "CREATE TEMP TABLE customers AS SELECT DATE '1950-01-01' + CAST(i * 7 AS INTEGER) "
        "AS birth_date, DATE '2020-01-01' + CAST(i AS INTEGER) AS ordered_at, "
        "NULL::VARCHAR AS email FROM range(1000) t(i)"
    )
    cols = [("birth_date", "DATE"), ("ordered_at", "DATE"), ("email", "VARCHAR")]
    found = scan(Engine(con, ":memory:"), "customers", "marts.customers", cols, {})
    assert [(f.column, f.kind) for f in found] == [
        ("birth_date", "date_of_birth"),
        ("email", "email"),
    ]
    assert found[0].match_rate == 1.0 and found[1].match_rate == 0.0
    assert found[1].confidence == 0.6  # the name alone


def test_proposed_tags_skip_columns_whose_tag_agrees():
    findings = [
        PiiFinding("m.t", "a", "email", 1.0, 1.0, False),
        PiiFinding("m.t", "a", "person_name", 0.1, 0.5, False),
        PiiFinding("m.t", "b", "cpf", 1.0, 1.0, True),
    ]
    assert proposed_tags(findings) == {"m.t": {"a": {"pii": "email"}}}


def test_ip_addresses_equal_the_ipaddress_module(engine: Engine):
    """Generated IPv4 and IPv6 addresses (compressed and exploded) are IPs; IPv4-mapped and
    zone forms are left out of the pattern, so they are not generated."""
    rng = random.Random(13)
    v4 = [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(200)]
    v6 = [
        ipaddress.IPv6Address(rng.getrandbits(128) >> rng.randrange(0, 128, 16)) for _ in range(200)
    ]
    v6s = [a.compressed for a in v6 if a.ipv4_mapped is None] + [a.exploded for a in v6]
    bad = ["1.2.3", "1.2.3.4.5", "01.2.3.4", "1::2::3", "12345::", "g::1", "::ffff:1.2.3.4"]
    values = v4 + v6s + bad
    expected = [True] * (len(v4) + len(v6s)) + [False] * len(bad)
    assert sql_verdicts(engine, "ip_address", values) == expected
    assert python_verdicts("ip_address", values) == expected
