"""``sqlops pii scan``: which columns hold personal data, whatever their tags say, and how
identifiable the declared quasi-identifiers leave each row (k-anonymity); ``--apply`` writes
the proposed tags into the config file, leaving its other lines and comments as they were."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlops.api.audit import record
from sqlops.api.query import QueryMixin
from sqlops.config import parse_toml
from sqlops.errors import ConfigError, UnknownTableError, did_you_mean
from sqlops.oserrors import read_text

if TYPE_CHECKING:
    from sqlops.governance.kanon import KAnonymity
    from sqlops.governance.pii import PiiFinding


@dataclass(frozen=True)
class PiiReport:
    """Findings per column (names, kinds and rates: never a value), k-anonymity per table
    with quasi-identifiers, and the tags ``--apply`` wrote."""

    findings: tuple[PiiFinding, ...]
    k_anonymity: tuple[KAnonymity, ...] = ()
    applied: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)

    @property
    def untagged(self) -> list[PiiFinding]:
        return [f for f in self.findings if not f.declared]

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [f.to_dict() for f in self.findings],
            "k_anonymity": [k.to_dict() for k in self.k_anonymity],
            "applied": {t: dict(c) for t, c in self.applied.items()},
        }


class PrivacyMixin(QueryMixin):
    """``pii_scan``."""

    def pii_scan(
        self,
        tables: Sequence[str] = (),
        *,
        apply: bool = False,
        sample_rows: int | None = None,
    ) -> PiiReport:
        """Scan the built tables (all by default) by column names and validated values."""
        from sqlops.execute.materialize import qualified
        from sqlops.governance.kanon import k_anonymity
        from sqlops.governance.pii import proposed_tags, scan

        spec = self.load()
        engine = self._open_warehouse(read_only=True)
        findings: list[PiiFinding] = []
        kanon: list[KAnonymity] = []
        try:
            built = engine.relations()
            known = sorted(n for n in (*spec.sources, *spec.models) if n in built)
            for name in [t.lower() for t in tables] or known:
                if name not in built:
                    raise UnknownTableError(
                        name, hint=did_you_mean(name, known) or "run `sqlops build` first"
                    )
                relation = qualified(name)
                columns = engine.describe(f"SELECT * FROM {relation}")
                declared = self.config.columns.get(name, {})
                findings += scan(engine, relation, name, columns, declared, sample_rows=sample_rows)
                measured = k_anonymity(engine, relation, name, declared)
                kanon += [measured] if measured is not None else []
        finally:
            engine.close()
        applied = proposed_tags(findings) if apply else {}
        if applied:
            self._write_tags(applied)
        details = {"columns": len(findings), "untagged": sum(not f.declared for f in findings)}
        record(self, "pii_scan", ",".join(tables) or "all", "applied" if applied else "ok", details)
        return PiiReport(tuple(findings), tuple(kanon), applied)

    def _write_tags(self, tags: Mapping[str, Mapping[str, Mapping[str, str]]]) -> None:
        config_file = self.config.config_file or Path("sqlops.toml")
        path = self.root / config_file
        text = read_text(path, config_file) if path.is_file() else ""
        new = with_column_tags(text, tags, config_file.name == "pyproject.toml")
        try:
            parse_toml(new, config_file)
        except ConfigError as exc:
            raise ConfigError(
                f"cannot write the proposed tags into {config_file}: {exc.message}",
                path=config_file,
                hint="add them by hand (sqlops pii scan --json lists them)",
            ) from exc
        path.write_text(new)


def with_column_tags(
    text: str, tags: Mapping[str, Mapping[str, Mapping[str, str]]], pyproject: bool
) -> str:
    """``text`` with a ``column = { pii = "kind" }`` line per proposed tag: inside the
    table's existing ``[columns."t"]`` section (right under its header), else in a new
    section at the end; a column the section already lists is left as the user wrote it.

    >>> print(with_column_tags('[columns."a.b"]\\nx = { pii = "email" }\\n',
    ...                        {"a.b": {"y": {"pii": "cpf"}}}, False), end="")
    [columns."a.b"]
    y = { pii = "cpf" }
    x = { pii = "email" }
    """
    lines = text.splitlines(keepends=True)
    prefix = "tool.sqlops." if pyproject else ""
    for table, columns in tags.items():
        header = re.compile(
            rf'^\s*\[\s*{re.escape(prefix)}columns\s*\.\s*"{re.escape(table)}"\s*\]', re.I
        )
        at = next((i for i, line in enumerate(lines) if header.match(line)), None)
        if at is None:
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n"
            lines += ["\n", f'[{prefix}columns."{table}"]\n']
            at = len(lines) - 1
        present = _section_keys(lines, at)
        new = [
            f"{_key(column)} = {{ pii = {json.dumps(tag['pii'])} }}\n"
            for column, tag in columns.items()
            if column not in present
        ]
        lines[at + 1 : at + 1] = new
    return "".join(lines)


def _section_keys(lines: list[str], header: int) -> set[str]:
    keys = set()
    for line in lines[header + 1 :]:
        if line.lstrip().startswith("["):
            break
        found = re.match(r'^\s*"?([^"=\s]+)"?\s*=', line)
        if found:
            keys.add(found.group(1))
    return keys


def _key(column: str) -> str:
    return column if re.fullmatch(r"[A-Za-z0-9_-]+", column) else json.dumps(column)
