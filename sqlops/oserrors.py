"""Operating-system errors on the user's files, translated once into sqlops errors.

``OSError`` (and ``UnicodeDecodeError`` for text the user wrote) can come from any layer that
touches a file; this module is the one place that turns them into one-line messages naming
the file and the fix. It imports only ``sqlops.errors``, so every layer may use it.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlops.errors import DiskFull, FileAccessError

_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
_HINTS = {
    errno.ENOENT: "check the path; its folder must exist",
    errno.EACCES: "check the file's permissions",
    errno.EPERM: "check the file's permissions",
    errno.EROFS: "the file system is read-only; choose another place",
    errno.EISDIR: "give a file name, not a folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
}

_ERRNO_OF: dict[type[OSError], int] = {
    FileNotFoundError: errno.ENOENT,
    PermissionError: errno.EACCES,
    IsADirectoryError: errno.EISDIR,
    NotADirectoryError: errno.ENOTDIR,
    FileExistsError: errno.EEXIST,
}


def translate_os_error(exc: OSError, path: Path | str | None, action: str) -> FileAccessError:
    """The sqlops error for ``exc``, raised while trying to ``action`` ``path``.

    >>> import errno
    >>> str(translate_os_error(OSError(errno.ENOSPC, "No space left on device"), "x.db", "write"))
    'x.db: cannot write: no space left on device. free some space, then run the command again'
    """
    where = path if path is not None else exc.filename
    code = exc.errno if exc.errno is not None else _ERRNO_OF.get(type(exc))
    # Polars and other Rust code raise OSError subclasses with only a message:
    # "No such file or directory (os error 2): /x"
    message = str(exc).split(" (os error")[0] if exc.strerror is None else exc.strerror
    reason = (message or type(exc).__name__).lower()
    if code in _NO_SPACE or "no space left" in reason:
        return DiskFull(
            f"cannot {action}: no space left on device",
            path=where,
            hint="free some space, then run the command again",
        )
    return FileAccessError(f"cannot {action}: {reason}", path=where, hint=_HINTS.get(code or 0))


@contextmanager
def os_errors(path: Path | str | None, action: str) -> Iterator[None]:
    """Raise ``OSError`` from the block as the sqlops error that names ``path``."""
    try:
        yield
    except OSError as exc:
        raise translate_os_error(exc, path, action) from exc


def read_text(path: Path, shown: Path | str | None = None) -> str:
    """A text file the user wrote, decoded as UTF-8; a file that is not UTF-8 is named with
    the line of its first bad byte (``shown`` is how messages name it, default ``path``).
    """
    shown = path if shown is None else shown
    with os_errors(shown, "read"):
        raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise FileAccessError(
            f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            path=shown,
            line=line,
            hint="save the file as UTF-8",
        ) from exc
    # what open() in text mode gives: universal newlines
    return text.replace("\r\n", "\n").replace("\r", "\n")
