"""The type names of sources' ``columns`` checked when the project loads.

A misspelt type (``ordered_at = "DAET"``) otherwise surfaces only when a build reads the
source, blaming the source instead of the config key. Plain names are checked against
DuckDB's built-in type names without importing DuckDB (loading stays cheap); anything else
(``DECIMAL(10,2)``, ``INTEGER[]``, ``STRUCT(...)``) is parsed by DuckDB itself.
"""

from __future__ import annotations

import re

from sqlops.config import Config, line_of
from sqlops.errors import ConfigError, did_you_mean
from sqlops.oserrors import read_text

# DuckDB's built-in type names and aliases (``SELECT type_name FROM duckdb_types()``)
_BUILTIN = frozenset(
    """BIGINT BIGNUM BINARY BIT BITSTRING BLOB BOOL BOOLEAN BPCHAR BYTEA CHAR DATE DATETIME DEC
    DECIMAL DOUBLE FLOAT FLOAT4 FLOAT8 GUID HUGEINT INT INT1 INT128 INT16 INT2 INT32 INT4 INT64
    INT8 INTEGER INTERVAL JSON LOGICAL LONG NUMERIC NVARCHAR OID REAL SHORT SIGNED SMALLINT
    STRING TEXT TIME TIMESTAMP TIMESTAMPTZ TIMESTAMP_MS TIMESTAMP_NS TIMESTAMP_S TIMESTAMP_US
    TIMETZ TINYINT UBIGINT UHUGEINT UINT128 UINT16 UINT32 UINT64 UINT8 UINTEGER USMALLINT
    UTINYINT UUID VARBINARY VARCHAR VARINT""".split()  # noqa: SIM905 (a list this long reads better as words)
) | {"TIMESTAMP WITH TIME ZONE", "TIME WITH TIME ZONE", "DOUBLE PRECISION"}


def check_column_types(config: Config) -> None:
    """Raise a ConfigError naming the file, line and key of the first unknown type name."""
    for source in config.sources.values():
        for column, name in source.columns.items():
            if not isinstance(name, str):
                problem: str | None = "is not a string"
            elif " ".join(name.upper().split()) in _BUILTIN:
                continue
            else:
                from sqlops.execute.engine import type_problem

                problem = type_problem(name)
            if problem is not None:
                raise ConfigError(
                    f"sources.{source.name}.columns.{column} = {name!r}: {problem}",
                    path=config.config_file,
                    line=_line(config, column),
                    hint=did_you_mean(str(name).upper(), _BUILTIN)
                    or "use a DuckDB type name: VARCHAR, BIGINT, DOUBLE, DATE, TIMESTAMP, ...",
                )


def _line(config: Config, key: str) -> int | None:
    if config.config_file is None:
        return None
    text = read_text(config.root / config.config_file)
    # `columns = { key = "T" }` on one line, or `key = "T"` under [sources."x".columns]
    pattern = rf'^\s*(columns\s*=.*[{{,]\s*)?"?{re.escape(key)}"?\s*='
    found = re.search(pattern, text, re.MULTILINE)
    return text.count("\n", 0, found.start()) + 1 if found else line_of(text, "columns")
