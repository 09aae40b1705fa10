"""Reading as a role: the role's plan compiled from the owner's warehouse, its DuckDB file
refreshed when stale, and a locked-down sandbox on it that every read path goes through
(``Project.sql``/``table``/``export``, ``sqlops.query``/``run_file``, training sets).

Without a role (``Config.role == ''``) sqlops reads as the project's owner: full access.
The role's view is the sandbox's; nothing here filters rows or columns in Python. Every
``PolicyDenied`` raised on a read path is appended to the audit log as ``denied_read``
(names only: never the query's literals or a value).
"""

from __future__ import annotations

import hashlib
import re
import threading
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlops.api.audit import record
from sqlops.api.base import ProjectBase
from sqlops.config.governance import ColumnPolicy, RoleConfig, hmac_key
from sqlops.errors import PolicyDenied, PolicyError, UnknownTableError, did_you_mean

if TYPE_CHECKING:
    import polars as pl

    from sqlops.execute.engine import Engine
    from sqlops.governance.policy import RolePlan
    from sqlops.governance.sandbox import Sandbox

ROLES_DIR = "roles"
_FEATURES = "features."  # the schema of feature views' relations in the warehouse
_QUOTED = re.compile(r"'(?:[^']|'')*'")
_LOCK = threading.RLock()  # a DuckDB connection serves one query at a time


@dataclass(frozen=True)
class ExportResult:
    """What ``Project.export`` wrote: the table, the file, its rows and the role ('' = owner)."""

    table: str
    path: Path
    rows: int
    role: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "path": str(self.path), "rows": self.rows, "role": self.role}


def table_key(name: str) -> str:
    """``schema.table`` in lower case (``main.`` when the schema is left out).

    >>> table_key("Orders")
    'main.orders'
    """
    return name.lower() if "." in name else f"main.{name.lower()}"


class RoleMixin(ProjectBase):
    """``export`` and what every read path under a role goes through."""

    def export(self, table: str, out: Path | str, role: str | None = None) -> ExportResult:
        """Write ``table`` as ``role`` sees it (default: the project's role; '' or none: the
        owner's full table) to ``out`` (.parquet, .csv, .json, .ndjson); recorded in the
        audit log with its row count."""
        from sqlops.api.query import write_output

        as_role = self.config.role if role is None else role
        frame = self._read_table(table, as_role)
        path = write_output(frame, out)
        key = table_key(table)
        record(self, "export", key, "ok", {"role": as_role, "rows": frame.height})
        return ExportResult(key, path, frame.height, as_role)

    # -- reading as a role -------------------------------------------------------------

    def _read_table(self, name: str, role: str) -> pl.DataFrame:
        """The whole table as ``role`` sees it ('' = the owner)."""
        from sqlops.execute.materialize import qualified

        key = table_key(name)
        if not role:
            engine = self._open_warehouse(read_only=True)
            try:
                relations = engine.relations()
                if key not in relations:
                    raise UnknownTableError(
                        name, hint=did_you_mean(key, relations) or "run `sqlops build` first"
                    )
                return engine.polars(f"SELECT * FROM {qualified(key)}")
            finally:
                engine.close()
        with self._audited(role), self._role_sandbox(role) as sandbox:
            if key not in sandbox.relations:
                raise PolicyDenied(
                    f"the table {key} is not one the role may read",
                    role=role,
                    target=key,
                    hint=did_you_mean(key, sandbox.relations)
                    or f"the role reads {', '.join(sorted(sandbox.relations))}",
                )
            from sqlops.governance.sandbox import role_query

            return role_query(sandbox, f"SELECT * FROM {qualified(key)}")

    def _role_sql(self, sql: str, params: Mapping[str, Any] | None, role: str) -> pl.DataFrame:
        """One SELECT run as ``role`` through the allow-list and the sandbox."""
        from sqlops.governance.sandbox import role_query

        with self._audited(role), self._role_sandbox(role) as sandbox:
            return role_query(sandbox, sql, params)

    @contextmanager
    def _audited(self, role: str) -> Iterator[None]:
        """Record every ``PolicyDenied`` raised inside as a ``denied_read``, then re-raise."""
        try:
            yield
        except PolicyDenied as exc:
            self._record_denied(role, exc)
            raise

    def _record_denied(self, role: str, exc: PolicyDenied) -> None:
        # the target names what was refused; quoted text is cut, so no literal is kept
        target = _QUOTED.sub("'…'", exc.target or "")[:200]
        record(self, "denied_read", target, "denied", {"role": exc.role or role})

    @contextmanager
    def _role_sandbox(self, role: str) -> Iterator[Sandbox]:
        """A locked-down connection on ``role``'s file, refreshed first when it is missing
        or stale (another plan, other data, another HMAC key).

        The sandbox is kept open on this project object while nothing it was made from
        changed: the warehouse file and its write-ahead log, the role file and the HMAC
        key (by digest). Any change re-checks the role's signature, so a stale file is
        never served; one role read runs at a time per project object."""
        with _LOCK:
            key = self._sandbox_key(role)
            cached = self.__dict__.get("_role_sandboxes", {}).get(role)
            if cached is None or cached[0] != key:
                if cached is not None:
                    cached[1]()  # the finalizer: closes the old sandbox once
                sandbox = self._open_role_sandbox(role)
                closer = weakref.finalize(self, sandbox.close)
                self.__dict__.setdefault("_role_sandboxes", {})[role] = (
                    self._sandbox_key(role),
                    closer,
                    sandbox,
                )
            yield self.__dict__["_role_sandboxes"][role][2]

    def _sandbox_key(self, role: str) -> tuple[Any, ...]:
        warehouse = self.config.warehouse_path
        key = hmac_key(self.config.governance) or b""
        return (
            _stat(warehouse),
            _stat(warehouse.with_name(warehouse.name + ".wal")),
            _stat(self._role_file(role)),
            hashlib.sha256(key).hexdigest(),
        )

    def _role_file(self, role: str) -> Path:
        return self.config.state_path / ROLES_DIR / f"{role}.duckdb"

    def _open_role_sandbox(self, role: str) -> Sandbox:
        from sqlops.governance.policy import refresh_role
        from sqlops.governance.sandbox import open_sandbox

        config = self._role_config(role)
        target = self._role_file(role)
        owner = self._open_warehouse(read_only=True, macros=False)
        try:
            state = owner.read_state()
            plan, params = self._role_plan(config, self._role_relations(owner, state))
            refresh_role(owner, plan, target, params, _identities(plan, state))
        finally:
            owner.close()
        return open_sandbox(
            target, role, threads=self.config.duckdb_threads, memory_limit=self.config.memory_limit
        )

    def _role_config(self, role: str) -> RoleConfig:
        roles = self.config.roles
        if role not in roles:
            raise PolicyError(
                f"unknown role {role!r}",
                hint=did_you_mean(role, roles) or "declare it as [roles.NAME] in sqlops.toml",
            )
        return roles[role]

    def _role_relations(
        self, owner: Engine, state: Mapping[str, Any]
    ) -> dict[str, tuple[tuple[str, str], ...]]:
        """The warehouse's sources, models and feature views' relations with their columns;
        never sqlops' own tables."""
        built = {name.lower() for name in state}
        return {
            name: cols
            for name, cols in owner.all_columns().items()
            if name.lower() in built or name.lower().startswith(_FEATURES)
        }

    def _role_plan(
        self, role: RoleConfig, relations: Mapping[str, tuple[tuple[str, str], ...]]
    ) -> tuple[RolePlan, dict[str, Any]]:
        """The role's plan and the parameters its SELECTs bind: the HMAC pads only when a
        column the role reads has a ``hash`` rule (a missing secret is a ``PrivacyError``)."""
        from sqlops.governance.anonymize import column_expression, hmac_params
        from sqlops.governance.policy import compile_role

        hashed: list[ColumnPolicy] = []

        def mask(policy: ColumnPolicy, column: str, dtype: str) -> str | None:
            expr = column_expression(policy, column, dtype)
            if expr is not None and policy.anonymize == "hash":
                hashed.append(policy)
            return expr

        columns = {t.lower(): dict(c) for t, c in self.config.columns.items()}
        plan = compile_role(role, relations, columns, mask)
        if not hashed:
            return plan, {}
        first = hashed[0]
        key = hmac_key(self.config.governance)
        return plan, dict(hmac_params(key, column=f"{first.table}.{first.column}"))


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _identities(plan: RolePlan, state: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Each table's identity from the warehouse state: its build fingerprint and stored
    objects (a feature view's relation takes its view name and every node's, since its
    definition lives in the config)."""
    everything = hashlib.sha256(
        repr(sorted((n, s.get("fingerprint"), s.get("objects")) for n, s in state.items())).encode()
    ).hexdigest()
    out: dict[str, str] = {}
    for table in plan.tables:
        entry = state.get(table.name) or next(
            (s for n, s in state.items() if n.lower() == table.name), None
        )
        if entry is None or not entry.get("objects"):  # a view reads what its inputs hold
            out[table.name] = f"{table.name}:{everything}"
        else:
            body = repr((entry.get("fingerprint"), entry.get("objects"), entry.get("rows")))
            out[table.name] = hashlib.sha256(body.encode()).hexdigest()
    return out
