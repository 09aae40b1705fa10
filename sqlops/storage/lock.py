"""One build at a time per project: an OS file lock (``filelock``), and who holds it.

The lock is the OS's (flock on POSIX, LockFileEx on Windows), so a killed build never leaves
the project locked. The holder is written to a separate file: the lock file itself may be
truncated by a waiter opening it, and on Windows it cannot be read while locked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlops.errors import LockedError

_POLL = 0.05


@contextmanager
def build_lock(state_dir: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold ``<state_dir>/build.lock`` for the duration; wait up to ``wait`` seconds for it."""
    from filelock import FileLock, Timeout  # 25 ms of imports: only commands that lock pay

    state_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(state_dir / "build.lock")
    holder = state_dir / "build.holder"
    try:
        lock.acquire(timeout=max(wait, 0.0), poll_interval=_POLL)
    except Timeout as exc:
        raise LockedError(
            f"another build is running on this project ({_read(holder) or 'holder unknown'})",
            hint="wait for it to finish, or pass --wait SECONDS to queue behind it",
        ) from exc
    try:
        holder.write_text(f"pid {os.getpid()}, since {datetime.now():%H:%M:%S}")
        yield
    finally:
        holder.unlink(missing_ok=True)
        lock.release()


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""
