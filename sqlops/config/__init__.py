"""The project configuration: ``load_config()`` reads defaults < sqlops.toml / [tool.sqlops]
< SQLOPS_* environment < flags into one frozen ``Config``.

One module per section behind the one loader (``loader.py``): ``sources``, ``engine``,
``versions``, ``features`` and ``governance``; ``toml`` reads the file and checks keys.
"""

from __future__ import annotations

from sqlops.config.engine import CSV_READERS, EXECUTORS
from sqlops.config.features import (
    EntityConfig,
    FeatureConfig,
    FeatureViewConfig,
    RelationshipConfig,
    parse_duration,
)
from sqlops.config.loader import Config, find_root, load_config
from sqlops.config.sources import SOURCE_FORMATS, SourceConfig
from sqlops.config.toml import CONFIG_FILE, PYPROJECT, line_of, parse_toml, section_line
from sqlops.config.versions import VERSION_BACKENDS, LakeFSConfig, user_name

__all__ = [
    "CONFIG_FILE",
    "CSV_READERS",
    "EXECUTORS",
    "PYPROJECT",
    "SOURCE_FORMATS",
    "VERSION_BACKENDS",
    "Config",
    "EntityConfig",
    "FeatureConfig",
    "FeatureViewConfig",
    "LakeFSConfig",
    "RelationshipConfig",
    "SourceConfig",
    "find_root",
    "line_of",
    "load_config",
    "parse_duration",
    "parse_toml",
    "section_line",
    "user_name",
]
