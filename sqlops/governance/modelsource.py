"""Write a pandera-polars schema as the Python source of a ``DataFrameModel``.

A contract lives in ``contracts/NAME.py`` as code the user reads and edits, so both
``contract infer`` and ``contract import`` end here: one renderer, so the two never disagree
on how a dtype, a bound or a registered check is spelled. Values are written as exact Python
literals (``Decimal('1.50')``, ``datetime.datetime(..., tzinfo=ZoneInfo('Etc/UTC'))``,
``float('nan')``) because a bound that loses a digit or a time zone fails the table it came
from. Polars dtypes are written as ``pl.Name(...)`` calls, and read back by ``parse_dtype``
without ``eval``.
"""

from __future__ import annotations

import ast
import datetime as dt
import keyword
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlops.errors import ContractError

# pandera's built-in checks that ``pa.Field`` spells as a keyword, and the statistic the
# keyword takes (None: the whole statistics mapping)
FIELD_KEYWORDS: dict[str, tuple[str, str | None]] = {
    "equal_to": ("eq", "value"),
    "not_equal_to": ("ne", "value"),
    "greater_than": ("gt", "min_value"),
    "greater_than_or_equal_to": ("ge", "min_value"),
    "less_than": ("lt", "max_value"),
    "less_than_or_equal_to": ("le", "max_value"),
    "in_range": ("in_range", None),
    "isin": ("isin", "allowed_values"),
    "notin": ("notin", "forbidden_values"),
    "str_matches": ("str_matches", "pattern"),
    "str_contains": ("str_contains", "pattern"),
    "str_startswith": ("str_startswith", "string"),
    "str_endswith": ("str_endswith", "string"),
    "str_length": ("str_length", None),
}
# dtypes pandera 0.35 cannot check ("expected Int128, got Int128"): left out of a model
UNCHECKABLE = frozenset({"Int128", "UInt128"})
LINE_LENGTH = 100


@dataclass(frozen=True)
class Source:
    """Python text plus the imports it needs (``datetime``, ``Decimal``, ``ZoneInfo``)."""

    text: str
    imports: frozenset[str] = field(default_factory=frozenset)


def literal(value: Any, where: str) -> Source:
    """The exact Python literal of a check statistic.

    >>> literal(Decimal("1.50"), "t.c").text
    "Decimal('1.50')"
    >>> literal(float("-inf"), "t.c").text
    "float('-inf')"
    """
    if value is None or isinstance(value, bool | int | str | bytes):
        return Source(repr(value))
    if isinstance(value, float):
        return Source(f"float('{value}')" if not math.isfinite(value) else repr(value))
    if isinstance(value, Decimal):
        return Source(f"Decimal('{value}')", frozenset({"from decimal import Decimal"}))
    if isinstance(value, dt.datetime | dt.date | dt.time | dt.timedelta):
        return _temporal(value, where)
    if isinstance(value, list | tuple | set | frozenset):
        return _sequence(value, where)
    if isinstance(value, Mapping):
        items = [(literal(k, where), literal(v, where)) for k, v in value.items()]
        text = "{" + ", ".join(f"{k.text}: {v.text}" for k, v in items) + "}"
        return Source(text, _union(s for pair in items for s in pair))
    raise ContractError(
        f"{where}: cannot write a check value of type {type(value).__name__} ({value!r})",
        hint="use numbers, strings, dates, times, decimals or lists of them",
    )


def _sequence(value: list[Any] | tuple[Any, ...] | set[Any] | frozenset[Any], where: str) -> Source:
    items = [literal(v, where) for v in (sorted(value, key=repr) if _unordered(value) else value)]
    inner = ", ".join(i.text for i in items)
    if isinstance(value, tuple):
        inner += "," if len(items) == 1 else ""
        return Source(f"({inner})", _union(items))
    text = f"[{inner}]" if isinstance(value, list) else f"{{{inner}}}" if items else "set()"
    return Source(text, _union(items))


def _unordered(value: Any) -> bool:
    return isinstance(value, set | frozenset)


def _temporal(value: dt.datetime | dt.date | dt.time | dt.timedelta, where: str) -> Source:
    imports = {"import datetime"}
    if isinstance(value, dt.timedelta):
        parts = f"days={value.days}, seconds={value.seconds}, microseconds={value.microseconds}"
        return Source(f"datetime.timedelta({parts})", frozenset(imports))
    if isinstance(value, dt.datetime):
        fields = [value.year, value.month, value.day, value.hour, value.minute, value.second]
        name = "datetime.datetime"
    elif isinstance(value, dt.date):
        return Source(
            f"datetime.date({value.year}, {value.month}, {value.day})", frozenset(imports)
        )
    else:
        fields = [value.hour, value.minute, value.second]
        name = "datetime.time"
    args = [str(f) for f in fields]
    if value.microsecond:
        args.append(str(value.microsecond))
    zone = value.tzinfo
    if zone is not None:
        key = getattr(zone, "key", None)
        if key is None:
            raise ContractError(
                f"{where}: time zone {zone} has no IANA name",
                hint="use a zoneinfo.ZoneInfo time zone such as 'UTC'",
            )
        args.append(f"tzinfo=ZoneInfo({key!r})")
        imports.add("from zoneinfo import ZoneInfo")
    if value.fold:  # the second of two equal wall-clock times when clocks go back
        args.append("fold=1")
    return Source(f"{name}({', '.join(args)})", frozenset(imports))


def _union(sources: Iterable[Source]) -> frozenset[str]:
    return frozenset().union(*(s.imports for s in sources))


def dtype_text(dtype: Any, prefix: str = "pl.") -> str:
    """A Polars dtype as the call that builds it, e.g. ``pl.Datetime('us', 'UTC')``.

    >>> import polars as pl
    >>> dtype_text(pl.List(pl.Decimal(10, 2)))
    'pl.List(pl.Decimal(10, 2))'
    """
    import polars as pl

    name = type(dtype).__name__ if isinstance(dtype, pl.DataType) else dtype.__name__
    if not isinstance(dtype, pl.DataType):
        return prefix + name
    if isinstance(dtype, pl.Datetime):
        return f"{prefix}Datetime({dtype.time_unit!r}, {dtype.time_zone!r})"
    if isinstance(dtype, pl.Duration):
        return f"{prefix}Duration({dtype.time_unit!r})"
    if isinstance(dtype, pl.Decimal):
        return f"{prefix}Decimal({dtype.precision}, {dtype.scale})"
    if isinstance(dtype, pl.List):
        return f"{prefix}List({dtype_text(dtype.inner, prefix)})"
    if isinstance(dtype, pl.Array):
        return f"{prefix}Array({dtype_text(dtype.inner, prefix)}, {dtype.shape!r})"
    if isinstance(dtype, pl.Struct):
        fields = ", ".join(f"{f.name!r}: {dtype_text(f.dtype, prefix)}" for f in dtype.fields)
        return f"{prefix}Struct({{{fields}}})"
    if isinstance(dtype, pl.Enum):
        return f"{prefix}Enum({dtype.categories.to_list()!r})"
    return prefix + name


def parse_dtype(text: str) -> Any:
    """Read back what ``dtype_text`` wrote (with or without ``pl.``); None if it is not a
    Polars dtype. Only Polars dtype names, literals, lists and dicts are evaluated."""
    import polars as pl

    def value(node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.List | ast.Tuple):
            items = [value(e) for e in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.Dict):
            return {value(k): value(v) for k, v in zip(node.keys, node.values, strict=True) if k}
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            return value(ast.Name(node.attr)) if node.value.id == "pl" else _no()
        if isinstance(node, ast.Name):
            found = getattr(pl, node.id, None)
            ok = isinstance(found, type) and issubclass(found, pl.DataType)
            return found if ok else _no()
        if isinstance(node, ast.Call):
            args = [value(a) for a in node.args]
            kwargs = {k.arg: value(k.value) for k in node.keywords if k.arg}
            return value(node.func)(*args, **kwargs)
        return _no()

    try:
        return value(ast.parse(text.strip(), mode="eval").body)
    except (SyntaxError, TypeError, ValueError, _NotADtype):
        return None


class _NotADtype(Exception):
    pass


def _no() -> Any:
    raise _NotADtype


def class_name(name: str) -> str:
    """A class name for a contract or table name.

    >>> class_name("marts.order_items")
    'OrderItems'
    """
    words = "".join(c if c.isalnum() else " " for c in name.split(".")[-1]).split()
    out = "".join(w[:1].upper() + w[1:] for w in words) or "Contract"
    return out if out[0].isalpha() else f"C{out}"


def attribute(name: str, taken: set[str]) -> tuple[str, str | None]:
    """A column's attribute name in the model, and its ``alias`` when the column's own name
    cannot be one: not an ASCII identifier (Python folds other letters with NFKC, so the
    column would silently get another name), a keyword, private, a name pandera's model
    already uses (``validate``, ``Config``), or taken by another column. ``taken`` gets it.

    >>> attribute("order id", set()), attribute("amount", set())
    (('order_id', 'order id'), ('amount', None))
    """
    if name.isascii() and name.isidentifier() and _free(name, taken):
        taken.add(name)
        return name, None
    cleaned = "".join(c if c.isascii() and c.isalnum() else "_" for c in name).strip("_")
    cleaned = cleaned or "column"
    if cleaned[0].isdigit() or not _free(cleaned, set()):
        cleaned = f"c_{cleaned}"
    candidate, n = cleaned, 1
    while not _free(candidate, taken):
        n += 1
        candidate = f"{cleaned}_{n}"
    taken.add(candidate)
    return candidate, name


def _free(name: str, taken: set[str]) -> bool:
    import pandera.polars as pa

    reserved = keyword.iskeyword(name) or name.startswith("_") or hasattr(pa.DataFrameModel, name)
    return not reserved and name not in taken


def check_keyword(check: Any, where: str) -> tuple[str, Source]:
    """``(keyword, value)`` for one check in ``pa.Field``: built-ins by their Field name,
    registered checks by their registered name with their statistics as a dict."""
    from pandera.api.checks import Check

    stats = dict(check.statistics or {})
    if check.name in FIELD_KEYWORDS:
        name, stat = FIELD_KEYWORDS[check.name]
        if check.name == "str_length":
            stats = {k: v for k, v in stats.items() if v is not None}
        value = stats if stat is None else stats.get(stat)
        if stat is not None and isinstance(value, tuple | Mapping):  # Field would unpack it
            value = {stat: value}
        return name, literal(value, where)
    if check.name in Check.REGISTERED_CUSTOM_CHECKS:
        return check.name, literal(stats, where)
    raise ContractError(
        f"{where}: check {check.name or 'without a name'} is a Python function pandera has "
        "not registered, so it cannot be written into a contract file",
        hint="register it with pandera.extensions.register_check_method",
    )


def model_source(
    schema: Any, class_name: str, *, doc: str, comments: Mapping[str, str] | None = None
) -> str:
    """The source of ``contracts/NAME.py`` holding ``schema`` as a DataFrameModel.

    ``comments`` maps a column to a note written above its line (why a column was left out
    or has no bound), so the user sees what the starter contract does not check.
    """
    lines, imports = _column_lines(schema, class_name, comments or {})
    config, needs = _config(schema, class_name)
    registered = ", ".join(sorted(_registered(schema)))
    if registered:  # pa.Field(name=...) only knows a check its module has registered
        lines.insert(
            0, f"    # uses registered checks {registered}: import what registers them first"
        )
    header = ["import polars as pl", "import pandera.polars as pa", ""]
    extra = sorted(imports | needs, key=lambda i: (i.startswith("from"), i))
    body = [f"class {class_name}(pa.DataFrameModel):", f'    """{doc}"""', "", *lines, *config]
    top = [*extra, "", *header] if extra else header
    return "\n".join([*top, "", *body]) + "\n"


def _column_lines(
    schema: Any, class_name: str, comments: Mapping[str, str]
) -> tuple[list[str], set[str]]:
    """One line per checkable column (after its comment, if any), and the imports they need."""
    imports: set[str] = set()
    lines: list[str] = []
    taken: set[str] = set()
    for column in schema.columns.values():
        if comments.get(column.name):
            lines.append(f"    # {comments[column.name]}")
        if column.dtype is None or str(column.dtype) in UNCHECKABLE:
            continue
        line, needs = _column_line(column, f"{class_name}.{column.name}", taken)
        lines.append(line)
        imports |= needs
    return lines, imports


def _registered(schema: Any) -> set[str]:
    checks = [*schema.checks, *(c for col in schema.columns.values() for c in col.checks)]
    return {c.name for c in checks if c.name not in FIELD_KEYWORDS}


def _column_line(column: Any, where: str, taken: set[str]) -> tuple[str, set[str]]:
    name, alias = attribute(column.name, taken)
    args: list[str] = []
    imports: set[str] = set()
    if alias is not None:
        args.append(f"alias={alias!r}")
    _one_of_each(column.checks, where)
    for check in column.checks:
        key, value = check_keyword(check, where)
        args.append(f"{key}={value.text}")
        imports |= value.imports
    if column.nullable:
        args.append("nullable=True")
    if column.unique:
        args.append("unique=True")
    if column.coerce:
        args.append("coerce=True")
    head = f"    {name}: {dtype_text(column.dtype.type)}"
    line = f"{head} = pa.Field({', '.join(args)})" if args else head
    if len(line) > LINE_LENGTH:  # one argument a line, as ruff format would write it
        line = "\n".join([f"{head} = pa.Field(", *(f"        {a}," for a in args), "    )"])
    return line, imports


def _one_of_each(checks: list[Any], where: str) -> None:
    """A ``pa.Field`` takes each check keyword once."""
    names = [c.name for c in checks]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ContractError(
            f"{where}: {len(twice)} check(s) appear more than once ({', '.join(twice)}), which "
            "a DataFrameModel field cannot hold",
            hint="merge them into one check of each kind",
        )


def _config(schema: Any, class_name: str) -> tuple[list[str], set[str]]:
    """The ``Config`` class: table-level uniqueness, strictness and registered checks."""
    lines: list[str] = []
    imports: set[str] = set()
    if schema.unique:
        lines.append(f"        unique = {list(schema.unique)!r}")
    for option in ("strict", "coerce", "ordered"):
        if getattr(schema, option):
            lines.append(f"        {option} = {getattr(schema, option)!r}")
    _one_of_each(schema.checks, class_name)
    for check in schema.checks:
        key, value = check_keyword(check, class_name)
        lines.append(f"        {key} = {value.text}")
        imports |= value.imports
    return (["", "    class Config:", *lines] if lines else []), imports
