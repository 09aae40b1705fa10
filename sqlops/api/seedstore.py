"""The seed document's feature-store methods on ``FeatureStore``, so its code runs with
only the constructor changed: ``add(df)``/``load()`` for data frames,
``save_features(names, df)``/``load_features()`` for a feature table and
``load_feature(name=...)`` for one stored frame or one feature column.

Each frame is written as a Parquet object of the version store's object folder (identical
frames are stored once) and every call adds a numbered version of its name in the catalog;
``load*`` reads the latest. ``gc`` keeps every stored version.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlops.api.registry import artifact, registry_lock, store_object
from sqlops.catalog.registry import RegistryCatalog
from sqlops.errors import RegistryError, did_you_mean

if TYPE_CHECKING:
    import polars as pl

    from sqlops.api import Project

DATA = "data"
FEATURES = "features"


class SeedStoreMixin:
    """``add``, ``load``, ``save_features``, ``load_features`` and ``load_feature``."""

    project: Project

    def add(self, df: Any, name: str = DATA) -> int:
        """Store a frame (Polars, pandas or Arrow) as the next version of ``name``
        (default ``data``); returns the version number."""
        frame = _polars(df, name)
        catalog = RegistryCatalog(self.project.config.catalog_path)
        with registry_lock(self.project):
            object_id = store_object(self.project, frame.write_parquet)
            return catalog.record_frame(name, object_id, frame.columns)

    def load(self, name: str = DATA, version: int | None = None) -> pl.DataFrame:
        """The frame stored under ``name`` (the latest version by default)."""
        import polars as pl

        record = self._frame(name, version)
        where = f"stored frame {name} version {record['version']}"
        return pl.read_parquet(artifact(self.project, record["object"], where))

    def save_features(self, names: Sequence[str], df: Any, name: str = FEATURES) -> int:
        """Store the ``names`` columns of ``df`` as the feature table (featuretools'
        ``save_features(feature_names, feature_matrix)``); returns the version number."""
        frame = _polars(df, name)
        wanted = [n if isinstance(n, str) else n.get_name() for n in names]  # or ft features
        missing = [n for n in wanted if n not in frame.columns]
        if missing:
            hint = did_you_mean(missing[0], frame.columns) or f"its columns: {frame.columns}"
            raise RegistryError(f"save_features: the frame has no column {missing[0]!r}; {hint}")
        return self.add(frame.select(wanted), name)

    def load_features(self, name: str = FEATURES) -> pl.DataFrame:
        """The latest feature table ``save_features`` stored."""
        return self.load(name)

    def load_feature(self, name: str) -> pl.DataFrame | pl.Series:
        """A stored frame named ``name`` (``add(df, name=...)``), or else the column
        ``name`` of the feature table. A one-column frame comes back as a Series, which is
        what an estimator's ``fit(X, y)`` wants as ``y``."""
        catalog = RegistryCatalog(self.project.config.catalog_path)
        if catalog.frames(name):
            frame = self.load(name)
            return frame.to_series() if frame.width == 1 else frame
        if catalog.frames(FEATURES):
            table = self.load(FEATURES)
            if name in table.columns:
                return table[name]
        known = sorted({r["name"] for r in catalog.frames()} | set(_columns(catalog)))
        hint = did_you_mean(name, known) or "store it with add(df, name=...) or save_features"
        raise RegistryError(f"load_feature: no stored frame or feature named {name!r}; {hint}")

    def _frame(self, name: str, version: int | None) -> dict[str, Any]:
        catalog = RegistryCatalog(self.project.config.catalog_path)
        versions = catalog.frames(name)
        if not versions:
            known = sorted({r["name"] for r in catalog.frames()})
            hint = did_you_mean(name, known) or "store one with add(df) first"
            raise RegistryError(f"no stored frame named {name!r}; {hint}")
        if version is None:
            return versions[-1]
        for row in versions:
            if row["version"] == version:
                return row
        raise RegistryError(
            f"stored frame {name} has no version {version}; "
            f"its versions are 1..{versions[-1]['version']}"
        )


def _columns(catalog: RegistryCatalog) -> list[str]:
    rows = catalog.frames(FEATURES)
    return list(rows[-1]["columns"]) if rows else []


def _polars(df: Any, name: str) -> pl.DataFrame:
    try:
        return polars_frame(df)
    except (TypeError, ValueError) as exc:
        raise RegistryError(
            f"cannot store {type(df).__name__} as {name!r}; pass a Polars, pandas or Arrow frame"
        ) from exc


def polars_frame(df: Any) -> pl.DataFrame:
    """A Polars frame of a Polars, pandas or Arrow frame (a Series becomes one column), or
    of what ``pl.DataFrame`` takes (rows, columns); TypeError or ValueError otherwise."""
    import polars as pl

    if isinstance(df, pl.DataFrame):
        return df
    if isinstance(df, pl.Series):
        return df.to_frame()
    if hasattr(df, "iloc"):  # pandas; a Series keeps its name (or becomes `value`)
        if not hasattr(df, "columns"):
            df = df.to_frame(name=df.name if df.name is not None else "value")
        return pl.from_pandas(df)
    return pl.DataFrame(df)
