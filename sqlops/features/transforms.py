"""Fitted transforms (TensorFlow Transform's analyzers): fit statistics once on a training
set, keep them as a versioned JSON document, and apply them as one DuckDB ``SELECT``, so a
training frame, a later table and an online row get exactly the same normalization.

Kinds (``spec`` maps a column to a kind name or ``{kind: {options}}``):

- ``z_score``: ``(x - mean) / std`` with the population std (ddof 0, as TFT and
  scikit-learn); an empty or single-valued column passes through unscaled (TFT).
- ``min_max``: ``(x - min) / (max - min)``, not clipped outside the fitted range; an
  empty or single-valued column is scaled by the sigmoid ``1 / (1 + exp(-x))``
  (TFT's ``scale_to_0_1``).
- ``vocabulary``: string (or integer) -> index, ordered by frequency, ties by value
  descending (TFT); options ``top_k``, ``frequency_threshold``, ``default_value`` (-1)
  and ``num_oov_buckets``: an unseen value goes to ``size + h % num_oov_buckets`` where
  ``h`` is the first 60 bits of the md5 of its text (stable across processes and versions;
  TFT uses FarmHash, so the buckets differ from TFT's).
- ``bucketize``: ``num_buckets`` buckets split at DuckDB's ``quantile_cont`` (linear
  interpolation, numpy's default) of ``i / num_buckets``; equal boundaries (ties) are kept
  once, so heavy ties give fewer buckets. A value equal to a boundary goes to the upper
  bucket: the bucket is the number of boundaries ``<= x`` (TFT's ``apply_buckets``).

NULLs are ignored by every analyzer and stay NULL. Outputs replace their column in place
(DOUBLE for the scalers, BIGINT for the indexes); other columns pass through.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlops.errors import TransformError
from sqlops.execute.materialize import literal, quote
from sqlops.storage.objects import atomic_write

if TYPE_CHECKING:
    from sqlops.execute.engine import Engine

KINDS = ("z_score", "min_max", "vocabulary", "bucketize")
_OPTIONS = {
    "z_score": set(),
    "min_max": set(),
    "vocabulary": {"top_k", "frequency_threshold", "default_value", "num_oov_buckets"},
    "bucketize": {"num_buckets"},
}
_NUMERIC = re.compile(
    r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|"
    r"UHUGEINT|FLOAT|DOUBLE|DECIMAL(\(\d+,\s*\d+\))?|\"?NULL\"?)$"
)
_VOCAB_TYPES = re.compile(
    r"^(VARCHAR|TINYINT|SMALLINT|INTEGER|BIGINT|UTINYINT|USMALLINT|"
    r"UINTEGER|UBIGINT|BOOLEAN|\"?NULL\"?)$"
)
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def parse_spec(spec: Mapping[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """``{column: (kind, options)}``, or a one-line error naming the bad entry."""
    if not isinstance(spec, Mapping) or not spec:
        raise TransformError("a transform spec is a non-empty dict: {column: kind}")
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for column, entry in spec.items():
        options: dict[str, Any] = {}
        if isinstance(entry, str):
            kind = entry
        elif isinstance(entry, Mapping) and len(entry) == 1:
            kind, given = next(iter(entry.items()))
            if given is not None and not isinstance(given, Mapping):
                raise TransformError(
                    f"spec[{column!r}]: the options of {kind} are a dict; got {given!r}"
                )
            options = dict(given or {})
        else:
            raise TransformError(
                f"spec[{column!r}] must be a kind name or {{kind: {{options}}}}; got {entry!r}"
            )
        if kind not in KINDS:
            raise TransformError(
                f"spec[{column!r}]: unknown transform kind {kind!r}; use one of {', '.join(KINDS)}"
            )
        unknown = set(options) - _OPTIONS[kind]
        if unknown:
            raise TransformError(
                f"spec[{column!r}]: {kind} has no option {', '.join(sorted(unknown))}; "
                f"it takes {', '.join(sorted(_OPTIONS[kind])) or 'none'}"
            )
        for key, value in options.items():
            low = 0 if key == "num_oov_buckets" else (None if key == "default_value" else 1)
            if (
                not isinstance(value, int)
                or isinstance(value, bool)
                or (low is not None and value < low)
            ):
                raise TransformError(
                    f"spec[{column!r}]: {kind} option {key} must be an integer"
                    + (f" >= {low}" if low is not None else "")
                    + f"; got {value!r}"
                )
        if kind == "bucketize" and "num_buckets" not in options:
            raise TransformError(f"spec[{column!r}]: bucketize needs num_buckets (an integer >= 1)")
        out[str(column)] = (kind, options)
    return out


def check_columns(
    name: str, needs: Mapping[str, str], types: Mapping[str, str], where: str
) -> None:
    """Every transformed column exists in ``where`` with a type its kind accepts."""
    missing = [c for c in needs if c not in types]
    if missing:
        raise TransformError(
            f"transform {name}: {where} has no column {', '.join(missing)} "
            f"(it has {', '.join(types) or 'none'}); pass a frame with the fitted columns"
        )
    for column, kind in needs.items():
        ctype = types[column]
        ok = _VOCAB_TYPES.match(ctype) if kind == "vocabulary" else _NUMERIC.match(ctype)
        if not ok:
            what = "a string or integer" if kind == "vocabulary" else "a numeric"
            raise TransformError(
                f"transform {name}: {kind} needs {what} column; {where}.{column} is {ctype}"
            )


def fit(
    engine: Engine, relation: str, name: str, spec: Mapping[str, Any], where: str
) -> dict[str, Any]:
    """Analyze ``relation`` (a table or parenthesized query) and return the transform
    document: the spec, the input types and each column's fitted statistics."""
    parsed = parse_spec(spec)
    types = dict(engine.output_columns(f"SELECT * FROM {relation}"))
    check_columns(name, {c: k for c, (k, _) in parsed.items()}, types, where)
    columns: dict[str, Any] = {}
    for column, (kind, options) in parsed.items():
        col = quote(column)
        if kind in ("z_score", "min_max"):
            x = f"CAST({col} AS DOUBLE)"
            count, distinct, mean, std, low, high = engine.execute(
                f"SELECT count({x}), count(DISTINCT {x}), avg({x}), stddev_pop({x}), "
                f"min({x}), max({x}) FROM {relation}"
            ).fetchall()[0]
            stats = {"count": count, "mean": mean, "std": std, "min": low, "max": high}
            if any(v is not None and not math.isfinite(v) for v in stats.values()):
                raise TransformError(
                    f"transform {name}: {where}.{column} holds NaN or infinity; "
                    f"{kind} needs finite values (filter or impute them first)"
                )
            stats["scaled"] = distinct > 1
            columns[column] = {"kind": kind, **stats}
        elif kind == "vocabulary":
            rows = engine.execute(
                f"SELECT CAST({col} AS VARCHAR) AS v, count(*) AS n FROM {relation} "
                f"WHERE {col} IS NOT NULL GROUP BY v ORDER BY n DESC, v DESC"
            ).fetchall()
            floor = options.get("frequency_threshold", 1)
            values = [str(v) for v, n in rows if n >= floor][: options.get("top_k")]
            columns[column] = {
                "kind": kind,
                "values": values,
                "default_value": options.get("default_value", -1),
                "num_oov_buckets": options.get("num_oov_buckets", 0),
            }
        else:
            n = options["num_buckets"]
            probs = ", ".join(_double(i / n) for i in range(1, n))
            bounds = (
                engine.execute(
                    f"SELECT quantile_cont(CAST({col} AS DOUBLE), [{probs}]) FROM {relation}"
                ).fetchall()[0][0]
                if probs
                else []
            )
            if any(not math.isfinite(b) for b in bounds or []):
                raise TransformError(
                    f"transform {name}: {where}.{column} holds NaN or infinity; "
                    f"{kind} needs finite values (filter or impute them first)"
                )
            columns[column] = {
                "kind": kind,
                "num_buckets": n,
                "boundaries": sorted(set(bounds or [])),
            }
    return {
        "name": name,
        "spec": {c: {k: o} for c, (k, o) in parsed.items()},
        "input_types": {c: types[c] for c in parsed},
        "columns": columns,
    }


def select_sql(
    doc: Mapping[str, Any], relation: str, lookups: Mapping[str, str] | None = None
) -> str:
    """The ``SELECT`` applying a fitted transform to ``relation``: every column in its
    place, the transformed ones replaced (``* REPLACE`` needs no list of the others).
    A vocabulary is a ``MAP`` literal (self-contained text), or with ``lookups`` a scalar
    subquery on a ``(key, idx)`` table holding the same entries, which DuckDB binds in
    well under a millisecond instead of ~100 ms for a 10k-entry literal (the online path)."""
    lookups = lookups or {}
    parts = ", ".join(
        f"{_expression(fitted, quote(c), lookups.get(c))} AS {quote(c)}"
        for c, fitted in doc["columns"].items()
    )
    return f"SELECT * REPLACE ({parts}) FROM {relation}"


def vocabulary_rows(fitted: Mapping[str, Any]) -> list[tuple[str, int]]:
    """The ``(key, idx)`` rows of a vocabulary's lookup table."""
    return [(v, i) for i, v in enumerate(fitted["values"])]


def _double(value: float) -> str:
    """A DOUBLE literal that round-trips exactly (a bare ``0.1`` would be a DECIMAL)."""
    return f"CAST('{float(value)!r}' AS DOUBLE)"


def _expression(fitted: Mapping[str, Any], col: str, lookup: str | None = None) -> str:
    kind = fitted["kind"]
    x = f"CAST({col} AS DOUBLE)"
    if kind == "z_score":
        if not fitted["scaled"]:
            return x
        return f"(({x} - {_double(fitted['mean'])}) / {_double(fitted['std'])})"
    if kind == "min_max":
        if not fitted["scaled"]:
            return f"(1.0 / (1.0 + exp(-{x})))"
        span = fitted["max"] - fitted["min"]
        return f"(({x} - {_double(fitted['min'])}) / {_double(span)})"
    if kind == "bucketize":
        if not fitted["boundaries"]:
            return f"CASE WHEN {col} IS NULL THEN NULL ELSE CAST(0 AS BIGINT) END"
        terms = " + ".join(f"CAST({x} >= {_double(b)} AS BIGINT)" for b in fitted["boundaries"])
        return f"({terms})"
    values = fitted["values"]
    text = f"CAST({col} AS VARCHAR)"
    size = len(values)
    if fitted["num_oov_buckets"]:
        unknown = (
            f"({size} + CAST(('0x' || substr(md5({text}), 1, 15)) AS BIGINT) "
            f"% {fitted['num_oov_buckets']})"
        )
    else:
        unknown = str(int(fitted["default_value"]))
    if not values:
        return f"CASE WHEN {col} IS NULL THEN NULL ELSE CAST({unknown} AS BIGINT) END"
    if lookup is not None:
        found = f"(SELECT idx FROM {lookup} WHERE key = {text})"
    else:
        entries = ", ".join(f"{literal(v)}: {i}" for i, v in enumerate(values))
        found = f"MAP {{{entries}}}[{text}]"
    return (
        f"CASE WHEN {col} IS NULL THEN NULL ELSE CAST(coalesce({found}, {unknown}) AS BIGINT) END"
    )


class TransformStore:
    """``.sqlops/transforms/<name>/<version>.json``: one small readable document per fit,
    versions 1, 2, ... per name. A fit identical to the latest version reuses it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def versions(self, name: str) -> list[int]:
        folder = self.folder / name
        if not folder.is_dir():
            return []
        return sorted(int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit())

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if p.is_dir() and self.versions(p.name))

    @staticmethod
    def check_name(name: str) -> None:
        if not _NAME.match(name):
            raise TransformError(
                f"transform name {name!r} is not a plain name; use letters, digits, _ . -"
            )

    def save(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Store ``doc`` as the next version (or return the latest if it is the same fit).
        The version file is created exclusively, so two concurrent fits never share one."""
        name = doc["name"]
        self.check_name(name)
        body = {k: v for k, v in doc.items() if k != "version"}
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:40]
        existing = self.versions(name)
        if existing:
            latest = self.load(name, existing[-1])
            if latest.get("digest") == digest:
                return latest
        version = (existing[-1] if existing else 0) + 1
        folder = self.folder / name
        while True:
            out = {**body, "version": version, "digest": digest}
            data = json.dumps(out, indent=1, sort_keys=True, allow_nan=False).encode()
            tmp = folder / f".{version}.json.tmp-{os.getpid()}"
            atomic_write(tmp, data)
            try:
                os.link(tmp, folder / f"{version}.json")
                return out
            except FileExistsError:
                version += 1
            finally:
                tmp.unlink(missing_ok=True)

    def load(self, name: str, version: int | None = None) -> dict[str, Any]:
        from sqlops.errors import did_you_mean

        versions = self.versions(name)
        if not versions:
            hint = did_you_mean(name, self.names()) or "fit one with store.fit_transform"
            raise TransformError(f"no fitted transform named {name}; {hint}")
        chosen = versions[-1] if version is None else version
        if chosen not in versions:
            raise TransformError(
                f"transform {name} has no version {version}; it has {', '.join(map(str, versions))}"
            )
        path = self.folder / name / f"{chosen}.json"
        try:
            doc: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise TransformError(f"{path}: cannot read the transform ({exc})") from exc
        return doc
