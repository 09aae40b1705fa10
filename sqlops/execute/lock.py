"""One build at a time per project: an advisory file lock with the holder's pid in it."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlops.errors import LockedError


@contextmanager
def build_lock(state_dir: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold ``<state_dir>/build.lock`` for the duration; wait up to ``wait`` seconds for it.

    The OS releases the lock when the process dies, so a killed build never leaves the
    project locked.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "build.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as exc:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
                    raise LockedError(
                        f"another build is running on this project ({holder or 'unknown'})",
                        hint="wait for it to finish, or pass --wait SECONDS to queue behind it",
                    ) from exc
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, since {datetime.now():%H:%M:%S}".encode(), 0)
        yield
    finally:
        os.close(fd)
