"""The sandbox a role's SQL runs in: one function that returns a locked-down connection on
the role's file or refuses, and ``role_query``, which puts the allow-list in front of it.

Two layers, each enough on its own for what it covers: sqlglot's allow-list
(``project/sqlcheck.py``) refuses anything but one SELECT over the role's tables; DuckDB's
lock-down (no file access, no extensions, no secrets, no Python replacement scans, the
configuration locked) holds for SQL that reaches DuckDB by any other way. Nothing is
filtered in Python: the role's file holds only what the role may see.

What DuckDB lets through, the allow-list stops: reading the role's own file back
(``read_blob``, ``FROM 'file'``: the role's data only), settings (``current_setting``,
``duckdb_settings()``), ``DESCRIBE``/``SUMMARIZE`` and TEMP tables (the role's data only).
This is policy inside sqlops, not protection from someone who can read the project's
files: the warehouse, the objects and the role files are plain files. Keeping a role from
the data itself is the storage's job (lakeFS's RBAC policies per repository, branch and
path prefix; file permissions locally); a role file is then the one thing a role is given.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlops.errors import ExecutionError, PolicyDenied, SqlopsError
from sqlops.execute.engine import Engine, Where
from sqlops.governance.policy import META_SCHEMA, role_meta
from sqlops.project.sqlcheck import role_sql_violations

if TYPE_CHECKING:
    import polars as pl

CATALOG = "sqlops_role"  # the role file's name on the sandbox connection
# in order: what the connection may reach, then nothing may change it. No path is allowed;
# DuckDB itself then allows what it needs (read back in ``_verify``): the attached role
# file with its write-ahead log names, and the temp directory where a large query spills,
# so each sandbox gets a private one rather than the ``.tmp`` other connections share.
LOCKDOWN: tuple[tuple[str, str], ...] = (
    ("allowed_directories", "[]"),
    ("allowed_paths", "[]"),
    ("allowed_configs", "[]"),
    ("autoload_known_extensions", "false"),
    ("autoinstall_known_extensions", "false"),
    ("allow_community_extensions", "false"),
    ("allow_unsigned_extensions", "false"),
    ("allow_persistent_secrets", "false"),
    ("python_enable_replacements", "false"),
    ("python_scan_all_frames", "false"),
    ("enable_external_access", "false"),
    ("lock_configuration", "true"),
)
_ROLE_FILES = ("", ".wal", ".wal.recovery", ".wal.checkpoint")
_FUNCTIONS = (
    "SELECT DISTINCT function_name FROM duckdb_functions() "
    "WHERE function_type IN ('scalar', 'aggregate', 'macro', 'window')"
)
_MISSING_COLUMN = re.compile(r'column (?:with name )?"?([^"\s]+)"? (?:not found|does not exist)')
_QUOTED = re.compile(r"'(?:[^']|'')*'")


@dataclass(frozen=True)
class Sandbox:
    """A locked-down connection on one role's file, with what the allow-list needs."""

    engine: Engine
    role: str
    relations: Mapping[str, tuple[str, ...]]
    functions: frozenset[str]
    denied: tuple[str, ...] = ()
    scratch: Path | None = None  # the private temp directory, removed at close

    def close(self) -> None:
        try:
            self.engine.close()
        finally:
            if self.scratch is not None:
                shutil.rmtree(self.scratch, ignore_errors=True)


def open_sandbox(
    role_db: Path, role: str, *, threads: int | None = None, memory_limit: str | None = None
) -> Sandbox:
    """An in-memory connection with the role's file attached read-only as its default
    catalog, then locked down; the settings are read back and any that differs refuses.
    A role file made for another role refuses too."""
    role_db = role_db.resolve()
    meta = role_meta(role_db)
    if meta.get("role") != role:
        raise PolicyDenied(
            f"no role file for it at {role_db}",
            role=role,
            target=str(role_db),
            hint="materialize the role's tables first (materialize_role)",
        )
    engine = Engine.open(threads=threads, memory_limit=memory_limit, macros=False)
    scratch = Path(tempfile.mkdtemp(prefix="sqlops-role-"))
    try:
        engine.execute(f"ATTACH {_literal(role_db)} AS {CATALOG} (READ_ONLY)")
        engine.execute(f"USE {CATALOG}")
        engine.execute(f"SET temp_directory = {_literal(scratch)}")
        for name, value in LOCKDOWN:
            engine.execute(f"SET {name} = {value}")
        _verify(engine, role, role_db, scratch)
        return Sandbox(
            engine,
            role,
            _relations(engine),
            frozenset(str(r[0]) for r in engine.execute(_FUNCTIONS).fetchall()),
            tuple(json.loads(meta.get("denied", "[]"))),
            scratch,
        )
    except BaseException:
        engine.close()
        shutil.rmtree(scratch, ignore_errors=True)
        raise


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _verify(engine: Engine, role: str, role_db: Path, scratch: Path) -> None:
    """Refuse unless every lock-down setting reads back as set (the path lists holding only
    the role's file and the private temp directory), the role's file is the default
    catalog and read-only, and no other file is attached."""
    names = [name for name, _ in LOCKDOWN]
    rows = engine.execute(
        "SELECT name, value FROM duckdb_settings() WHERE list_contains(?, name)", [names]
    ).fetchall()
    actual = {str(name): str(value) for name, value in rows}
    for name, value in LOCKDOWN:
        if not _holds(name, value, actual.get(name), role_db, scratch):
            raise PolicyDenied(
                f"the sandbox setting {name} reads {actual.get(name)!r}, not {value}",
                role=role,
                target=name,
                hint="this DuckDB build cannot be locked down; upgrade or report it",
            )
    current = engine.execute("SELECT current_database()").fetchall()[0][0]
    attached = engine.execute(
        "SELECT database_name, readonly FROM duckdb_databases() WHERE NOT internal"
    ).fetchall()
    files = {str(name): bool(ro) for name, ro in attached if name != "memory"}
    if current != CATALOG or files != {CATALOG: True}:
        raise PolicyDenied(
            f"the sandbox attaches {sorted(files)} (default {current}), not only its role file",
            role=role,
            target=CATALOG,
        )


def _holds(name: str, value: str, actual: str | None, role_db: Path, scratch: Path) -> bool:
    if actual is None:
        return False
    if name == "allowed_directories":
        return _listed(actual) == {f"{scratch}/"}
    if name == "allowed_paths":
        return _listed(actual) <= {f"{role_db}{suffix}" for suffix in _ROLE_FILES}
    return actual.lower() == value


def _listed(value: str) -> set[str]:
    """DuckDB's text of a list setting, ``[a, b]``, as a set (paths hold no ``, ``)."""
    inner = value.strip().removeprefix("[").removesuffix("]").strip()
    return set(inner.split(", ")) if inner else set()


def _relations(engine: Engine) -> dict[str, tuple[str, ...]]:
    rows = engine.execute(
        "SELECT schema_name || '.' || table_name, column_name FROM duckdb_columns() "
        "WHERE database_name = ? AND schema_name <> ? ORDER BY column_index",
        [CATALOG, META_SCHEMA],
    ).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(str(table), []).append(str(column))
    return {name: tuple(cols) for name, cols in tables.items()}


def role_query(sandbox: Sandbox, sql: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
    """Run one SELECT as the role: the allow-list first (a one-line ``PolicyDenied``
    naming what it refused), then the sandbox connection."""
    role = sandbox.role
    problems = role_sql_violations(sql, sandbox.relations, sandbox.functions)
    if not problems:
        problems = _duckdb_reads_one_select(sandbox.engine, sql)
    if problems:
        raise PolicyDenied(
            "; ".join(problems),
            role=role,
            target=problems[0],
            hint="run one SELECT over "
            f"the role's tables ({', '.join(sorted(sandbox.relations)) or 'none'})",
        )
    try:
        frame = sandbox.engine.polars(sql, params or None)
    except SqlopsError as exc:
        raise _query_error(sandbox, exc) from exc
    if frame is None:  # the allow-list passed only a query, so this is a bug
        raise PolicyDenied("the statement returned no rows", role=role, target=sql)
    return frame


def _duckdb_reads_one_select(engine: Engine, sql: str) -> list[str]:
    """DuckDB's own parser must read the text as sqlglot did, one SELECT: a text the two
    parsers split differently (comments, quoting) is refused rather than trusted."""
    try:
        engine.statements(sql, Where(path="<query>"))
    except SqlopsError:
        return ["the query does not parse as DuckDB SQL"]
    kinds = [statement.type.name for statement in engine.con.extract_statements(sql)]
    if kinds != ["SELECT"]:
        return [f"DuckDB reads {', '.join(kinds) or 'nothing'}, not one SELECT"]
    return []


def _query_error(sandbox: Sandbox, exc: SqlopsError) -> SqlopsError:
    """A failed role query as one line. The role's file holds only masked values of the
    rows the role may see (denied columns absent, filtered rows absent), so an error can
    only echo what the role may read anyway; quoted values are still cut, so an error never
    carries a value at all (a log or an audit line may keep it)."""
    message = exc.message.strip().splitlines()[0] if exc.message.strip() else "query failed"
    missing = _MISSING_COLUMN.search(message)
    if missing:
        name = missing.group(1).lower()
        hits = [c for c in sandbox.denied if c.rsplit(".", 1)[1] == name]
        if hits:
            return PolicyDenied(
                f"the column {hits[0]} is denied", role=sandbox.role, target=hits[0]
            )
    message = _QUOTED.sub("'…'", message)
    return ExecutionError(f"role {sandbox.role}: {message}")
