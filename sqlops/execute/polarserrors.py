"""Polars exceptions, translated once into sqlops errors.

Polars runs on the user's data in a few places (turning DuckDB results into frames, writing
``--out`` files, the Polars CSV scan and executor); each wraps its Polars calls in
``polars_errors`` so a Polars failure reads like every other sqlops error. Polars raises
``OSError`` subclasses for paths and a ``PanicException`` (not an ``Exception``) for its own
bugs: those are translated here too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlops.errors import ExecutionError, OutputError, SqlopsError
from sqlops.oserrors import translate_os_error

# what to do about each kind of Polars failure; the message itself comes from Polars
_HINTS = {
    "ColumnNotFoundError": "check the column names",
    "SchemaError": "the columns' types do not fit; cast them in the SQL",
    "InvalidOperationError": "cast the column to a simpler type in the SQL (e.g. VARCHAR)",
    "PanicException": "Polars failed internally; please report it with the query",
}


def translate_polars_error(
    exc: BaseException, action: str, path: Path | str | None = None, *, writing: bool = False
) -> SqlopsError:
    """The sqlops error for a Polars failure while doing ``action`` (``writing`` to ``path``
    gives an ``OutputError``, anything else an ``ExecutionError``)."""
    if isinstance(exc, OSError):
        return translate_os_error(exc, path, action)
    lines = str(exc).strip().splitlines()
    reason = lines[0].split(". Hint:")[0] if lines else type(exc).__name__
    hint = _HINTS.get(type(exc).__name__)
    if "could not import" in reason or "cannot create series" in reason:
        hint = "Polars has no such type: cast that column to VARCHAR (or a simpler type) in the SQL"
    if writing:
        if "does not support" in reason or "nested" in reason:
            hint = "write .parquet or .json instead, or cast those columns to VARCHAR in the SQL"
        return OutputError(f"cannot {action}: {reason}", path=path, hint=hint)
    return ExecutionError(f"cannot {action}: {reason}", path=path, hint=hint)


@contextmanager
def polars_errors(
    action: str, path: Path | str | None = None, *, writing: bool = False
) -> Iterator[None]:
    """Raise what Polars raises in the block as the matching sqlops error, ``from`` it."""
    import polars as pl

    try:
        yield
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError) as exc:
        raise translate_polars_error(exc, action, path, writing=writing) from exc
