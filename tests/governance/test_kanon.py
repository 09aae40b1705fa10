"""k-anonymity in SQL equals a brute-force count of equivalence classes in Python."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

from sqlops.config.governance import ColumnPolicy
from sqlops.errors import PrivacyError
from sqlops.execute.engine import Engine
from sqlops.governance.kanon import k_anonymity

Row = tuple[str | None, int | None, str | None, str]


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    rng = random.Random(5)
    return [
        (
            rng.choice(["01310", "01311", "20040", None]),
            rng.choice([None, *range(20, 60)]),
            rng.choice(["F", "M", None]),
            "x",
        )
        for _ in range(3000)
    ]


@pytest.fixture(scope="module")
def engine(rows: list[Row]) -> Iterator[Engine]:
    eng = Engine.open(macros=False)
    eng.con.execute("CREATE TABLE people (zip VARCHAR, age INTEGER, sex VARCHAR, note VARCHAR)")
    eng.con.executemany("INSERT INTO people VALUES (?, ?, ?, ?)", rows)
    yield eng
    eng.close()


def policies(**rules: tuple[str | None, str | None]) -> dict[str, ColumnPolicy]:
    return {
        name: ColumnPolicy("m.people", name, anonymize=rule, to=to, quasi_identifier=True)
        for name, (rule, to) in rules.items()
    }


def brute(rows: list[Row], key: Callable[[Row], object], k: int) -> tuple[int, int, float]:
    classes = Counter(key(r) for r in rows)
    under = sum(n for n in classes.values() if n < k)
    return min(classes.values()), under, under / len(rows)


@pytest.mark.parametrize("k", [1, 2, 5, 20])
def test_k_anonymity_equals_brute_force(engine: Engine, rows: list[Row], k: int):
    declared = {**policies(zip=(None, None), age=(None, None), sex=(None, None))}
    declared["note"] = ColumnPolicy("m.people", "note")  # not a quasi-identifier
    got = k_anonymity(engine, "people", "m.people", declared, k=k)
    assert got is not None and got.quasi_identifiers == ("zip", "age", "sex")
    expected = brute(rows, lambda r: (r[0], r[1], r[2]), k)
    assert (got.smallest_class, got.rows_under_k, got.share_under_k) == expected
    assert got.to_dict()["k"] == k


def test_k_anonymity_after_generalization(engine: Engine, rows: list[Row]):
    declared = policies(zip=("generalize", "prefix:2"), age=("generalize", "band:10"))
    types = {"zip": "VARCHAR", "age": "INTEGER"}
    got = k_anonymity(engine, "people", "m.people", declared, k=50, anonymized=types)

    def key(r: Row) -> tuple[str | None, int | None]:
        zip_, age = r[0], r[1]
        return (None if zip_ is None else zip_[:2], None if age is None else age // 10 * 10)

    assert got is not None
    assert (got.smallest_class, got.rows_under_k, got.share_under_k) == brute(rows, key, 50)


def test_no_quasi_identifier_and_bad_k(engine: Engine):
    assert k_anonymity(engine, "people", "m.people", {}) is None
    with pytest.raises(PrivacyError, match=r"m\.people: k = 0"):
        k_anonymity(engine, "people", "m.people", policies(zip=(None, None)), k=0)
