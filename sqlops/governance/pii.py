"""PII detection: by column name and by values, reported per column whatever its tags say.

One aggregate query per table counts, for every column and kind, the values that match
(validated in SQL: Luhn, mod 97, CPF/CNPJ check digits; see :mod:`validators`), so no value
leaves DuckDB: a finding holds names, kinds and rates only, never a value.

Text columns are tested for every kind, DATE/TIMESTAMP columns for birth dates, integer
columns (as their text) for the numeric kinds; others by name only. Personal names are a
heuristic over a shipped list of first names (no NER model such as spaCy can be installed
here), and a birth date by value alone is weak evidence (any date column has dates).

``match_rate`` = matching values / values, where a value is non-NULL and not blank after
trimming spaces (0.0 when the column has none). ``confidence`` combines the two pieces of
evidence as independent ones (a noisy-OR): ``1 - (1 - strength[kind] * match_rate) *
(1 - 0.6 if the name hints the kind else 1)``; ``strength`` is 1.0 for kinds with check
digits, 0.9 for strict patterns, 0.6 for names and 0.3 for birth dates. A (column, kind)
is reported when its confidence is at least ``min_confidence`` (0.5: a name hint alone
is enough, as are values matching at least half the time).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlops.config.governance import ColumnPolicy
from sqlops.execute.engine import Engine
from sqlops.governance.anonymize import quote
from sqlops.governance.validators import TEXT_SQL, birth_range_sql

NAME_HINT = 0.6
MIN_CONFIDENCE = 0.5
STRENGTH = {
    "credit_card": 1.0,
    "iban": 1.0,
    "cpf": 1.0,
    "cnpj": 1.0,
    "email": 0.9,
    "phone": 0.9,
    "ip_address": 0.9,
    "ssn": 0.9,
    "person_name": 0.6,
    "date_of_birth": 0.3,
}
_HINTS = {
    "email": r"e_?mail|correio",
    "phone": r"phone|fone|telefone|celular|mobile|whatsapp|(^|_)tel(_|$)",
    "credit_card": r"card|cartao|(^|_)(cc|pan)(_|$)|cc_?num",
    "ip_address": r"(^|_)ip(v[46])?(_|$)|ip_?addr",
    "iban": r"iban",
    "cpf": r"cpf",
    "cnpj": r"cnpj",
    "ssn": r"ssn|social_?security",
    "date_of_birth": r"birth|(^|_)dob(_|$)|nasc|born",
    "person_name": r"^(full_?|first_?|last_?|given_?|customer_?|person_?|nome_?)?"
    r"(name|nome|surname|sobrenome)(_completo)?$",
}
_TEXT = re.compile(r"^(VARCHAR|TEXT|STRING|CHAR|BPCHAR)(\(\d+\))?$")
_DATES = re.compile(r"^(DATE|TIMESTAMP(_S|_MS|_NS)?|TIMESTAMP WITH TIME ZONE|TIMESTAMPTZ)$")
_INTEGER = re.compile(r"^U?(SMALLINT|INTEGER|BIGINT|HUGEINT)$")
_NUMERIC_KINDS = ("credit_card", "cpf", "cnpj", "phone")


@dataclass(frozen=True)
class PiiFinding:
    """One column that looks like one PII kind: how often its values match, how sure the
    scan is, and whether the column's tag says the same. Never a value."""

    table: str
    column: str
    kind: str
    match_rate: float
    confidence: float
    declared: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "column": self.column,
            "kind": self.kind,
            "match_rate": self.match_rate,
            "confidence": self.confidence,
            "declared": self.declared,
        }


def name_hints(column: str) -> tuple[str, ...]:
    """The kinds a column's name suggests.

    >>> name_hints("customer_email"), name_hints("cpf_titular"), name_hints("product_name")
    (('email',), ('cpf',), ())
    """
    name = column.lower()
    return tuple(kind for kind, pattern in _HINTS.items() if re.search(pattern, name))


def confidence(kind: str, match_rate: float, hinted: bool) -> float:
    """Noisy-OR of the value evidence and the name hint (see the module docstring).

    >>> confidence("cpf", 1.0, False), confidence("email", 0.0, True)
    (1.0, 0.6)
    """
    value = 1 - STRENGTH[kind] * match_rate
    return round(1 - value * (1 - NAME_HINT if hinted else 1.0), 6)


def value_kinds(dtype: str) -> tuple[str, ...]:
    """The kinds the scan tests a column's values for, by its type."""
    text = dtype.strip().upper()
    if _TEXT.match(text):
        return tuple(TEXT_SQL)
    if _DATES.match(text):
        return ("date_of_birth",)
    if _INTEGER.match(text):
        return _NUMERIC_KINDS
    return ()


def scan_sql(
    relation: str, columns: Sequence[tuple[str, str]], *, sample_rows: int | None = None
) -> tuple[str, list[tuple[int, str, str]]]:
    """The one aggregate query of a scan and what its outputs mean: ``(column index,
    kind, output name)``, kind ``""`` for the count of values."""
    inner: list[str] = []
    outputs: list[str] = []
    meaning: list[tuple[int, str, str]] = []
    for i, (name, dtype) in enumerate(columns):
        kinds = value_kinds(dtype)
        if not kinds:
            continue
        v, is_date = f"v{i}", kinds == ("date_of_birth",)
        if is_date:
            inner.append(f"{quote(name)} AS {v}")
            outputs.append(f"count({v}) AS n{i}")
        else:
            inner.append(f"trim(CAST({quote(name)} AS VARCHAR)) AS {v}")
            outputs.append(f"count_if({v} <> '') AS n{i}")
        meaning.append((i, "", f"n{i}"))
        for k, kind in enumerate(kinds):
            test = birth_range_sql(v) if is_date else TEXT_SQL[kind](v)
            outputs.append(f"count_if({test}) AS m{i}_{k}")
            meaning.append((i, kind, f"m{i}_{k}"))
    if not outputs:
        return "", []
    sample = (
        f" USING SAMPLE reservoir({int(sample_rows)} ROWS) REPEATABLE (42)" if sample_rows else ""
    )
    source = f"(SELECT {', '.join(inner)} FROM {relation}{sample})"
    return f"SELECT {', '.join(outputs)} FROM {source}", meaning


def scan(
    engine: Engine,
    relation: str,
    table: str,
    columns: list[tuple[str, str]],
    declared: Mapping[str, ColumnPolicy],
    *,
    sample_rows: int | None = None,
    min_confidence: float = MIN_CONFIDENCE,
) -> list[PiiFinding]:
    """Scan ``relation`` (SQL naming the data of ``table``) for PII in ``columns``
    (name, DuckDB type); ``declared`` holds the table's column tags, which say whether a
    finding is ``declared``. ``sample_rows`` scans a repeatable sample instead of every row."""
    sql, meaning = scan_sql(relation, columns, sample_rows=sample_rows)
    counts: dict[str, Any] = engine.fetch_record(sql) if sql else {}
    found: list[PiiFinding] = []
    for i, (name, _dtype) in enumerate(columns):
        values = int(counts.get(f"n{i}") or 0)
        rates = {
            kind: int(counts[out] or 0) / values if values else 0.0
            for c, kind, out in meaning
            if c == i and kind
        }
        hints = name_hints(name)
        tag = declared.get(name)
        for kind in STRENGTH:
            rate = rates.get(kind, 0.0)
            sure = confidence(kind, rate, kind in hints)
            if sure >= min_confidence:
                agrees = tag is not None and tag.pii == kind
                found.append(PiiFinding(table, name, kind, rate, sure, agrees))
    return sorted(found, key=lambda f: (f.table, f.column, -f.confidence, f.kind))


def proposed_tags(findings: Iterable[PiiFinding]) -> dict[str, dict[str, dict[str, str]]]:
    """``{table: {column: {"pii": kind}}}`` for what ``--apply`` would write: the most
    confident kind per column, leaving out columns whose tag already agrees."""
    best: dict[tuple[str, str], PiiFinding] = {}
    agreed: set[tuple[str, str]] = set()
    for f in findings:
        key = (f.table, f.column)
        if f.declared:
            agreed.add(key)
        if key not in best or f.confidence > best[key].confidence:
            best[key] = f
    tags: dict[str, dict[str, dict[str, str]]] = {}
    for (table, column), f in sorted(best.items()):
        if (table, column) not in agreed:
            tags.setdefault(table, {})[column] = {"pii": f.kind}
    return tags
