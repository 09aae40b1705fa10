"""Reading tables and running SQL: on a project's warehouse or a version of it, on frames,
or as scripts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlops.api.roles import RoleMixin, table_key
from sqlops.config import Config, load_config
from sqlops.errors import OutputError, PolicyDenied, SqlopsError, UnknownTableError, did_you_mean
from sqlops.execute.polarserrors import polars_errors
from sqlops.oserrors import read_text

if TYPE_CHECKING:
    import polars as pl

    from sqlops.execute.engine import Engine


class QueryMixin(RoleMixin):
    """``table``, ``sql`` and ``engine_at``; under a role (``Config.role``), ``table`` and
    ``sql`` read the role's sandbox."""

    def table(self, name: str, ref: str | None = None) -> pl.DataFrame:
        """A built model or source as a Polars DataFrame; with ``ref`` (branch, tag, commit,
        ``main~1``), as it was committed there (not under a role)."""
        if ref is not None:
            self._refuse_under_role(f"ref={ref}", table_key(name))
            return self._table_at(name, ref)
        return self._read_table(name, self.config.role)

    def _refuse_under_role(self, what: str, target: str) -> None:
        """Under a role, a read path the sandbox does not serve is refused and audited."""
        role = self.config.role
        if not role:
            return
        with self._audited(role):
            raise PolicyDenied(
                f"{what} is not readable under a role: roles read the checked-out warehouse only",
                role=role,
                target=target,
                hint="drop it, or read as the owner (no --role, SQLOPS_ROLE unset)",
            )

    def sql(
        self,
        query: str,
        params: Mapping[str, Any] | None = None,
        *,
        ref: str | None = None,
        **frames: Any,
    ) -> pl.DataFrame:
        """Run one query against the warehouse, or against version ``ref`` (branch, tag,
        commit, ``main~1``). ``$name`` parameters come from ``params``; keyword arguments
        are Polars/pandas/Arrow frames the query reads by their names.

        (The older ``sql(query, ref, **params)`` still works, with a DeprecationWarning.)
        """
        params, ref, frames = _old_form(params, ref, frames)
        if self.config.role:
            if ref is not None:
                self._refuse_under_role(f"ref={ref}", "ref")
            if frames:
                self._refuse_under_role(f"the frames {', '.join(sorted(frames))}", "frames")
            return self._role_sql(query, params, self.config.role)
        engine = self._open_warehouse(read_only=True) if ref is None else self.engine_at(ref)
        return _run_one(engine, query, params, frames)

    def _table_at(self, name: str, ref: str) -> pl.DataFrame:
        from sqlops.execute.engine import Engine
        from sqlops.versioning.workspace import read_version

        store = self.versions
        cid = store.resolve(ref)
        tree = store.get_commit(cid).tree
        key = name.lower() if "." in name else f"main.{name.lower()}"
        if key not in tree:
            raise UnknownTableError(
                name, hint=did_you_mean(key, tree) or f"{ref} ({cid[:12]}) has no such table"
            )
        self._fetch([tree[key]])
        engine = Engine.open(macros=False)
        try:
            frame: pl.DataFrame = read_version(engine, self.objects, tree[key])
            return frame
        finally:
            engine.close()

    def engine_at(self, ref: str) -> Engine:
        """A scratch DuckDB connection whose views show every table as committed at ``ref``."""
        from sqlops.execute.engine import Engine
        from sqlops.versioning.workspace import attach_views

        store = self.versions
        commit = store.get_commit(store.resolve(ref))
        self._fetch(commit.tree.values())
        engine = Engine.open()
        attach_views(engine, self.objects, commit)
        return engine


def sql(
    query: str,
    params: Mapping[str, Any] | None = None,
    *,
    project: Path | str | None = None,
    ref: str | None = None,
    role: str | None = None,
    **frames: Any,
) -> pl.DataFrame:
    """Run one query, as ``Project.sql`` does: over Polars/pandas/Arrow frames (keyword
    arguments, read by their names) and files, in memory, no project needed; with
    ``project`` or ``ref``, over that project's warehouse or its version ``ref``; with
    ``role``, as that role of the project.

    >>> import polars as pl
    >>> df = pl.DataFrame({"x": [1, 2, 3]})
    >>> sql("select sum(x) as s from df", df=df)["s"][0]
    6
    >>> sql("select $n * 2 as twice", {"n": 21})["twice"][0]
    42
    """
    if project is not None or ref is not None or role:
        reader = QueryMixin(project, **({"role": role} if role else {}))
        return reader.sql(query, params, ref=ref, **frames)
    from sqlops.execute.engine import Engine

    return _run_one(Engine.open(), query, params, frames)


def _run_one(
    engine: Engine, query: str, params: Mapping[str, Any] | None, frames: Mapping[str, Any]
) -> pl.DataFrame:
    """Run ``query`` on ``engine`` with these frames registered, then close it."""
    from sqlops.execute.engine import Where

    try:
        for name, frame in frames.items():
            engine.register(name, frame)
        return engine.polars(query, params or None, Where(path="<query>"))
    finally:
        engine.close()


# Values the old ``Project.sql(query, ref=None, **params)`` took as ``$name`` parameters:
# never a frame, so a keyword argument holding one is still read as a parameter.
_SCALARS = (str, bytes, bool, int, float, Decimal, date, time, timedelta, UUID, list, tuple)


def _old_form(
    params: Mapping[str, Any] | str | None, ref: str | None, frames: dict[str, Any]
) -> tuple[Mapping[str, Any] | None, str | None, dict[str, Any]]:
    """``(params, ref, frames)`` from a call in the old form: a ref as the second
    argument, parameters as keyword arguments."""
    if isinstance(params, str):
        params, ref = None, params
        _deprecated("pass the version as ref=")
    old = {k: v for k, v in frames.items() if v is None or isinstance(v, _SCALARS)}
    if old:
        _deprecated("pass $name parameters as a dict: sql(query, {...})")
        params = {**old, **(params or {})}
        frames = {k: v for k, v in frames.items() if k not in old}
    return params, ref, frames


def _deprecated(how: str) -> None:
    import warnings

    warnings.warn(f"Project.sql(query, ref, **params) is deprecated: {how}", DeprecationWarning, 4)


def run_file(
    path: Path | str,
    params: Mapping[str, Any] | None = None,
    *,
    project: Path | str | None = None,
    role: str | None = None,
) -> pl.DataFrame | None:
    """Run a SQL script (several statements allowed) and return the last result.

    Inside a built project the script sees the warehouse (read-only); anywhere else it
    runs in memory against the files it names, so it needs no project at all. Under a
    role (``role=``, or the project's ``SQLOPS_ROLE``) the file must be one SELECT, run in
    the role's sandbox.
    """
    from sqlops.execute.script import run_script

    file = Path(path)
    text = read_text(file)
    config = _config(project, role)
    if config is not None and config.role:
        return _as_role(config, text, params, str(file))
    engine = _scratch_engine(project, config)
    try:
        return run_script(engine, text, params or {}, file)
    finally:
        engine.close()


def query(
    text: str,
    params: Mapping[str, Any] | None = None,
    *,
    project: Path | str | None = None,
    ref: str | None = None,
    role: str | None = None,
) -> pl.DataFrame | None:
    """Run SQL given as a string, like ``run_file`` (the warehouse if there is one); with
    ``ref``, against the project's tables as committed at that version. Under a role
    (``role=``, or ``SQLOPS_ROLE``): one SELECT, in the role's sandbox; ``ref`` refused."""
    from sqlops.execute.script import run_script

    config = _config(project, role)
    if config is not None and config.role:
        reader = QueryMixin(config.root, role=config.role)
        if ref is not None:
            reader._refuse_under_role(f"ref={ref}", "ref")
        return _as_role(config, text, params, "<query>")
    engine = _scratch_engine(project, config) if ref is None else QueryMixin(project).engine_at(ref)
    try:
        return run_script(engine, text, params or {}, "<query>")
    finally:
        engine.close()


def write_output(frame: pl.DataFrame, out: Path | str) -> Path:
    """Write a result to Parquet, CSV, JSON or NDJSON, chosen by the file extension."""
    target = Path(out)
    writers: dict[str, Callable[[Path], Any]] = {
        ".parquet": frame.write_parquet,
        ".csv": frame.write_csv,
        ".json": frame.write_json,
        ".ndjson": frame.write_ndjson,
        ".jsonl": frame.write_ndjson,
    }
    writer = writers.get(target.suffix.lower())
    if writer is None:
        raise OutputError(
            f"cannot write {target.name}: unknown extension",
            hint="use .parquet, .csv, .json or .ndjson",
        )
    with polars_errors("write", target, writing=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        writer(target)
    return target


def _config(project: Path | str | None, role: str | None) -> Config | None:
    """The project's config (None outside a project); ``role`` wins over ``SQLOPS_ROLE``,
    and a role asked for outside a project is an error, not a silent owner's read."""
    from sqlops.config import find_root

    root = Path(project) if project is not None else find_root()
    if role:
        return load_config(root, role=role)
    try:
        return load_config(root)
    except SqlopsError:
        return None


def _as_role(
    config: Config, text: str, params: Mapping[str, Any] | None, where: str
) -> pl.DataFrame:
    """Run ``text`` as the config's role: one SELECT, refused (and audited) otherwise."""
    from sqlops.execute.engine import Engine, Where

    reader = QueryMixin(config.root, role=config.role)
    scratch = Engine.open(macros=False)
    try:
        count = len(scratch.statements(text, Where(path=where)))
    finally:
        scratch.close()
    if count != 1:
        with reader._audited(config.role):
            raise PolicyDenied(
                f"{where} holds {count} statements; under a role one SELECT runs",
                role=config.role,
                target=where,
                hint="run each SELECT on its own, or run the script as the owner",
            )
    return reader._role_sql(text, params, config.role)


def _scratch_engine(project: Path | str | None, config: Config | None = None) -> Engine:
    from sqlops.execute.engine import Engine

    if config is None:
        return Engine.open()
    if config.warehouse_path.exists():
        return Engine.open(config.warehouse_path, read_only=True, search_path=config.root)
    return Engine.open()
