"""Immutable, content-addressed Parquet objects: where table outputs live.

A table model is written to a temporary Parquet file, hashed (blake3) and renamed to
``objects/ab/cdef....parquet``; the warehouse then exposes it through a view. Objects never
change once written, so a commit of the version store only records their ids, identical
data is stored once, and switching versions is a matter of re-pointing views.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import blake3

_CHUNK = 8 << 20


def file_hash(path: Path) -> str:
    """blake3 of a file's bytes, 40 hex digits (multi-threaded for large files)."""
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()[:40]


def atomic_write(path: Path, data: bytes) -> None:
    """Write-temp, fsync, rename, fsync the folder: the file is old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ObjectStore:
    """The ``objects/`` folder; paths it hands out are relative to the project root."""

    def __init__(self, folder: Path, root: Path) -> None:
        self.folder = folder
        self.root = root
        self.tmp = folder / "tmp"

    def temp_path(self) -> Path:
        """A fresh path to write a Parquet file to before it is stored."""
        self.tmp.mkdir(parents=True, exist_ok=True)
        return self.tmp / f"{uuid.uuid4().hex}.parquet"

    def put(self, path: Path) -> str:
        """Move a finished file into the store under its hash; identical data is kept once."""
        digest = file_hash(path)
        target = self.path(digest)
        if target.exists():
            path.unlink()
            return digest
        target.parent.mkdir(parents=True, exist_ok=True)
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(path, target)
        fsync_dir(target.parent)
        return digest

    def path(self, object_id: str) -> Path:
        return self.folder / object_id[:2] / f"{object_id[2:]}.parquet"

    def relative(self, object_id: str) -> str:
        """The object's path as views store it: relative to the project root, which every
        sqlops connection sets as DuckDB's ``file_search_path``."""
        path = self.path(object_id)
        return (
            path.relative_to(self.root).as_posix() if path.is_relative_to(self.root) else str(path)
        )

    def exists(self, object_id: str) -> bool:
        return self.path(object_id).is_file()

    def remove(self, object_ids: set[str]) -> int:
        """Delete objects (callers ensure nothing references them); returns bytes freed."""
        freed = 0
        for oid in object_ids:
            path = self.path(oid)
            if path.is_file():
                freed += path.stat().st_size
                path.unlink()
        return freed
