"""Column types that survive Parquet: what a part stores for each DuckDB type, and the cast
that gives a table's view back the type its SQL has.

DuckDB's Parquet writer keeps most types, but writes HUGEINT and UHUGEINT as DOUBLE (sums
above 2^53 change), TIME WITH TIME ZONE normalized to UTC (the offset is lost), INTERVAL
in milliseconds (microseconds are lost), and ENUM, BIT, BIGNUM, UNION, fixed-size arrays,
TIMESTAMP_S/_MS and GEOMETRY as other types that cast back exactly. So a part stores the
lossy ones as an exact type (``stored_type``: DECIMAL(38,0) or text), and the published
view casts every column whose type Parquet does not keep back to its true type
(``restore_cast``). Both decisions depend on the true type only, which the version store
records with each table, so a checkout restores types the same way a build does.
Works on DuckDB's own type strings (``duckdb_columns().data_type``), at any depth of
STRUCT, MAP, UNION and lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Types a Parquet part gives back as they were written: no cast needed in the view.
# Anything else (including a type DuckDB adds later) is cast back, which is exact or fails.
_KEPT = frozenset({
    "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT",
    "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL", "VARCHAR", "BLOB", "DATE", "TIME",
    "TIME_NS", "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ_NS",
    "UUID", "JSON", "VARIANT", '"NULL"', "STRUCT", "MAP",
})  # fmt: skip
# the kept types that are not nested, as ``typeof`` prints them (DECIMAL has arguments)
KEPT_SCALARS = _KEPT - {"STRUCT", "MAP", "DECIMAL"}
_HUGE = frozenset({"HUGEINT", "UHUGEINT"})
_AS_TEXT = frozenset({"TIME WITH TIME ZONE", "INTERVAL"})  # their text casts back exactly
_ARROW_TEXT = frozenset({"UHUGEINT", "INTERVAL", "UNION", "BIT", "BIGNUM", "TIME WITH TIME ZONE"})
_TOKEN = re.compile(r"""\s*("(?:[^"]|"")*"|'(?:[^']|'')*'|[A-Za-z_][A-Za-z0-9_]*|\d+|\S)""")


@dataclass(frozen=True)
class TypeNode:
    """A parsed type: its head words (``TIMESTAMP WITH TIME ZONE``), its fields (STRUCT,
    UNION: ``(name, type)``; MAP: ``("", key), ("", value)``), other arguments as written
    (``(18,3)``), and array suffixes (``[]``, ``[2]``)."""

    head: str
    text: str
    fields: tuple[tuple[str, TypeNode], ...] = ()
    args: str = ""
    suffix: str = ""


def stored_type(type_: str, wide: bool = False) -> str | None:
    """The type a part stores for a column of ``type_``, or None to store it as it is.
    HUGEINTs become DECIMAL(38,0) (exact and still a number), or text when ``wide`` (a
    value of 39 digits); under a UNION always text, so the view's cast is known.

    >>> stored_type("HUGEINT"), stored_type("HUGEINT", wide=True), stored_type("INTEGER")
    ('DECIMAL(38,0)', 'VARCHAR', None)
    >>> stored_type('STRUCT(hugeint HUGEINT, "a b" INTERVAL[])')
    'STRUCT("hugeint" DECIMAL(38,0), "a b" VARCHAR[])'
    """
    parsed = parse(type_)
    return _encode(parsed, wide) if parsed is not None else None


def restore_cast(column: str, type_: str) -> str | None:
    """The expression that gives a stored column back its true type, or None when Parquet
    keeps the type. A UNION is cast from its stored form first (DuckDB casts the STRUCT a
    part holds to a UNION only with the same member types).

    >>> restore_cast('"s"', "HUGEINT")
    'CAST("s" AS HUGEINT)'
    >>> restore_cast('"s"', "BIGINT[]") is None
    True
    """
    parsed = parse(type_)
    if parsed is None:
        return f"CAST({column} AS {type_})"
    if _kept(parsed):
        return None
    if _has_union(parsed):
        stored = _encode(parsed, wide=True)
        if stored is not None:
            return f"CAST(CAST({column} AS {stored}) AS {type_})"
    return f"CAST({column} AS {type_})"


def _kept(t: TypeNode) -> bool:
    if t.head not in _KEPT or (t.suffix and not _lists_only(t.suffix)):
        return False
    return all(_kept(child) for _, child in t.fields)


def _lists_only(suffix: str) -> bool:
    return suffix.replace("[]", "") == ""


def _has_union(t: TypeNode) -> bool:
    return t.head == "UNION" or any(_has_union(child) for _, child in t.fields)


def arrow_text(type_: str) -> str | None:
    """``type_`` with the types Polars cannot hold exactly as text (at any depth), or None
    without one, for handing a result to Polars. Arrow has no 128-bit integers (DuckDB
    exports them as DECIMAL(38,0), where an UHUGEINT above 2^127 wraps around); Polars
    cannot read Arrow's month-day-nanosecond intervals or unions, drops a time's offset,
    and would show a BIT or BIGNUM as DuckDB's internal bytes. Their text is exact.

    >>> arrow_text("STRUCT(u UHUGEINT, h HUGEINT)"), arrow_text("HUGEINT")
    ('STRUCT("u" VARCHAR, "h" HUGEINT)', None)
    """
    parsed = parse(type_)
    return _encode(parsed, wide=True, only=_ARROW_TEXT) if parsed else None


def _encode(t: TypeNode, wide: bool, only: frozenset[str] | None = None) -> str | None:
    if only is not None:
        if t.head in only:
            return "VARCHAR" + t.suffix
    elif t.head in _HUGE:
        return ("VARCHAR" if wide else "DECIMAL(38,0)") + t.suffix
    elif t.head in _AS_TEXT:
        return "VARCHAR" + t.suffix
    if not t.fields:
        return None
    inner = wide or t.head == "UNION"
    children = [(name, _encode(child, inner, only)) for name, child in t.fields]
    if all(new is None for _, new in children):
        return None
    items = [
        (new if new is not None else child.text) if not name else f"{name} {new or child.text}"
        for (name, new), (_, child) in zip(children, t.fields, strict=True)
    ]
    return f"{t.head}({', '.join(items)}){t.suffix}"


def parse(text: str) -> TypeNode | None:
    """Parse one DuckDB type string; None if it is not one this module can read."""
    tokens = _TOKEN.findall(text.strip())
    try:
        parsed, end = _type(tokens, 0)
    except IndexError:
        return None
    return parsed if end == len(tokens) else None


def _type(tokens: list[str], i: int) -> tuple[TypeNode, int]:
    start = i
    words: list[str] = []
    while i < len(tokens) and (tokens[i][0].isalpha() or tokens[i][0] in '_"'):
        words.append(tokens[i])
        i += 1
    if not words:
        raise IndexError("no type name")
    head = " ".join(words).upper() if words[0][0] != '"' else words[0]
    fields: list[tuple[str, TypeNode]] = []
    args = ""
    if i < len(tokens) and tokens[i] == "(":
        if head in ("STRUCT", "UNION", "MAP"):
            while tokens[i] in ("(", ","):
                name = ""
                if head != "MAP":
                    name = _quote(tokens[i + 1])
                    i += 1
                child, i = _type(tokens, i + 1)
                fields.append((name, child))
            if tokens[i] != ")":
                raise IndexError("unclosed")
            i += 1
        else:
            depth, j = 0, i
            while True:
                depth += {"(": 1, ")": -1}.get(tokens[j], 0)
                j += 1
                if depth == 0:
                    break
            args, i = _join(tokens[i:j]), j
    suffix = ""
    while i < len(tokens) and tokens[i] == "[":
        close = tokens.index("]", i)
        suffix += "".join(tokens[i : close + 1])
        i = close + 1
    return TypeNode(head, _join(tokens[start:i]), tuple(fields), args, suffix), i


def _quote(name: str) -> str:
    return name if name.startswith('"') else '"' + name + '"'


def _join(tokens: list[str]) -> str:
    """Tokens back to text (spaces only between words, which is all a type needs)."""
    out = ""
    for token in tokens:
        word = token[0].isalnum() or token[0] in "_\"'"
        if out and word and (out[-1].isalnum() or out[-1] in "_\"',"):
            out += " "
        out += token
    return out
