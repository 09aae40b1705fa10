"""``[versions]``: the version-store backend, its lakeFS settings and pre-merge checks."""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlops.config.toml import check_keys, line_of
from sqlops.errors import ConfigError

VERSION_BACKENDS = ("local", "lakefs")


@dataclass(frozen=True)
class LakeFSConfig:
    """``[versions.lakefs]``: where the lakeFS backend keeps data versions.

    Endpoint and credentials left empty are taken the way lakectl does: the
    ``LAKECTL_SERVER_ENDPOINT_URL`` / ``LAKECTL_CREDENTIALS_*`` variables, then
    ``~/.lakectl.yaml``. The secret never appears in ``sqlops config`` output.
    """

    endpoint: str = ""
    repository: str = ""
    access_key_id: str = ""
    secret_access_key: str = field(default="", repr=False)
    storage_namespace: str = ""

    def to_dict(self) -> dict[str, str]:
        out = dataclasses.asdict(self)
        out["secret_access_key"] = "***" if self.secret_access_key else ""
        return out


_VERSIONS_KEYS: dict[str, type | tuple[type, ...]] = {
    "backend": str,
    "lakefs": dict,
    "pre_merge": list,
    "author": str,
}


_CHECK_SPEC = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


_LAKEFS_KEYS: dict[str, type | tuple[type, ...]] = {
    f.name: str for f in dataclasses.fields(LakeFSConfig)
}


# lakectl's own variables first, so sqlops's win when both are set
_LAKEFS_ENV = {
    "LAKECTL_SERVER_ENDPOINT_URL": "endpoint",
    "LAKECTL_CREDENTIALS_ACCESS_KEY_ID": "access_key_id",
    "LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY": "secret_access_key",
    "SQLOPS_LAKEFS_ENDPOINT": "endpoint",
    "SQLOPS_LAKEFS_REPOSITORY": "repository",
    "SQLOPS_LAKEFS_STORAGE_NAMESPACE": "storage_namespace",
}


def versions_config(
    raw: dict[str, Any], path: Path | None, text: str
) -> tuple[str, LakeFSConfig, tuple[str, ...]]:
    """``[versions]``: which backend stores data versions, the lakeFS settings, and the
    pre-merge checks (``"module:function"``) every merge runs first."""
    check_keys(raw, _VERSIONS_KEYS, path, text, "versions.")
    backend = os.environ.get("SQLOPS_VERSIONS_BACKEND") or raw.get("backend", "local")
    if backend not in VERSION_BACKENDS:
        raise ConfigError(
            f"versions.backend = {backend!r} is not one of {', '.join(VERSION_BACKENDS)}",
            path=path,
            line=line_of(text, "backend"),
        )
    settings = dict(raw.get("lakefs", {}))
    check_keys(settings, _LAKEFS_KEYS, path, text, "versions.lakefs.")
    for env, key in _LAKEFS_ENV.items():
        if os.environ.get(env):
            settings[key] = os.environ[env]
    checks = raw.get("pre_merge", [])
    for spec in checks:
        if not isinstance(spec, str) or not _CHECK_SPEC.match(spec):
            raise ConfigError(
                f"versions.pre_merge entry {spec!r} is not 'module:function'",
                path=path,
                line=line_of(text, "pre_merge"),
                hint='e.g. pre_merge = ["checks:no_negative_revenue"] for checks.py at the root',
            )
    return backend, LakeFSConfig(**settings), tuple(checks)


def user_name() -> str:
    """Who the version store records as a commit's author when none is given."""
    return os.environ.get("USER") or "sqlops"
