"""Reading the config file: TOML parsed in one place (its errors become ConfigErrors with
the line), keys checked against what each section allows, and the lines keys stand on."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlops.errors import ConfigError, did_you_mean
from sqlops.oserrors import read_text

CONFIG_FILE = "sqlops.toml"


PYPROJECT = "pyproject.toml"


def parse_toml(text: str, shown: Path) -> dict[str, Any]:
    """TOML text as a dict; the one place TOML errors become ConfigErrors (with the line)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        raise ConfigError(
            f"invalid TOML: {re.sub(r' [(]at .*[)]', '', str(exc))}",
            path=shown,
            line=int(found.group(1)) if found else None,
            hint="fix the syntax",
        ) from exc


def read_file(root: Path) -> tuple[dict[str, Any], Path | None, str]:
    for name in (CONFIG_FILE, PYPROJECT):
        path = root / name
        if not path.is_file():
            continue
        text = read_text(path, path.relative_to(root))
        data = parse_toml(text, path.relative_to(root))
        if name == PYPROJECT:
            data = data.get("tool", {}).get("sqlops")
            if data is None:
                continue
        return dict(data), path.relative_to(root), text
    return {}, None, ""


def check_keys(
    raw: Mapping[str, Any],
    allowed: Mapping[str, type | tuple[type, ...]],
    path: Path | None,
    text: str,
    prefix: str,
    line: Callable[[str], int | None] | None = None,
) -> None:
    """Refuse an unknown key or a value of the wrong type; ``line(key)`` finds the key's line
    (by default its first line in the file)."""
    find = line or (lambda key: line_of(text, key))  # searched only for an error
    for key, value in raw.items():
        if key not in allowed:
            hint = did_you_mean(key, allowed) or f"known keys: {', '.join(sorted(allowed))}"
            raise ConfigError(
                f"unknown config key {prefix}{key}", path=path, line=find(key), hint=hint
            )
        want = allowed[key]
        # bool is a subclass of int: True is a valid value only of a key declared bool
        types = want if isinstance(want, tuple) else (want,)
        if not isinstance(value, want) or (isinstance(value, bool) and bool not in types):
            names = " or ".join(t.__name__ for t in types)
            raise ConfigError(
                f"config key {prefix}{key} must be a {names}, got {value!r}",
                path=path,
                line=find(key),
            )


def check_section(
    raw: Mapping[str, Any],
    allowed: Mapping[str, type | tuple[type, ...]],
    path: Path | None,
    text: str,
    where: str,
) -> None:
    """Like ``check_keys``, with each line searched inside ``where``'s own section."""
    check_keys(raw, allowed, path, text, f"{where}.", lambda key: section_line(text, where, key))


def names(value: str | list[Any] | tuple[Any, ...]) -> tuple[str, ...]:
    """A list of names, or one name / a comma-separated string of them."""
    items = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return tuple(v.strip() for v in items if v.strip())


def line_of(text: str, key: str) -> int | None:
    """Best-effort line number of ``key`` in TOML text (tomllib does not report positions)."""
    pattern = re.compile(rf'^\s*(\[.*)?"?{re.escape(key)}"?\s*[=\]."]', re.MULTILINE)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def section_line(text: str, section: str, key: str | None = None) -> int | None:
    """The line of ``[section]`` (or ``[tool.sqlops.section]``), or of ``key`` inside it;
    falls back to the section's line, then to any line naming the section's last part."""
    lines = text.splitlines()
    parts = section.split(".")
    header = re.compile(
        r"^\s*\[\s*(tool\.sqlops\.)?"
        + r"\s*\.\s*".join(rf'"?{re.escape(p)}"?' for p in parts)
        + r"\s*\]"
    )
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if start is None:
        return line_of(text, key or parts[-1])
    if key is not None:
        named = re.compile(rf'^\s*"?{re.escape(key)}"?\s*[=.]')
        for i in range(start + 1, len(lines)):
            if lines[i].lstrip().startswith("["):
                break
            if named.match(lines[i]):
                return i + 1
    return start + 1


def key_line(lines: list[str], header: int | None, key: str) -> int | None:
    """The line of ``key = ...`` in the table starting at line ``header``, else ``header``."""
    if header is None:
        return None
    named = re.compile(rf"^\s*{key}\s*=")
    for i in range(header, len(lines)):
        if lines[i].lstrip().startswith("["):
            break
        if named.match(lines[i]):
            return i + 1
    return header
