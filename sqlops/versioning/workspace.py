"""Between the warehouse and the version store: commit what a build produced, check out a
version into the warehouse, and read a table at any version.

Table outputs are already immutable objects, so committing them records ids only; file
sources are snapshotted into parts once per content (identical parts dedupe by hash), so
a commit captures the inputs a build read. Checking out re-points views; nothing is copied.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlops.execute import materialize as m
from sqlops.execute.engine import Engine, Where
from sqlops.execute.objects import ObjectStore, write_parts
from sqlops.versioning.store import Commit, TableVersion


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


def check_out(engine: Engine, objects: ObjectStore, commit: Commit, run_id: str) -> list[str]:
    """Point the warehouse at a commit: one view per table over its objects, and the
    commit's fingerprints as the build state, so the next build reruns only what differs.
    Tables the commit lacks are dropped. Returns the names of the tables checked out."""
    engine.ensure_state()
    relations = engine.relations()
    state = engine.read_state()
    with engine.transaction():
        schemas = sorted({n.split(".")[0] for n in commit.tree})
        for schema in schemas:
            engine.execute(f"CREATE SCHEMA IF NOT EXISTS {m.quote(schema)}")
        for name, version in sorted(commit.tree.items()):
            kind = relations.get(name)
            if kind is not None and kind != "view":
                engine.execute(m.drop_relation(name, kind.upper()))
            paths = [objects.relative(p) for p in version.parts]
            engine.execute(m.create_view(name, m.parts_select(paths)))
            engine.execute(
                m.state_insert(),
                m.state_params(
                    name, version.fingerprint, {}, "table", version.parts, version.rows, run_id
                ),
            )
        for name, row in state.items():
            if name not in commit.tree and row["objects"] and name in relations:
                engine.execute(m.drop_relation(name, relations[name].upper()))
    engine.compact_state()
    return sorted(commit.tree)


def attach_views(engine: Engine, objects: ObjectStore, commit: Commit) -> None:
    """Create one view per table of a commit (in a scratch database) for querying it."""
    for schema in sorted({n.split(".")[0] for n in commit.tree}):
        engine.execute(f"CREATE SCHEMA IF NOT EXISTS {m.quote(schema)}")
    for name, version in sorted(commit.tree.items()):
        paths = [str(objects.path(p)) for p in version.parts]
        engine.execute(m.create_view(name, m.parts_select(paths)))


def read_version(engine: Engine, objects: ObjectStore, version: TableVersion) -> Any:
    """A stored table version as a Polars DataFrame, read straight from its objects."""
    paths = [str(objects.path(p)) for p in version.parts]
    return engine.polars(m.parts_select(paths))


def row_diff(
    engine: Engine,
    objects: ObjectStore,
    before: TableVersion | None,
    after: TableVersion | None,
    key: list[str],
) -> Any:
    """Rows added, removed and changed between two versions of a table, matched by a unique
    key: one row per difference with ``change`` and the key columns (Polars DataFrame)."""
    empty = "SELECT NULL WHERE false"
    a_sql = m.parts_select([str(objects.path(p)) for p in before.parts]) if before else empty
    b_sql = m.parts_select([str(objects.path(p)) for p in after.parts]) if after else empty
    keys = [m.quote(k) for k in key]
    select_keys = ", ".join(keys)
    match = " AND ".join(f"a.{k} IS NOT DISTINCT FROM b.{k}" for k in keys)
    out_keys = ", ".join(f"coalesce(a.{k}, b.{k}) AS {k}" for k in keys)
    return engine.polars(
        f"""
        WITH a AS (SELECT {select_keys}, hash(t) AS __h FROM ({a_sql}) t),
             b AS (SELECT {select_keys}, hash(t) AS __h FROM ({b_sql}) t)
        SELECT CASE WHEN a.__h IS NULL THEN 'added'
                    WHEN b.__h IS NULL THEN 'removed' ELSE 'changed' END AS change,
               {out_keys}
        FROM a FULL OUTER JOIN b ON {match}
        WHERE a.__h IS DISTINCT FROM b.__h
        ORDER BY change, {select_keys}
        """,
        where=Where(model="diff"),
    )
