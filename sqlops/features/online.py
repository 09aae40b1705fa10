"""The embedded online store: each view's latest value per entity in SQLite, for lookups.

SQLite answers a primary-key lookup in microseconds in-process (a DuckDB table lookup costs
~40x more; tests/bench/test_features.py measures both). ``materialize`` computes every
entity's value as of ``end`` in DuckDB — exactly what a training row at ``end`` would get,
expired values included as absent — and publishes all views in one SQLite transaction, so a
reader sees the previous materialization or the new one, never a mix. It is incremental:
the published snapshot is kept as Parquet, and only entities whose value differs from it
are written (or deleted when their value expired). The meta table records, per view, the
watermark (``end``), the snapshot and the column decoders.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlops.errors import OnlineStoreError, UnknownFeatureError, did_you_mean
from sqlops.execute.engine import Engine
from sqlops.execute.materialize import literal, quote
from sqlops.features.definitions import ViewSelection, split_ref
from sqlops.features.onlinekeys import key_param
from sqlops.features.pit import latest_sql

META = "_sqlops_online"
_META_DDL = f"""
CREATE TABLE IF NOT EXISTS {META} (
    view TEXT PRIMARY KEY, table_name TEXT NOT NULL, keys TEXT NOT NULL,
    features TEXT NOT NULL, signature TEXT NOT NULL, watermark TEXT NOT NULL,
    snapshot TEXT NOT NULL, materialized_at TEXT NOT NULL, entities INTEGER NOT NULL
)"""
_NATIVE_INT = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"}
_NATIVE = {"DOUBLE": "REAL", "FLOAT": "REAL", "VARCHAR": "TEXT", "BLOB": "BLOB"}
# a declared type of BLOB gives a column no affinity: a float stays the REAL it was bound as
# (-0.0 and infinities included), and a NaN's text 'NaN' stays text
FLOAT_COLUMN = "BLOB"


def _encode_feature(column: str, dtype: str) -> tuple[str, str, str | None]:
    """As ``_encode``, for a feature: what a training set gives must come back, so a float
    goes in a column of no affinity (a REAL column stores -0.0 as 0) and a NaN as the text
    'NaN' (SQLite binds a NaN as NULL; ``_Stage`` writes it), a TIME as a time and JSON as
    its text (a training set's values; keys stay as ``_encode`` stores them)."""
    if dtype in ("DOUBLE", "FLOAT"):
        return f"CAST({column} AS DOUBLE)", FLOAT_COLUMN, "float"
    if dtype == "TIME":
        return f"CAST({column} AS VARCHAR)", "TEXT", "time"
    if dtype == "JSON":
        return f"CAST({column} AS VARCHAR)", "TEXT", None
    return _encode(column, dtype)


def _decoders() -> dict[str, Callable[[Any], Any]]:
    return {
        "bool": bool,
        "float": float,
        "time": dt.time.fromisoformat,
        "int": int,
        "timestamp": dt.datetime.fromisoformat,
        "timestamptz": lambda v: dt.datetime.fromisoformat(v).replace(tzinfo=dt.UTC),
        "date": dt.date.fromisoformat,
        "decimal": Decimal,
        "json": json.loads,
    }


DECODERS = _decoders()


def _encode(column: str, dtype: str) -> tuple[str, str, str | None]:
    """(SQL giving a SQLite-storable value, SQLite column type, decoder name or None)."""
    if dtype in _NATIVE_INT:
        return column, "INTEGER", None
    if dtype in _NATIVE:
        return column, _NATIVE[dtype], None
    if dtype == "BOOLEAN":
        return column, "INTEGER", "bool"
    if dtype in {"UBIGINT", "HUGEINT", "UHUGEINT"}:
        return f"CAST({column} AS VARCHAR)", "TEXT", "int"
    if dtype == "TIMESTAMP_NS":  # truncated to microseconds, as Python's datetime from Polars
        return f"strftime({column}, '%Y-%m-%dT%H:%M:%S.%f')", "TEXT", "timestamp"
    aware = dtype in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ_NS")
    if dtype.startswith("TIMESTAMP") and not aware:
        return f"strftime(CAST({column} AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%f')", "TEXT", "timestamp"
    if aware:
        return (
            f"strftime(timezone('UTC', {column}), '%Y-%m-%dT%H:%M:%S.%f')",
            "TEXT",
            "timestamptz",
        )
    if dtype == "DATE":
        return f"CAST({column} AS VARCHAR)", "TEXT", "date"
    if dtype.startswith("DECIMAL"):
        return f"CAST({column} AS VARCHAR)", "TEXT", "decimal"
    return f"CAST(to_json({column}) AS VARCHAR)", "TEXT", "json"


def _scale(dtype: str) -> int:
    """The scale of a DECIMAL(p,s) type name (DuckDB's default DECIMAL is (18,3))."""
    _, _, rest = dtype.partition(",")
    return int(rest.rstrip(") ")) if rest else 3


@dataclass(frozen=True)
class Materialized:
    """What one view's materialization wrote."""

    view: str
    entities: int
    written: int
    deleted: int
    watermark: dt.datetime
    full: bool


class OnlineStore:
    """One SQLite file holding every materialized view, plus its Parquet snapshots."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.snapshots = self.path.with_name(self.path.name + ".snapshots")
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        # in WAL mode a crash can lose the last commit but never leaves a half-written one
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(_META_DDL)
        self._version = -1
        # one SQLite connection serves every thread, one statement batch at a time: a
        # multi-view read's BEGIN from one thread must not meet another thread's
        self._lock = threading.RLock()
        self._meta: dict[str, dict[str, Any]] = {}
        self._plans: dict[tuple[tuple[str, ...], bool], _ReadPlan] = {}

    def close(self) -> None:
        self.db.close()

    # -- writing -------------------------------------------------------------------------

    def materialize(
        self,
        con: Engine,
        selections: Sequence[ViewSelection],
        end: dt.datetime | None = None,
        *,
        teardown: bool = False,
    ) -> list[Materialized]:
        """Publish each view's values as of ``end`` (default now, UTC) in one transaction;
        with ``teardown``, the views not among ``selections`` (removed from the project)
        are torn down in that transaction too (Feast's ``teardown``), never served again."""
        end = end or dt.datetime.now(dt.UTC).replace(tzinfo=None)
        if end.tzinfo is not None:
            end = end.astimezone(dt.UTC).replace(tzinfo=None)
        self.snapshots.mkdir(parents=True, exist_ok=True)
        run = uuid.uuid4().hex[:12]
        staged = [self._stage(con, sel, end, run) for sel in selections]  # readers go on
        with self._lock:
            return self._publish(staged, selections, end, teardown)

    def _publish(
        self,
        staged: list[_Stage],
        selections: Sequence[ViewSelection],
        end: dt.datetime,
        teardown: bool,
    ) -> list[Materialized]:
        results = []
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for stage in staged:
                results.append(stage.publish(self.db, end))
            gone = self._teardown({s.name for s in selections}) if teardown else []
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            for stage in staged:
                stage.snapshot.unlink(missing_ok=True)
            raise
        finally:
            # this connection's own commits leave PRAGMA data_version as it was: the read
            # plans are rebuilt from the meta table on the next read
            self._version = -1
        for snapshot in gone:
            (self.snapshots / snapshot).unlink(missing_ok=True)
        for stage in staged:
            if stage.previous is not None and stage.previous != stage.snapshot:
                stage.previous.unlink(missing_ok=True)
        return results

    def _teardown(self, keep: set[str]) -> list[str]:
        """Drop every published view not in ``keep`` (inside the caller's transaction);
        returns their snapshot files, deleted once the transaction commits."""
        gone = [
            (view, table, snapshot)
            for view, table, snapshot in self.db.execute(
                f"SELECT view, table_name, snapshot FROM {META}"
            ).fetchall()
            if view not in keep
        ]
        for view, table, _ in gone:
            self.db.execute(f"DROP TABLE IF EXISTS {quote(table)}")
            self.db.execute(f"DELETE FROM {META} WHERE view = ?", (view,))
        return [snapshot for _, _, snapshot in gone]

    def _stage(self, con: Engine, sel: ViewSelection, end: dt.datetime, run: str) -> _Stage:
        """Compute the view's snapshot and its difference from the published one."""
        sql, cols = latest_sql(con, sel, end)
        encoded = []
        for i, key in enumerate(sel.join_keys):
            expr, kind, dec = _encode(f"__k{i}", cols[key])
            if dec == "decimal":  # a looked-up key is written with the column's scale
                dec = f"decimal:{_scale(cols[key])}"
            encoded.append((key, expr, kind, dec))
        for j, (name, _) in enumerate(sel.outputs):
            expr, kind, dec = _encode_feature(f"__f{j}", cols[name])
            encoded.append((name, expr, kind, dec))
        # the encoding too: a snapshot stored another way is rewritten, never compared
        signature = json.dumps([[n, cols[n], kind, dec] for n, _, kind, dec in encoded])
        snapshot = self.snapshots / f"{sel.name}-{run}.parquet"
        select = ", ".join(f"{expr} AS c{i}" for i, (_, expr, _, _) in enumerate(encoded))
        con.execute(
            f"COPY (SELECT {select} FROM ({sql})) TO {literal(str(snapshot))} (FORMAT parquet)"
        )
        with self._lock:
            meta = self.db.execute(
                f"SELECT snapshot, signature FROM {META} WHERE view = ?", (sel.name,)
            ).fetchone()
        previous = self.snapshots / meta[0] if meta else None
        full = meta is None or meta[1] != signature or previous is None or not previous.exists()
        new = f"read_parquet({literal(str(snapshot))})"
        nkeys = len(sel.join_keys)
        keys = ", ".join(f"c{i}" for i in range(nkeys))
        floats = [i for i, (_, _, kind, _) in enumerate(encoded) if kind == FLOAT_COLUMN]
        if full or previous is None:
            changed = _rows(con, new, floats, keys)
            deleted: list[Any] = []
        else:
            old = f"read_parquet({literal(str(previous))})"
            # a float's sign too: DuckDB holds -0.0 equal to 0.0
            signs = "".join(f", signbit(c{i}) AS s{i}" for i in floats)
            names = ", ".join(f"c{i}" for i in range(len(encoded)))
            diff = (
                f"(SELECT {names} FROM (SELECT *{signs} FROM {new} "
                f"EXCEPT ALL SELECT *{signs} FROM {old}))"
            )
            changed = _rows(con, diff, floats, keys)
            deleted = con.execute(
                f"SELECT {keys} FROM {old} EXCEPT SELECT {keys} FROM {new}"
            ).fetchall()
        ((entities,),) = con.execute(f"SELECT count(*) FROM {new}").fetchall()
        return _Stage(sel, encoded, signature, snapshot, previous, full, changed, deleted, entities)

    # -- reading -------------------------------------------------------------------------

    def get_online_features(
        self,
        features: Sequence[str],
        entity_rows: Sequence[Mapping[str, Any]],
        *,
        full_feature_names: bool = False,
    ) -> dict[str, list[Any]]:
        """Feast's ``to_dict()`` shape: each key column and feature, a list in row order;
        an entity with no (unexpired) value gives None."""
        with self._lock:
            plan = self._plan(tuple(features), full_feature_names)
            out: dict[str, list[Any]] = {k: [row.get(k) for row in entity_rows] for k in plan.keys}
            many = len(plan.views) > 1
            if many:
                self.db.execute("BEGIN")  # one snapshot for every view's reads
            try:
                for view in plan.views:
                    out.update(view.read(self.db, entity_rows))
            finally:
                if many:
                    self.db.execute("COMMIT")
            return out

    def _plan(self, features: tuple[str, ...], full_names: bool) -> _ReadPlan:
        (version,) = self.db.execute("PRAGMA data_version").fetchone() or (0,)
        if version != self._version:
            self._version = version
            self._plans.clear()
            self._meta = {
                r[0]: {"table": r[1], "keys": json.loads(r[2]), "features": json.loads(r[3])}
                for r in self.db.execute(f"SELECT view, table_name, keys, features FROM {META}")
            }
        key = (features, full_names)
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _ReadPlan.build(self._meta, features, full_names)
        return plan

    def watermarks(self) -> dict[str, dt.datetime]:
        """Each materialized view's ``end``."""
        return {
            v: dt.datetime.fromisoformat(w)
            for v, w in self.db.execute(f"SELECT view, watermark FROM {META}")
        }


def _rows(con: Engine, relation: str, floats: Sequence[int], keys: str) -> list[Any]:
    """The rows to write, in key order (SQLite then appends to its B-tree instead of
    splitting pages), with each NaN of the ``floats`` columns as the text 'NaN'; only the
    rows holding one go through Python (they come last)."""
    if not floats:
        return con.execute(f"SELECT * FROM {relation} ORDER BY {keys}").fetchall()
    nan = " OR ".join(f"coalesce(isnan(c{i}), false)" for i in floats)
    table = quote(f"__sqlops_online_{uuid.uuid4().hex[:12]}")
    con.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM {relation}")
    try:
        rows = con.execute(f"SELECT * FROM {table} WHERE NOT ({nan}) ORDER BY {keys}").fetchall()
        odd = con.execute(f"SELECT * FROM {table} WHERE {nan} ORDER BY {keys}").fetchall()
    finally:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    at = set(floats)
    for row in odd:
        rows.append(tuple("NaN" if i in at and _is_nan(v) else v for i, v in enumerate(row)))
    return rows


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


@dataclass
class _Stage:
    sel: ViewSelection
    encoded: list[tuple[str, str, str, str | None]]
    signature: str
    snapshot: Path
    previous: Path | None
    full: bool
    changed: list[Any]
    deleted: list[Any]
    entities: int

    def publish(self, db: sqlite3.Connection, end: dt.datetime) -> Materialized:
        """Write this view's changes inside the caller's transaction."""
        meta = db.execute(f"SELECT snapshot FROM {META} WHERE view = ?", (self.sel.name,))
        published = meta.fetchone()
        if not self.full and (self.previous is None or published != (self.previous.name,)):
            raise OnlineStoreError(
                f"feature view {self.sel.name} was materialized by another run meanwhile; "
                "nothing was written, run materialize again"
            )
        table = f"fv__{self.sel.name}"
        nkeys = len(self.sel.join_keys)
        names = [name for name, *_ in self.encoded]
        if self.full:
            db.execute(f"DROP TABLE IF EXISTS {quote(table)}")
            coldefs = ", ".join(f"{quote(n)} {kind}" for n, _, kind, _ in self.encoded)
            pk = ", ".join(quote(n) for n in names[:nkeys])
            db.execute(f"CREATE TABLE {quote(table)} ({coldefs}, PRIMARY KEY ({pk})) WITHOUT ROWID")
        marks = ", ".join("?" for _ in names)
        db.executemany(f"INSERT OR REPLACE INTO {quote(table)} VALUES ({marks})", self.changed)
        where = " AND ".join(f"{quote(n)} = ?" for n in names[:nkeys])
        db.executemany(f"DELETE FROM {quote(table)} WHERE {where}", self.deleted)
        keys = [[n, dec] for n, _, _, dec in self.encoded[:nkeys]]
        feats = [[n, dec] for n, _, _, dec in self.encoded[nkeys:]]
        db.execute(
            f"INSERT OR REPLACE INTO {META} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.sel.name,
                table,
                json.dumps(keys),
                json.dumps(feats),
                self.signature,
                end.isoformat(),
                self.snapshot.name,
                dt.datetime.now(dt.UTC).isoformat(),
                self.entities,
            ),
        )
        return Materialized(
            self.sel.name, self.entities, len(self.changed), len(self.deleted), end, self.full
        )


@dataclass(frozen=True)
class _ViewRead:
    keys: tuple[str, ...]
    key_encodings: tuple[str | None, ...]
    sql: str
    outputs: tuple[str, ...]
    decoders: tuple[Callable[[Any], Any] | None, ...]
    view: str

    def read(
        self, db: sqlite3.Connection, rows: Sequence[Mapping[str, Any]]
    ) -> dict[str, list[Any]]:
        cols: list[list[Any]] = [[] for _ in self.outputs]
        for i, row in enumerate(rows):
            try:
                params = tuple(
                    key_param(row[k], enc, f"entity row {i}, key {k}")
                    for k, enc in zip(self.keys, self.key_encodings, strict=True)
                )
            except KeyError as exc:
                raise OnlineStoreError(
                    f"entity row {i} has no {exc.args[0]}, a join key of feature view "
                    f"{self.view}; pass it in every entity row"
                ) from exc
            found = db.execute(self.sql, params).fetchone()
            for col, dec, value in zip(
                cols, self.decoders, found or (None,) * len(cols), strict=True
            ):
                col.append(value if value is None or dec is None else dec(value))
        return dict(zip(self.outputs, cols, strict=True))


@dataclass(frozen=True)
class _ReadPlan:
    keys: tuple[str, ...]
    views: tuple[_ViewRead, ...]

    @classmethod
    def build(
        cls, meta: dict[str, dict[str, Any]], features: tuple[str, ...], full_names: bool
    ) -> _ReadPlan:
        chosen: dict[str, list[str]] = {}
        for ref in features:
            view, feature = split_ref(ref)
            if view not in meta:
                hint = did_you_mean(view, meta)
                raise UnknownFeatureError(
                    f"feature view {view} is not in the online store"
                    + (f"; {hint}" if hint else "; run materialize first")
                )
            names = [n for n, _ in meta[view]["features"]]
            picked = names if feature == "*" else [feature]
            for name in picked:
                if name not in names:
                    hint = did_you_mean(name, names)
                    raise UnknownFeatureError(
                        f"feature view {view} has no feature {name} in the online store"
                        + (f"; {hint}" if hint else "")
                    )
                chosen.setdefault(view, [])
                if name not in chosen[view]:
                    chosen[view].append(name)
        keys: list[str] = []
        reads, seen = [], set()
        for view, names in chosen.items():
            info = meta[view]
            view_keys = tuple(k for k, _ in info["keys"])
            key_encodings = tuple(enc for _, enc in info["keys"])
            keys.extend(k for k in view_keys if k not in keys)
            decoders = dict(info["features"])
            outputs = tuple(f"{view}__{n}" if full_names else n for n in names)
            for out in outputs:
                if out in seen:
                    raise UnknownFeatureError(
                        f"feature name {out} comes from two views; pass full_feature_names=True"
                    )
                seen.add(out)
            where = " AND ".join(f"{quote(k)} = ?" for k in view_keys)
            sql = (
                f"SELECT {', '.join(quote(n) for n in names)} FROM {quote(info['table'])} "
                f"WHERE {where}"
            )
            decs = tuple(DECODERS[decoders[n]] if decoders[n] else None for n in names)
            reads.append(_ViewRead(view_keys, key_encodings, sql, outputs, decs, view))
        return cls(tuple(keys), tuple(reads))
