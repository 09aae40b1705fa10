"""Declaring a source in the project's config file by appending to its TOML text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlops.config import parse_toml
from sqlops.errors import ConfigError
from sqlops.oserrors import read_text


def with_source(config: Any, name: str, rel: str) -> str:
    """The config file's text with ``[sources."name"]`` appended (checked to parse)."""
    config_file = config.config_file or Path("sqlops.toml")
    path = config.root / config_file
    text = read_text(path, config_file) if path.is_file() else ""
    prefix = "tool.sqlops." if config_file.name == "pyproject.toml" else ""
    block = f'[{prefix}sources."{name}"]\npath = {json.dumps(rel)}\n'
    new = text + ("\n" if text and not text.endswith("\n") else "") + ("\n" if text else "")
    new += block
    try:
        parse_toml(new, config_file)
    except ConfigError as exc:
        raise ConfigError(
            f"cannot declare source {name} in {config_file}: {exc.message}",
            path=config_file,
            hint=f"add it by hand: {block.strip()}",
        ) from exc
    return new
