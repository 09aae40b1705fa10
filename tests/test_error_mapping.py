"""Every exception a third-party library can raise into sqlops is translated at that
library's one boundary into a one-line ``SqlopsError`` (as httpx tests its transport
mapping): each exception class is fed through its translator, and the common ones are
also triggered for real.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from sqlops.errors import (
    ConfigError,
    DiskFull,
    ExecutionError,
    FileAccessError,
    ModelParseError,
    OutputError,
    SqlopsError,
    VersioningError,
)


def subclasses(base: type) -> list[type]:
    found: list[type] = []
    todo = [base]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.append(sub)
                todo.append(sub)
    return sorted(found, key=lambda c: c.__name__)


def assert_one_line(error: BaseException, kind: type[SqlopsError] = SqlopsError) -> None:
    assert isinstance(error, kind), f"{type(error).__name__} is not a {kind.__name__}"
    text = str(error)
    assert text and "\n" not in text, repr(text)


# -- duckdb: execute/engine.py -------------------------------------------------------------

DUCKDB_ERRORS = [duckdb.Error, *subclasses(duckdb.Error)]
DUCKDB_TEXT = 'Binder Error: Referenced column "x" not found\n\nLINE 1: select x\n       ^'


@pytest.mark.parametrize("cls", DUCKDB_ERRORS, ids=lambda c: c.__name__)
def test_every_duckdb_error_class_translates(cls: type[duckdb.Error]) -> None:
    from sqlops.execute.engine import Where, translate

    where = Where(path="sql/m/a.sql", body_line=3, model="m.a")
    assert_one_line(translate(cls(DUCKDB_TEXT), where))
    assert_one_line(translate(cls(""), None))


@pytest.mark.parametrize(
    ("sql", "duckdb_class"),
    [
        ("select from from", duckdb.ParserException),
        ("select nope from range(1)", duckdb.BinderException),
        ("select * from nowhere", duckdb.CatalogException),
        ("select 'x'::int", duckdb.ConversionException),
        ("select * from read_csv('/nonexistent/x.csv')", duckdb.IOException),
        ("select 9223372036854775807::bigint + 1", duckdb.OutOfRangeException),
        ("select error('boom')", duckdb.InvalidInputException),
    ],
)
def test_duckdb_errors_met_for_real_are_translated(sql: str, duckdb_class: type) -> None:
    from sqlops.execute.engine import Engine

    with pytest.raises(duckdb_class):  # the premise: DuckDB raises this class
        duckdb.connect().execute(sql)
    engine = Engine.open()
    try:
        with pytest.raises(ExecutionError) as caught:
            engine.query(sql)
    finally:
        engine.close()
    assert_one_line(caught.value, ExecutionError)
    assert isinstance(caught.value.__cause__, duckdb_class)


def test_duckdb_disk_full_is_disk_full() -> None:
    from sqlops.execute.engine import translate

    exc = duckdb.TransactionException(
        'TransactionContext Error: Failed to commit: Could not write file "/d/c.duckdb.wal": '
        "No space left on device"
    )
    error = translate(exc, None)
    assert_one_line(error, DiskFull)
    assert isinstance(error, DiskFull) and error.path == "/d/c.duckdb.wal"


# -- OSError and text decoding: oserrors.py ------------------------------------------------

OS_ERRORS = [OSError, *[c for c in subclasses(OSError) if c.__module__ == "builtins"]]


@pytest.mark.parametrize("cls", OS_ERRORS, ids=lambda c: c.__name__)
def test_every_os_error_class_translates(cls: type[OSError]) -> None:
    from sqlops.oserrors import translate_os_error

    assert_one_line(translate_os_error(cls("it failed"), "x.db", "write"), FileAccessError)
    assert_one_line(translate_os_error(cls(errno.EIO, "I/O error"), None, "read"))


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_no_space_is_disk_full(code: int) -> None:
    from sqlops.oserrors import translate_os_error

    assert_one_line(translate_os_error(OSError(code, "full"), "x.db", "write"), DiskFull)


def test_os_errors_met_for_real(tmp_path: Path) -> None:
    from sqlops.oserrors import os_errors, read_text

    with pytest.raises(FileAccessError, match=r"missing\.txt: cannot read: no such file"):
        read_text(tmp_path / "missing.txt", "missing.txt")
    with pytest.raises(FileAccessError, match="is a directory"), os_errors(tmp_path, "write"):
        tmp_path.write_text("x")
    (tmp_path / "latin1.sql").write_bytes("select 1\n-- café\n".encode("latin-1"))
    with pytest.raises(FileAccessError, match=r"latin1.sql:2: is not UTF-8") as caught:
        read_text(tmp_path / "latin1.sql", "latin1.sql")
    assert isinstance(caught.value.__cause__, UnicodeDecodeError)


# -- Polars: execute/polarserrors.py -------------------------------------------------------

POLARS_ERRORS = [
    pl.exceptions.PolarsError,
    *subclasses(pl.exceptions.PolarsError),
    pl.exceptions.PanicException,
]


@pytest.mark.parametrize("cls", POLARS_ERRORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("writing", [False, True])
def test_every_polars_error_class_translates(cls: type[BaseException], writing: bool) -> None:
    from sqlops.execute.polarserrors import polars_errors

    kind = OutputError if writing else ExecutionError
    with pytest.raises(kind) as caught, polars_errors("write", "x.csv", writing=writing):
        raise cls("it failed\nmore detail")
    assert_one_line(caught.value, kind)
    assert isinstance(caught.value.__cause__, cls)


def test_polars_errors_met_for_real(tmp_path: Path) -> None:
    from sqlops import write_output

    nested = pl.DataFrame({"l": [[1, 2]]})
    with pytest.raises(OutputError, match=r"x\.csv: cannot write: .*nested") as caught:
        write_output(nested, tmp_path / "x.csv")
    assert isinstance(caught.value.__cause__, pl.exceptions.ComputeError)
    with pytest.raises(FileAccessError, match="no such file"):
        write_output(pl.DataFrame({"a": [1]}), "/proc/x.parquet")
    (tmp_path / "d.parquet").mkdir()
    with pytest.raises(FileAccessError):
        write_output(pl.DataFrame({"a": [1]}), tmp_path / "d.parquet")


def test_values_polars_cannot_hold_come_back_as_duckdb_text() -> None:
    """Polars has no INTERVAL or UNION: results carry DuckDB's own text for them, checked
    against plain DuckDB's cast, rather than failing the query."""
    import duckdb

    from sqlops.execute.engine import Engine

    engine = Engine.open()
    try:
        for sql in ("select interval 1 day as v", "select union_value(a := 1) as v"):
            got = engine.query(sql)
            assert got is not None
            expected = duckdb.execute(f"select v::VARCHAR from ({sql})").fetchall()
            assert got["v"].to_list() == [row[0] for row in expected]
    finally:
        engine.close()


# -- sqlglot: project/parse.py -------------------------------------------------------------

import sqlglot.errors  # noqa: E402  (grouped with its section)

SQLGLOT_ERRORS = [sqlglot.errors.SqlglotError, *subclasses(sqlglot.errors.SqlglotError)]


@pytest.mark.parametrize("cls", SQLGLOT_ERRORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("stage", ["tokenize", "parse"])
def test_every_sqlglot_error_class_translates(
    cls: type[Exception], stage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlops.project import parse

    real = parse._DIALECT

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise cls("it failed\nmore detail")

    class Failing:
        """The dialect, failing at one stage."""

        def tokenize(self, sql: str) -> Any:
            return fail() if stage == "tokenize" else real.tokenize(sql)

        def parser(self) -> Any:
            return type("P", (), {"parse": staticmethod(fail)})()

    monkeypatch.setattr(parse, "_DIALECT", Failing())
    with pytest.raises(ModelParseError) as caught:
        parse.analyze("select 1", path=Path("sql/m/a.sql"), body_line=2)
    assert_one_line(caught.value, ModelParseError)
    assert str(caught.value).startswith("sql/m/a.sql:2")


@pytest.mark.parametrize("sql", ["select (1", "select 'abc", "select * from t where"])
def test_sqlglot_errors_met_for_real(sql: str) -> None:
    from sqlops.project.parse import analyze

    with pytest.raises(ModelParseError) as caught:
        analyze(sql, path=Path("sql/m/a.sql"), body_line=1)
    assert_one_line(caught.value, ModelParseError)


# -- TOML: config.py -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["models = ", "[sources\n", "a = 1\na = 2\n", b"models = 'caf\xe9'\n"]
)
def test_toml_errors_are_config_errors(tmp_path: Path, text: str | bytes) -> None:
    from sqlops.config import load_config

    path = tmp_path / "sqlops.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(SqlopsError) as caught:
        load_config(tmp_path)
    assert_one_line(caught.value, (ConfigError, FileAccessError))  # type: ignore[arg-type]
    assert str(caught.value).startswith("sqlops.toml")


# -- lakeFS SDK and urllib3: versioning/lakefs.py ------------------------------------------

lx = pytest.importorskip("lakefs.exceptions")
LAKEFS_ERRORS = [lx.LakeFSException, *subclasses(lx.LakeFSException)]


def _sdk_store() -> Any:
    from sqlops.versioning.lakefs import LakeFSStore

    store = LakeFSStore.__new__(LakeFSStore)  # only the translator is exercised
    store.endpoint = "http://127.0.0.1:9"
    return store


def _instance(cls: type[Exception]) -> Exception:
    if issubclass(cls, lx.ServerException):
        return cls(status=409, reason="Conflict", body='{"message": "it failed"}')
    return cls("it failed")


@pytest.mark.parametrize("cls", LAKEFS_ERRORS, ids=lambda c: c.__name__)
def test_every_lakefs_error_class_translates(cls: type[Exception]) -> None:
    with pytest.raises(SqlopsError) as caught, _sdk_store()._sdk("list branches"):
        raise _instance(cls)
    assert_one_line(caught.value, (ConfigError, VersioningError))  # type: ignore[arg-type]
    assert caught.value.__cause__ is not None


def _urllib3_errors() -> Iterator[Exception]:
    import urllib3.exceptions as ux

    yield ux.MaxRetryError(None, "/api", "refused")  # type: ignore[arg-type]
    yield ux.NewConnectionError(None, "refused")  # type: ignore[arg-type]
    yield ux.ReadTimeoutError(None, "/api", "timed out")  # type: ignore[arg-type]
    yield ux.ProtocolError("connection aborted")
    yield ConnectionRefusedError(errno.ECONNREFUSED, "refused")


@pytest.mark.parametrize("exc", list(_urllib3_errors()), ids=lambda e: type(e).__name__)
def test_transport_errors_say_the_server_is_unreachable(exc: Exception) -> None:
    with pytest.raises(VersioningError, match="cannot reach lakeFS"), _sdk_store()._sdk("x"):
        raise exc


def test_a_local_file_error_under_the_sdk_is_a_file_error() -> None:
    with pytest.raises(DiskFull), _sdk_store()._sdk("cache an object"):
        raise OSError(errno.ENOSPC, "No space left on device")


def test_an_unreachable_server_is_met_for_real(tmp_path: Path) -> None:
    from sqlops.config import LakeFSConfig
    from sqlops.storage.objects import ObjectStore
    from sqlops.versioning.lakefs import LakeFSStore

    settings = LakeFSConfig(
        endpoint="http://127.0.0.1:9", repository="r", access_key_id="a", secret_access_key="b"
    )
    store = LakeFSStore(settings, ObjectStore(tmp_path / "o", tmp_path), tmp_path / "c")
    with pytest.raises(VersioningError, match=r"cannot reach lakeFS at http://127\.0\.0\.1:9"):
        store.init()


def test_atomic_write_survives_short_writes_and_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault injected at ``os.write``: a full disk first writes part of the data and
    returns, then raises ENOSPC. The file must end complete, or stay as it was."""
    import os

    from sqlops.storage import objects

    real_write = os.write
    target = tmp_path / "refs" / "main"
    objects.atomic_write(target, b"old commit id")

    monkeypatch.setattr(objects.os, "write", lambda fd, data: real_write(fd, bytes(data[:3])))
    objects.atomic_write(target, b"a new commit id")
    assert target.read_bytes() == b"a new commit id"

    def full(fd: int, data: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(objects.os, "write", full)
    with pytest.raises(DiskFull, match="main: cannot write: no space left on device"):
        objects.atomic_write(target, b"lost")
    assert target.read_bytes() == b"a new commit id"
    assert sorted(p.name for p in target.parent.iterdir()) == ["main"]  # no temp file left
