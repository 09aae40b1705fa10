"""What a PII value looks like, twice: as a DuckDB predicate over a trimmed text (what the
scan runs, so values never leave the database) and as a Python reference beside it (what
the SQL is tested against). Check digits are computed, never guessed from a pattern: Luhn
for cards, mod 97 for IBANs, mod 11 for CPF and CNPJ.

The CNPJ is the Receita Federal's (IN RFB 2.229/2024): twelve positions in [0-9A-Z], each
worth its ASCII code minus 48 (so the numeric CNPJ is the special case of digits), then two
numeric mod-11 check digits; ``12.ABC.345/01DE-35`` is valid, and a CNPJ (or CPF) whose
characters are all equal (all zeros included) is not.

Patterns use ``[0-9]``, never ``\\d``: RE2 and Python agree on it (Python's ``\\d`` matches
any Unicode digit). Each SQL predicate is a CASE whose cheap test (length, a regex) guards
the arithmetic, so the arithmetic runs only on candidate values.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from importlib import resources

CPF_RE = r"[0-9]{3}\.?[0-9]{3}\.?[0-9]{3}-?[0-9]{2}"
CNPJ_RE = r"[0-9A-Z]{2}\.?[0-9A-Z]{3}\.?[0-9A-Z]{3}/?[0-9A-Z]{4}-?[0-9]{2}"
CARD_RE = r"[2-6][0-9 -]{11,21}[0-9]"
IBAN_RE = r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}"
EMAIL_RE = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}"
SSN_RE = r"[0-9]{3}-[0-9]{2}-[0-9]{4}"
PHONE_CHARS_RE = r"\+?[0-9 .()-]{8,21}"
E164_RE = r"\+[1-9][0-9]{7,14}"
BR_PHONE_RE = r"(\+?55)?0?[1-9]{2}(9[0-9]{8}|[2-5][0-9]{7})"
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_RE = rf"({_OCTET}\.){{3}}{_OCTET}"
_H = r"[0-9A-Fa-f]{1,4}"
IPV6_RE = (
    rf"(({_H}:){{7}}{_H}|({_H}:){{1,7}}:|({_H}:){{1,6}}:{_H}|({_H}:){{1,5}}(:{_H}){{1,2}}"
    rf"|({_H}:){{1,4}}(:{_H}){{1,3}}|({_H}:){{1,3}}(:{_H}){{1,4}}|({_H}:){{1,2}}(:{_H}){{1,5}}"
    rf"|{_H}:(:{_H}){{1,6}}|:((:{_H}){{1,7}}|:))"
)
ISO_DATE_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
BR_DATE_RE = r"[0-9]{2}/[0-9]{2}/[0-9]{4}"
OLDEST_BIRTH = date(1900, 1, 1)
CPF_WEIGHTS = (tuple(range(10, 1, -1)), tuple(range(11, 1, -1)))
CNPJ_WEIGHTS = ((5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2), (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2))
_DOUBLED = "[0,2,4,6,8,1,3,5,7,9]"  # a Luhn digit doubled, digits summed


def first_names() -> tuple[str, ...]:
    """The shipped list of common first names (lower case, unaccented), for the
    personal-name heuristic: no NER model (spaCy) can be installed here."""
    text = resources.files("sqlops.governance").joinpath("first_names.txt").read_text("utf-8")
    return tuple(w for w in (ln.strip() for ln in text.splitlines()) if w and w[0] != "#")


def name_re() -> str:
    """A value of 2-5 words whose first word is a known first name (unaccented, lower)."""
    return rf"({'|'.join(sorted(first_names()))})( [a-z'-]+){{1,4}}"


# ---- Python reference: what each SQL predicate must equal ----------------------------------


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        total += (d * 2 - 9 if d > 4 else d * 2) if i % 2 else d
    return total % 10 == 0


def mod11_digit(values: list[int], weights: tuple[int, ...]) -> int:
    """The check digit: 0 when the weighted sum leaves a remainder under 2, else 11 - it."""
    rest = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
    return 0 if rest < 2 else 11 - rest


def _check_digits(doc: str, weights: tuple[tuple[int, ...], tuple[int, ...]]) -> bool:
    values = [ord(c) - 48 for c in doc]
    n = len(weights[0])
    return (
        len(set(doc)) > 1
        and values[n] == mod11_digit(values[:n], weights[0])
        and values[n + 1] == mod11_digit(values[: n + 1], weights[1])
    )


def is_cpf(value: str) -> bool:
    return bool(re.fullmatch(CPF_RE, value)) and _check_digits(
        value.replace(".", "").replace("-", ""), CPF_WEIGHTS
    )


def is_cnpj(value: str) -> bool:
    doc = value.replace(".", "").replace("/", "").replace("-", "")
    return bool(re.fullmatch(CNPJ_RE, value)) and _check_digits(doc, CNPJ_WEIGHTS)


def is_card(value: str) -> bool:
    digits = value.replace(" ", "").replace("-", "")
    return (
        bool(re.fullmatch(CARD_RE, value))
        and bool(re.fullmatch("[0-9]{13,19}", digits))
        and luhn_ok(digits)
    )


def iban_ok(iban: str) -> bool:
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def is_iban(value: str) -> bool:
    compact = value.replace(" ", "")
    return bool(re.fullmatch(IBAN_RE, compact)) and iban_ok(compact)


def is_email(value: str) -> bool:
    return bool(re.fullmatch(EMAIL_RE, value))


def is_phone(value: str) -> bool:
    if not re.fullmatch(PHONE_CHARS_RE, value):
        return False
    compact = re.sub(r"[ .()-]", "", value)
    return bool(
        (value.startswith("+") and re.fullmatch(E164_RE, compact))
        or re.fullmatch(BR_PHONE_RE, compact)
    )


def is_ip(value: str) -> bool:
    return bool(re.fullmatch(IPV4_RE, value) or re.fullmatch(IPV6_RE, value))


def is_ssn(value: str) -> bool:
    return (
        bool(re.fullmatch(SSN_RE, value))
        and value[:3] not in ("000", "666")
        and value[0] != "9"
        and value[4:6] != "00"
        and value[7:] != "0000"
    )


def is_birth_date(value: str, today: date | None = None) -> bool:
    """An ISO or day/month/year date between 1900 and today."""
    for pattern, fmt in ((ISO_DATE_RE, "%Y-%m-%d"), (BR_DATE_RE, "%d/%m/%Y")):
        if re.fullmatch(pattern, value):
            try:
                day = datetime.strptime(value, fmt).date()
            except ValueError:
                return False
            return OLDEST_BIRTH <= day <= (today or date.today())
    return False


def is_person_name(value: str, pattern: re.Pattern[str] | None = None) -> bool:
    import unicodedata

    flat = unicodedata.normalize("NFKD", value.lower())
    flat = "".join(c for c in flat if not unicodedata.combining(c))
    return bool((pattern or re.compile(name_re())).fullmatch(flat))


# ---- SQL: the same predicates over a trimmed VARCHAR expression ----------------------------


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _bind(expr: str, body: str) -> str:
    """``body`` with ``d`` standing for ``expr`` computed once (a one-element list_transform:
    a lambda is DuckDB's only let-binding)."""
    return f"list_transform([{expr}], lambda d: {body})[1]"


def _without(v: str, chars: str) -> str:
    """``v`` without any of ``chars``: chained ``replace`` calls, several times faster than
    a global ``regexp_replace`` in DuckDB."""
    for ch in chars:
        v = f"replace({v}, {_lit(ch)}, '')"
    return v


def _guarded(cheap: str, check: str) -> str:
    return f"CASE WHEN {cheap} THEN {check} ELSE false END"


def _mod11_sql(weights: tuple[int, ...]) -> str:
    """The check digit after ``len(weights)`` positions of ``n`` (the characters' values)
    equals the mod-11 digit of their weighted sum; a dot product over the list is faster
    in DuckDB than one ``ascii(d[i])`` term per position."""
    size = len(weights)
    dot = f"list_dot_product(n[1:{size}], {list(weights)}::INTEGER[])"
    return f"(10 * {dot} % 11) % 10 = n[{size + 1}]"


def _check_digits_sql(weights: tuple[tuple[int, ...], tuple[int, ...]], size: int) -> str:
    first, second = (_mod11_sql(w) for w in weights)
    values = "list_transform(string_split(d, ''), lambda c: CAST(ascii(c) - 48 AS INTEGER))"
    digits = f"list_transform([{values}], lambda n: {first} AND {second})[1]"
    return f"d <> repeat(d[1], {size}) AND {digits}"


def cpf_sql(v: str) -> str:
    cheap = f"length({v}) BETWEEN 11 AND 14 AND regexp_full_match({v}, {_lit(CPF_RE)})"
    doc = _without(v, ".-")
    return _guarded(cheap, _bind(doc, _check_digits_sql(CPF_WEIGHTS, 11)))


def cnpj_sql(v: str) -> str:
    cheap = f"length({v}) BETWEEN 14 AND 18 AND regexp_full_match({v}, {_lit(CNPJ_RE)})"
    doc = _without(v, "./-")
    return _guarded(cheap, _bind(doc, _check_digits_sql(CNPJ_WEIGHTS, 14)))


def luhn_sql(digits: str) -> str:
    """Luhn over a digits-only expression: every second digit from the right doubled."""
    body = "CASE WHEN i % 2 = 0 THEN " + _DOUBLED + "[ascii(c) - 47] ELSE ascii(c) - 48 END"
    chars = f"string_split(reverse({digits}), '')"
    return f"list_sum(list_transform({chars}, lambda c, i: {body})) % 10 = 0"


def card_sql(v: str) -> str:
    cheap = f"length({v}) BETWEEN 13 AND 23 AND regexp_full_match({v}, {_lit(CARD_RE)})"
    check = f"regexp_full_match(d, '[0-9]{{13,19}}') AND {luhn_sql('d')}"
    return _guarded(cheap, _bind(_without(v, " -"), check))


def iban_sql(v: str) -> str:
    fold = (
        "list_reduce(string_split(substr(d, 5) || left(d, 4), ''), lambda acc, c: "
        "CASE WHEN c >= 'A' THEN (acc * 100 + ascii(c) - 55) % 97 "
        "ELSE (acc * 10 + ascii(c) - 48) % 97 END, 0) = 1"
    )
    cheap = f"length({v}) BETWEEN 15 AND 42 AND regexp_matches({v}, '^[A-Z]{{2}}[0-9]{{2}}')"
    check = f"regexp_full_match(d, {_lit(IBAN_RE)}) AND {fold}"
    return _guarded(cheap, _bind(_without(v, " "), check))


def email_sql(v: str) -> str:
    return _guarded(f"contains({v}, '@')", f"regexp_full_match({v}, {_lit(EMAIL_RE)})")


def phone_sql(v: str) -> str:
    cheap = f"length({v}) BETWEEN 8 AND 22 AND regexp_full_match({v}, {_lit(PHONE_CHARS_RE)})"
    check = (
        f"(starts_with({v}, '+') AND regexp_full_match(d, {_lit(E164_RE)})) "
        f"OR regexp_full_match(d, {_lit(BR_PHONE_RE)})"
    )
    return _guarded(cheap, _bind(_without(v, " .()-"), check))


def ip_sql(v: str) -> str:
    v4 = f"regexp_full_match({v}, {_lit(IPV4_RE)})"
    v6 = f"contains({v}, ':') AND regexp_full_match({v}, {_lit(IPV6_RE)})"
    return _guarded(f"length({v}) BETWEEN 2 AND 39", f"({v4}) OR ({v6})")


def ssn_sql(v: str) -> str:
    check = (
        f"left({v}, 3) NOT IN ('000', '666') AND {v}[1] <> '9' "
        f"AND substr({v}, 5, 2) <> '00' AND right({v}, 4) <> '0000'"
    )
    return _guarded(f"length({v}) = 11 AND regexp_full_match({v}, {_lit(SSN_RE)})", check)


def birth_date_sql(v: str) -> str:
    """A text holding an ISO or day/month/year date between 1900 and today."""
    day = (
        f"CASE WHEN regexp_full_match({v}, {_lit(ISO_DATE_RE)}) THEN TRY_CAST({v} AS DATE) "
        f"WHEN regexp_full_match({v}, {_lit(BR_DATE_RE)}) "
        f"THEN CAST(try_strptime({v}, '%d/%m/%Y') AS DATE) END"
    )
    return _guarded(f"length({v}) = 10", f"coalesce({birth_range_sql(day)}, false)")


def birth_range_sql(day: str) -> str:
    """A DATE (or TIMESTAMP) expression within a living person's birth dates."""
    return f"CAST({day} AS DATE) BETWEEN DATE '{OLDEST_BIRTH.isoformat()}' AND current_date"


def person_name_sql(v: str) -> str:
    cheap = f"length({v}) BETWEEN 5 AND 80 AND contains({v}, ' ')"
    return _guarded(cheap, f"regexp_full_match(strip_accents(lower({v})), {_lit(name_re())})")


TEXT_SQL: dict[str, Callable[[str], str]] = {
    "email": email_sql,
    "phone": phone_sql,
    "credit_card": card_sql,
    "ip_address": ip_sql,
    "iban": iban_sql,
    "cpf": cpf_sql,
    "cnpj": cnpj_sql,
    "ssn": ssn_sql,
    "date_of_birth": birth_date_sql,
    "person_name": person_name_sql,
}
TEXT_PYTHON: dict[str, Callable[[str], bool]] = {
    "email": is_email,
    "phone": is_phone,
    "credit_card": is_card,
    "ip_address": is_ip,
    "iban": is_iban,
    "cpf": is_cpf,
    "cnpj": is_cnpj,
    "ssn": is_ssn,
    "date_of_birth": is_birth_date,
    "person_name": is_person_name,
}
