"""Between the warehouse and the version store: commit what a build produced, check out a
version into the warehouse, and read a table at any version.

Table outputs are already immutable objects, so committing them records ids only; file
sources are snapshotted into parts once per content (identical parts dedupe by hash), so
a commit captures the inputs a build read. Checking out re-points views; nothing is copied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlops.errors import ExecutionError, VersioningError
from sqlops.execute import materialize as m
from sqlops.execute.engine import Engine, Where
from sqlops.execute.parts import write_parts
from sqlops.storage.objects import ObjectStore
from sqlops.versioning import datafiles
from sqlops.versioning.store import Commit, TableVersion


@dataclass(frozen=True)
class TableChange:
    """A table of the warehouse that differs from the commit it was checked out at.

    ``kind`` is ``table`` for a built table (its data exists only in the warehouse's
    objects until committed) or ``source`` for a file source (its data is the file).
    """

    name: str
    kind: Literal["table", "source"]
    change: Literal["added", "changed", "removed"]

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "kind": self.kind, "change": self.change}


def uncommitted(
    state: Mapping[str, Mapping[str, Any]],
    base: Mapping[str, TableVersion],
    sources: set[str],
    current: set[str] | None = None,
) -> list[TableChange]:
    """What a commit would record over ``base``, read from the build state alone (no data is
    read): built tables whose parts differ, sources built from a different file version,
    and committed tables the warehouse no longer has. With ``current`` (the project's
    models and sources), a table nothing defines is never new or changed: it is what a
    checkout or an older build left, and leaves at the next build."""
    out: list[TableChange] = []
    for name, row in sorted(state.items()):
        if current is not None and name not in current:
            continue
        old = base.get(name)
        if row.get("objects"):
            if old is None or tuple(row["objects"]) != old.parts:
                out.append(TableChange(name, "table", "added" if old is None else "changed"))
        elif name in sources and (old is None or old.fingerprint != row["fingerprint"]):
            out.append(TableChange(name, "source", "added" if old is None else "changed"))
    for name in sorted(base.keys() - state.keys()):
        if not datafiles.is_entry(name):
            kind: Literal["table", "source"] = "source" if name in sources else "table"
            out.append(TableChange(name, kind, "removed"))
    return out


def unsaved(
    state: Mapping[str, Mapping[str, Any]],
    changes: list[TableChange],
    target: Mapping[str, TableVersion] | None,
) -> list[str]:
    """The uncommitted built tables that pointing the warehouse at ``target`` would lose
    (their data is in no commit and ``target`` holds other data under that name); with no
    ``target``, every uncommitted built table."""
    return [
        c.name
        for c in changes
        if c.kind == "table"
        and c.change != "removed"
        and (target is None or _parts(target.get(c.name)) != tuple(state[c.name]["objects"]))
    ]


def _parts(version: TableVersion | None) -> tuple[str, ...] | None:
    return None if version is None else version.parts


def working_tree(
    engine: Engine,
    objects: ObjectStore,
    head: Mapping[str, TableVersion],
    sources: set[str],
) -> dict[str, TableVersion]:
    """Every committable table of the warehouse as the store would record it.

    Tables built into objects are taken as they are; file sources are copied into an object
    unless the head already holds the same source fingerprint.
    """
    state = engine.read_state()
    tree: dict[str, TableVersion] = {}
    for name, row in sorted(state.items()):
        if row["objects"]:
            tree[name] = TableVersion(
                tuple(row["objects"]),
                _columns(engine, name),
                int(row["rows"] or 0),
                row["fingerprint"],
            )
        elif name in sources:
            previous = head.get(name)
            if previous is not None and previous.fingerprint == row["fingerprint"]:
                tree[name] = previous
            else:
                rows = previous.rows if previous is not None else None
                tree[name] = _snapshot(engine, objects, name, row["fingerprint"], rows)
    return tree


def _columns(engine: Engine, name: str) -> tuple[tuple[str, str], ...]:
    return tuple(engine.columns(name).items())


def _snapshot(
    engine: Engine, objects: ObjectStore, name: str, fingerprint: str, expected: int | None
) -> TableVersion:
    """Copy a file source's rows into parts (deterministic, so an unchanged stretch of a
    changed file dedupes against the previous snapshot)."""
    select = f"SELECT * FROM {m.qualified(name)}"
    parts, rows = write_parts(engine, select, objects, name, Where(model=name), expected)
    return TableVersion(parts, _columns(engine, name), rows, fingerprint)


def check_out(
    engine: Engine,
    objects: ObjectStore,
    commit: Commit,
    run_id: str,
    only: set[str] | None = None,
) -> list[str]:
    """Point the warehouse at a commit: one view per table over its objects, and the
    commit's fingerprints as the build state, so the next build reruns only what differs.
    Tables the commit lacks are dropped. With ``only``, other tables are left as they are.
    Returns the names of the tables checked out.

    A checkout is mostly DuckDB's fixed cost of opening and closing the warehouse, so the
    statements are kept few: tables already pointing at the commit's parts are left alone,
    and each re-pointed table's older state rows are deleted in the same transaction
    instead of compacting the whole state afterwards.
    """
    engine.defer_checkpoint()
    relations = engine.relations()
    current = {name: (fp, tuple(objs)) for name, fp, objs in _state_rows(engine)}
    changed = {
        name: version
        for name, version in sorted(commit.tree.items())
        if relations.get(name) != "view"
        or current.get(name) != (version.fingerprint, version.parts)
    }
    dropped = sorted(
        n for n, (_, o) in current.items() if o and n in relations and n not in commit.tree
    )
    if only is not None:
        changed = {n: v for n, v in changed.items() if n in only}
        dropped = [n for n in dropped if n in only]
    if not changed and not dropped:
        return sorted(commit.tree)
    known = {n.split(".")[0] for n in relations}
    with engine.transaction():
        for schema in sorted({n.split(".")[0] for n in changed} - known):
            engine.execute(f"CREATE SCHEMA IF NOT EXISTS {m.quote(schema)}")
        if changed:
            engine.execute(m.state_forget(), [list(changed)])
        for name, version in changed.items():
            kind = relations.get(name)
            if kind is not None and kind != "view":
                engine.execute(m.drop_relation(name, kind.upper()))
            engine.execute(m.create_view(name, _parts_view(objects, version)))
            engine.execute(
                m.state_insert(),
                m.state_params(
                    name, version.fingerprint, {}, "table", version.parts, version.rows, run_id
                ),
            )
        for name in dropped:
            engine.execute(m.drop_relation(name, relations[name].upper()))
    return sorted(commit.tree)


def drop_undefined(engine: Engine, defined: set[str]) -> list[str]:
    """Drop every relation sqlops built (or checked out) for a model or source the project
    no longer defines, with its build state, so a deleted model's table neither lingers in
    the warehouse nor reaches the next commit. Raw file entries are never built: kept."""
    relations = engine.relations()
    doomed = sorted(
        {
            name
            for name, _, _ in _state_rows(engine)
            if name not in defined and not datafiles.is_entry(name)
        }
    )
    if doomed:
        with engine.transaction():
            engine.execute(m.state_forget(), [doomed])
            for name in doomed:
                if name in relations:
                    engine.execute(m.drop_relation(name, relations[name].upper()))
    return doomed


def _state_rows(engine: Engine) -> list[tuple[str, str, list[str]]]:
    """Every build state row, oldest first. The state table is created only when reading
    it fails, which saves a checkout the two statements that make sure it exists."""
    try:
        return engine.execute(m.STATE_OBJECTS).fetchall()
    except ExecutionError:
        engine.ensure_state()
        return engine.execute(m.STATE_OBJECTS).fetchall()


def _parts_view(objects: ObjectStore, version: TableVersion) -> str:
    """The SELECT of a view over a version's parts (union by name only when their schemas
    differ, e.g. the parts an incremental model appended after a column was added); absolute
    paths, so the warehouse opens from any folder."""
    union = len(version.parts) > 1 and not objects.same_schema(version.parts)
    paths = [str(objects.path(p)) for p in version.parts]
    return m.parts_select(paths, union_by_name=union, columns=version.columns)


def attach_views(engine: Engine, objects: ObjectStore, commit: Commit) -> None:
    """Create one view per table of a commit (in a scratch database) for querying it."""
    for schema in sorted({n.split(".")[0] for n in commit.tree}):
        engine.execute(f"CREATE SCHEMA IF NOT EXISTS {m.quote(schema)}")
    for name, version in sorted(commit.tree.items()):
        engine.execute(m.create_view(name, _parts_view(objects, version)))


def read_version(engine: Engine, objects: ObjectStore, version: TableVersion) -> Any:
    """A stored table version as a Polars DataFrame, read straight from its objects."""
    paths = [str(objects.path(p)) for p in version.parts]
    return engine.polars(m.parts_select(paths, columns=version.columns))


def row_diff(
    engine: Engine,
    objects: ObjectStore,
    before: TableVersion | None,
    after: TableVersion | None,
    key: list[str],
) -> Any:
    """Rows added, removed and changed between two versions of a table, matched by a unique
    key (Polars DataFrame, ordered by change and key): ``change``, the key columns,
    ``changed`` (the columns whose values differ, on changed rows) and ``old`` / ``new``
    (structs of the other columns' values; NULL on the side a row is missing from). A
    column only one side has counts as changed on every matched row."""
    a_sql, b_sql = _side(objects, before), _side(objects, after)
    a_sql = a_sql or f"SELECT * FROM ({b_sql}) WHERE false"
    b_sql = b_sql or f"SELECT * FROM ({a_sql}) WHERE false"
    a_cols, b_cols = _describe(engine, a_sql), _describe(engine, b_sql)
    for side, cols in (("old", a_cols), ("new", b_cols)):
        absent = [k for k in key if k not in cols]
        if absent:
            raise VersioningError(
                f"the {side} version has no key column {absent[0]!r}",
                hint=f"its columns: {', '.join(cols)}",
            )
    values = [c for c in {**a_cols, **b_cols} if c not in key]
    differs = [_differs(c, a_cols.get(c), b_cols.get(c)) for c in values]
    flag = m.quote("__sqlops_in")
    keys = [m.quote(k) for k in key]
    match = " AND ".join(f"a.{k} IS NOT DISTINCT FROM b.{k}" for k in keys)
    out_keys = ", ".join(f"coalesce(a.{k}, b.{k}) AS {k}" for k in keys)
    names = (
        "["
        + ", ".join(
            f"CASE WHEN {d} THEN {m.literal(c)} END" for c, d in zip(values, differs, strict=True)
        )
        + "]"
    )
    any_differs = " OR ".join(differs) or "false"
    return engine.polars(
        f"""
        WITH a AS (SELECT *, true AS {flag} FROM ({a_sql})),
             b AS (SELECT *, true AS {flag} FROM ({b_sql}))
        SELECT CASE WHEN a.{flag} IS NULL THEN 'added'
                    WHEN b.{flag} IS NULL THEN 'removed' ELSE 'changed' END AS change,
               {out_keys},
               CASE WHEN a.{flag} AND b.{flag}
                    THEN list_filter({names}::VARCHAR[], lambda x: x IS NOT NULL) END AS changed,
               CASE WHEN a.{flag} THEN {_struct("a", [c for c in a_cols if c not in key])} END
                   AS old,
               CASE WHEN b.{flag} THEN {_struct("b", [c for c in b_cols if c not in key])} END
                   AS new
        FROM a FULL OUTER JOIN b ON {match}
        WHERE a.{flag} IS NULL OR b.{flag} IS NULL OR {any_differs}
        ORDER BY change, {", ".join(keys)}
        """,
        where=Where(model="diff"),
    )


def _side(objects: ObjectStore, version: TableVersion | None) -> str:
    if version is None or not version.parts:
        return ""
    return _parts_view(objects, version)  # the true types, as a checkout shows them


def _describe(engine: Engine, select: str) -> dict[str, str]:
    return {row[0]: row[1] for row in engine.execute(f"DESCRIBE {select}").fetchall()}


def _differs(column: str, a_type: str | None, b_type: str | None) -> str:
    """SQL that is true when a matched row's values of ``column`` differ (values of two
    types compare as text; a column on one side only always differs)."""
    if a_type is None or b_type is None:
        return "true"
    col = m.quote(column)
    if a_type == b_type:
        return f"a.{col} IS DISTINCT FROM b.{col}"
    return f"a.{col}::VARCHAR IS DISTINCT FROM b.{col}::VARCHAR"


def _struct(alias: str, columns: list[str]) -> str:
    if not columns:
        return "NULL"
    return (
        "struct_pack(" + ", ".join(f"{m.quote(c)} := {alias}.{m.quote(c)}" for c in columns) + ")"
    )
