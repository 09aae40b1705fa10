"""The fitted-transform verbs of ``project.features`` (``sqlops.features.transforms``):
fit on a frame, table or query, keep the fit as a versioned document, apply it as SQL."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlops.api.seedstore import polars_frame
from sqlops.errors import TransformError
from sqlops.features import transforms as tf
from sqlops.features.pit import from_text

if TYPE_CHECKING:
    import polars as pl

    from sqlops.api import Project
    from sqlops.execute.engine import Engine

TRANSFORMS_DIR = "transforms"
_INPUT = "__sqlops_transform_input"


class TransformVerbs:
    """Mixed into ``FeatureStore``; documents live in ``.sqlops/transforms/<name>/``."""

    project: Project

    @property
    def _transforms(self) -> tf.TransformStore:
        return tf.TransformStore(self.project.config.state_path / TRANSFORMS_DIR)

    def fit_transform(self, name: str, df: Any, spec: Mapping[str, Any]) -> pl.DataFrame:
        """Fit ``spec`` on ``df`` (a Polars/pandas frame, a table name or a SQL query), save
        the fit as the next version of ``name`` and return ``df`` transformed by it. Nothing
        is saved when fitting or applying fails."""
        tf.TransformStore.check_name(name)
        with self._relation(df) as (engine, relation, where):
            doc = tf.fit(engine, relation, name, spec, where)
            frame = _apply(doc, engine, relation)
        self._transforms.save(doc)
        return frame

    def transform(self, name: str, df: Any, version: int | None = None) -> Any:
        """Apply the saved fit (latest, or ``version``) to a frame, table, query or rows; a
        single online row (a dict) gives a dict back. The fitted statistics are used as
        stored: nothing is recomputed from ``df``."""
        doc = self._load_transform(name, version)
        if isinstance(df, Mapping):
            return self._transform_row(doc, df)
        with self._relation(df) as (engine, relation, where):
            _check(doc, engine, relation, where)
            return _apply(doc, engine, relation)

    def _transform_row(self, doc: Mapping[str, Any], row: Mapping[str, Any]) -> dict[str, Any]:
        """One online row, computed in Python from the fitted numbers (a few microseconds;
        the DuckDB path cost 5-7 ms a row); a value that path does not reproduce exactly
        goes through the frame path instead."""
        cache: dict[Any, Any] = self.__dict__.setdefault("_transform_rows", {})
        key = (doc["name"], doc["version"], doc["digest"])
        indexes = cache.get(key)
        if indexes is None:
            indexes = cache[key] = {
                column: {v: i for i, v in enumerate(fitted["values"])}
                for column, fitted in doc["columns"].items()
                if fitted["kind"] == "vocabulary"
            }
        out = tf.apply_row(doc, row, indexes)
        if out is None:
            with self._relation([dict(row)]) as (engine, relation, _):
                _check(doc, engine, relation, "the row")
                out = _apply(doc, engine, relation).row(0, named=True)
        return out

    def _load_transform(self, name: str, version: int | None) -> dict[str, Any]:
        """A saved fit; documents never change once written, so each is read once."""
        store = self._transforms
        chosen = version
        if chosen is None:
            versions = store.versions(name)
            chosen = versions[-1] if versions else None
        docs: dict[tuple[str, int], dict[str, Any]] = self.__dict__.setdefault(
            "_transform_docs", {}
        )
        if chosen is None or (name, chosen) not in docs:
            doc = store.load(name, chosen)
            docs[(name, doc["version"])] = doc
            return doc
        return docs[(name, chosen)]

    def transform_sql(self, name: str, relation: str, version: int | None = None) -> str:
        """The ``SELECT`` applying the saved fit to ``relation`` (a table name or a
        parenthesized query), for a SQL model or an online lookup to embed."""
        return tf.select_sql(self._load_transform(name, version), relation)

    def get_transform(self, name: str, version: int | None = None) -> dict[str, Any]:
        """The saved document: spec, input types, fitted statistics, version, digest."""
        return self._transforms.load(name, version)

    def list_transforms(self) -> dict[str, list[int]]:
        store = self._transforms
        return {n: store.versions(n) for n in store.names()}

    @contextmanager
    def _relation(self, df: Any) -> Iterator[tuple[Engine, str, str]]:
        """An engine and a relation over ``df``: the warehouse (read-only) for a table
        name or query, an in-memory DuckDB with the frame registered otherwise."""
        from sqlops.execute.engine import Engine

        if isinstance(df, str):
            relation, is_query = from_text(df)
            engine = self.project._open_warehouse(read_only=True)
            try:
                yield engine, relation, ("the query" if is_query else df)
            finally:
                engine.close()
            return
        frame = _frame(df)
        engine = Engine.open(macros=False)
        try:
            engine.register(_INPUT, frame)
            yield engine, _INPUT, "the frame"
        finally:
            engine.close()


def _apply(doc: Mapping[str, Any], engine: Engine, relation: str) -> pl.DataFrame:
    """``relation`` transformed, each vocabulary registered as a lookup relation to join."""
    import polars as pl

    lookups: dict[str, str] = {}
    for column, fitted in doc["columns"].items():
        if fitted["kind"] == "vocabulary" and fitted["values"]:
            lookups[column] = f"__sqlops_lookup_{len(lookups)}"
            rows = pl.DataFrame(tf.lookup_rows(fitted), schema={"key": pl.String, "idx": pl.Int64})
            engine.register(lookups[column], rows)
    try:
        return engine.polars(tf.select_sql(doc, relation, lookups))
    finally:
        for table in lookups.values():
            engine.unregister(table)


def _check(doc: Mapping[str, Any], engine: Engine, relation: str, where: str) -> None:
    types = dict(engine.output_columns(f"SELECT * FROM {relation}"))
    label = f"{doc['name']} v{doc['version']}"
    tf.check_columns(label, {c: f["kind"] for c, f in doc["columns"].items()}, types, where)


def _frame(df: Any) -> pl.DataFrame:
    try:
        return polars_frame(df)
    except (TypeError, ValueError) as exc:
        raise TransformError(
            f"cannot read {type(df).__name__} as a frame; pass a Polars or pandas frame, "
            "a table name, a SQL query or a dict row"
        ) from exc
