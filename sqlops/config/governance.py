"""The governance sections: ``[governance]``, ``[columns."schema.table"]`` (column tags and
anonymization rules), ``[roles.NAME]`` and ``[approval]``.

Values are checked here, so a mistake names sqlops.toml and its line; what needs the data
(a role naming an unknown table, a row filter that does not parse) is checked when the
policy is compiled. The HMAC secret is read from the environment here and never stored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlops.config.toml import check_keys, check_section, names, section_line
from sqlops.errors import ConfigError, did_you_mean

ANONYMIZE_RULES = ("hash", "mask", "redact", "generalize", "drop")
PII_KINDS = (
    "email",
    "phone",
    "credit_card",
    "ip_address",
    "iban",
    "cpf",
    "cnpj",
    "ssn",
    "date_of_birth",
    "person_name",
    "other",
)
# generalize targets: a date or timestamp cut to a year/month/day, a number to a band of
# width N (age bands), a text to its first N characters (postcode prefix)
_GENERALIZE = re.compile(r"^(year|month|day|band:[1-9]\d*|prefix:[1-9]\d*)$")
_METRIC_RULE = re.compile(r"^\s*(>=|<=|==|>|<)\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")
_DEFAULT_ROLE_ENV = "SQLOPS_ROLE"


@dataclass(frozen=True)
class ColumnPolicy:
    """One column's tags and anonymization rule, from ``[columns."schema.table"]``."""

    table: str
    column: str
    pii: str | None = None
    anonymize: str | None = None
    to: str | None = None
    quasi_identifier: bool = False
    line: int | None = None

    @property
    def tagged(self) -> bool:
        """Whether the column holds personal data: its raw values never leave a report."""
        return bool(self.pii or self.anonymize)


@dataclass(frozen=True)
class RoleConfig:
    """One ``[roles.NAME]``: what a role may read (table globs), the columns it never sees,
    whether tagged columns come back anonymized, and the rows it sees of each table."""

    name: str
    tables: tuple[str, ...]
    deny_columns: tuple[str, ...] = ()
    anonymized: bool = False
    row_filters: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    line: int | None = None


@dataclass(frozen=True)
class ApprovalConfig:
    """``[approval]``: who may approve a model, how many must, and the metric thresholds a
    model must meet before production (``{"accuracy": ">= 0.8"}``)."""

    approvers: tuple[str, ...] = ()
    min_approvers: int = 1
    metrics: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class GovernanceConfig:
    """``[governance]``: protected branches (merges into them run the contracts), where the
    HMAC secret is (an environment variable's name, never the secret), whether every model,
    source and feature view needs an owner, the OpenLineage file, and drift settings."""

    protected_branches: tuple[str, ...] = ("main",)
    hmac_key_env: str = "SQLOPS_HMAC_KEY"
    require_owner: bool = False
    openlineage: str = ""
    drift: Mapping[str, Any] = field(default_factory=dict)


_GOVERNANCE_KEYS: dict[str, type | tuple[type, ...]] = {
    "protected_branches": (list, str),
    "hmac_key_env": str,
    "require_owner": bool,
    "openlineage": str,
    "drift": dict,
}
_COLUMN_KEYS: dict[str, type | tuple[type, ...]] = {
    "pii": str,
    "anonymize": str,
    "to": str,
    "quasi_identifier": bool,
}
_ROLE_KEYS: dict[str, type | tuple[type, ...]] = {
    "tables": (list, str),
    "deny_columns": (list, str),
    "anonymized": bool,
    "row_filters": dict,
    "description": str,
}
_APPROVAL_KEYS: dict[str, type | tuple[type, ...]] = {
    "approvers": (list, str),
    "min_approvers": int,
    "metrics": dict,
}


def governance_config(raw: Mapping[str, Any], path: Path | None, text: str) -> GovernanceConfig:
    check_section(raw, _GOVERNANCE_KEYS, path, text, "governance")
    env = raw.get("hmac_key_env", "SQLOPS_HMAC_KEY")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", env):
        raise ConfigError(
            f"governance.hmac_key_env = {env!r} is not an environment variable name",
            path=path,
            line=section_line(text, "governance", "hmac_key_env"),
            hint='name the variable that holds the secret, e.g. "SQLOPS_HMAC_KEY"',
        )
    return GovernanceConfig(
        protected_branches=names(raw.get("protected_branches", ("main",))),
        hmac_key_env=env,
        require_owner=raw.get("require_owner", False),
        openlineage=raw.get("openlineage", ""),
        drift=dict(raw.get("drift", {})),
    )


def columns_config(
    raw: Mapping[str, Any], path: Path | None, text: str
) -> dict[str, dict[str, ColumnPolicy]]:
    """``[columns."schema.table"]``: ``column = { pii = "email", anonymize = "hash" }``."""
    out: dict[str, dict[str, ColumnPolicy]] = {}
    for table, columns in raw.items():
        where = f"columns.{table}"
        if not isinstance(columns, dict) or table.count(".") != 1:
            raise ConfigError(
                f"{where} must be a table named schema.table",
                path=path,
                line=section_line(text, where),
                hint='write [columns."marts.customers"] email = { pii = "email" }',
            )
        out[table.lower()] = {
            name: _column(table.lower(), name, spec, path, text) for name, spec in columns.items()
        }
    return out


def _column(table: str, name: str, spec: Any, path: Path | None, text: str) -> ColumnPolicy:
    where = f"columns.{table}.{name}"
    line = section_line(text, f"columns.{table}", name)
    if not isinstance(spec, dict):
        raise ConfigError(
            f"{where} must be an inline table",
            path=path,
            line=line,
            hint=f'write {name} = {{ pii = "email", anonymize = "hash" }}',
        )
    check_keys(spec, _COLUMN_KEYS, path, text, f"{where}.", lambda _key: line)
    pii, rule, to = spec.get("pii"), spec.get("anonymize"), spec.get("to")
    for key, value, allowed in (("pii", pii, PII_KINDS), ("anonymize", rule, ANONYMIZE_RULES)):
        if value is not None and value not in allowed:
            raise ConfigError(
                f"{where}.{key} = {value!r} is not one of {', '.join(allowed)}",
                path=path,
                line=line,
                hint=did_you_mean(value, allowed),
            )
    if (rule == "generalize") != (to is not None) or (to and not _GENERALIZE.match(to)):
        raise ConfigError(
            f"{where}: anonymize = 'generalize' goes with to = year, month, day, band:N or "
            f"prefix:N (got to = {to!r})",
            path=path,
            line=line,
            hint='e.g. { anonymize = "generalize", to = "year" }',
        )
    return ColumnPolicy(table, name, pii, rule, to, bool(spec.get("quasi_identifier", False)), line)


def roles_config(raw: Mapping[str, Any], path: Path | None, text: str) -> dict[str, RoleConfig]:
    """``[roles.NAME]``; whether the tables and columns exist is checked against the
    project when the role's views are made."""
    return {name: _role(name, spec, path, text) for name, spec in raw.items()}


def _role(name: str, spec: Any, path: Path | None, text: str) -> RoleConfig:
    where = f"roles.{name}"
    line = section_line(text, where)
    if not isinstance(spec, dict) or not re.fullmatch(r"[A-Za-z_][\w-]*", name):
        raise ConfigError(
            f"{where} must be a table and its name an identifier",
            path=path,
            line=line,
            hint='write [roles.analyst] tables = ["marts.*"]',
        )
    check_section(spec, _ROLE_KEYS, path, text, where)
    tables = names(spec.get("tables", ()))
    if not tables:
        raise ConfigError(
            f"{where} has no tables",
            path=path,
            line=line,
            hint='add tables = ["marts.*"], the globs of what the role may read',
        )
    denied = names(spec.get("deny_columns", ()))
    for column in denied:
        if column.count(".") != 2:
            raise ConfigError(
                f"{where}.deny_columns lists {column!r}, not schema.table.column",
                path=path,
                line=section_line(text, where, "deny_columns"),
            )
    filters = spec.get("row_filters", {})
    for table, condition in filters.items():
        if table.count(".") != 1 or not isinstance(condition, str) or not condition.strip():
            raise ConfigError(
                f"{where}.row_filters: {table!r} = {condition!r} is not "
                '"schema.table" = "<SQL condition>"',
                path=path,
                line=section_line(text, where, "row_filters"),
                hint="""e.g. row_filters = { "marts.orders" = "country = 'BR'" }""",
            )
    return RoleConfig(
        name=name,
        tables=tuple(t.lower() for t in tables),
        deny_columns=tuple(c.lower() for c in denied),
        anonymized=spec.get("anonymized", False),
        row_filters={t.lower(): c for t, c in filters.items()},
        description=spec.get("description", ""),
        line=line,
    )


def approval_config(raw: Mapping[str, Any], path: Path | None, text: str) -> ApprovalConfig:
    check_section(raw, _APPROVAL_KEYS, path, text, "approval")
    approvers = names(raw.get("approvers", ()))
    least = raw.get("min_approvers", 1)
    if least < 1 or (approvers and least > len(set(approvers))):
        raise ConfigError(
            f"approval.min_approvers = {least} must be at least 1 and at most the "
            f"{len(set(approvers))} approver(s) listed",
            path=path,
            line=section_line(text, "approval", "min_approvers"),
        )
    metrics = raw.get("metrics", {})
    for metric, rule in metrics.items():
        if not isinstance(rule, str) or not _METRIC_RULE.match(rule):
            raise ConfigError(
                f"approval.metrics.{metric} = {rule!r} is not a comparison with a number",
                path=path,
                line=section_line(text, "approval", "metrics"),
                hint='write e.g. metrics = { accuracy = ">= 0.8", auc = "> 0.7" }',
            )
    return ApprovalConfig(approvers, least, dict(metrics))


def default_role() -> str:
    """The role ``SQLOPS_ROLE`` names ('' reads as the project's owner)."""
    return os.environ.get(_DEFAULT_ROLE_ENV, "")


def hmac_key(governance: GovernanceConfig) -> bytes | None:
    """The keyed-hash secret from the variable ``hmac_key_env`` names (UTF-8 bytes), or None
    when it is unset or empty; it is read at use and kept in no config or record."""
    value = os.environ.get(governance.hmac_key_env, "")
    return value.encode() if value else None
