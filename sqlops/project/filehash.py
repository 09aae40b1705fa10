"""Content versions of input files, so identical bytes never count as a change.

A file's version is the blake3 of its bytes: ``touch``, ``cp``, ``git checkout`` or
``sqlops data checkout`` of the same bytes leaves every fingerprint as it was. Reading the
bytes is paid only when a file's stats differ from the last time it was hashed; the
stats -> hash map lives in ``.sqlops/cache/file-hashes.json``. The stats include the inode
and change time, which no tool sets back, so a different file copied in with the same size
and modification time (``cp -p``, ``rsync -t``) is still hashed again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import blake3

_CHUNK = 8 << 20
# A file modified this recently may change again without its stats changing (the clock
# ticks coarser than writes), so its hash is used but not remembered (git's "racy" rule).
_RACY_NS = 2_000_000_000
MISSING = "missing"


class FileHashes:
    """The content hash of files, remembered by their stats."""

    def __init__(self, cache: Path) -> None:
        self.cache = cache
        self.entries: dict[str, list[Any]] = {}
        self.dirty = False
        with contextlib.suppress(OSError, ValueError, TypeError):  # no cache yet, or torn
            self.entries = dict(json.loads(cache.read_text()))

    def version(self, path: Path) -> str:
        """The blake3 of the file's bytes (40 hex digits), or ``missing``."""
        key = str(path)
        try:
            st = os.stat(path)
        except OSError:
            return MISSING
        stats = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        entry = self.entries.get(key)
        if entry is not None and entry[:-1] == stats:
            return str(entry[-1])
        try:
            value = _hash(path)
        except OSError:
            return MISSING
        if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > _RACY_NS:
            self.entries[key] = [*stats, value]
            self.dirty = True
        return value

    def digest(self, files: Iterable[Path], root: Path) -> str:
        """One version for a list of files: their names (relative to ``root`` where they
        are under it, so a moved project keeps its versions) and content hashes."""
        pairs = [(portable(path, root), self.version(path)) for path in files]
        blob = json.dumps(pairs, separators=(",", ":"))
        return hashlib.blake2b(blob.encode(), digest_size=16).hexdigest()

    def save(self) -> None:
        """Write the map if it changed, without entries of files that no longer exist."""
        if not self.dirty:
            return
        kept = {k: v for k, v in self.entries.items() if os.path.exists(k)}
        self.cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(kept))
        os.replace(tmp, self.cache)
        self.dirty = False


def _hash(path: Path) -> str:
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()[:40]


def portable(path: Path | str, root: Path | None) -> str:
    """A path as fingerprints and file versions name it: relative to the project root when
    under it, so moving the project folder leaves every fingerprint as it was.

    >>> portable("/p/data/a.csv", Path("/p")), portable("/q/a.csv", Path("/p"))
    ('data/a.csv', '/q/a.csv')
    """
    if root is not None and Path(path).is_relative_to(root):
        return Path(path).relative_to(root).as_posix()
    return str(path)


def contract_digest(root: Path, ref: str) -> str:
    """The content hash of the file a contract reference names (``NAME`` is
    ``contracts/NAME.py``, ``module:Class`` the module's file under the root), so editing a
    contract re-checks the tables bound to it; the reference itself when no file is found
    (an installed module)."""
    if not ref:
        return ""
    module, _, _ = ref.partition(":")
    relative = Path(*module.split(".")).with_suffix(".py") if ":" in ref else None
    candidate = root / (relative or Path("contracts", f"{ref}.py"))
    try:
        return hashlib.sha256(candidate.read_bytes()).hexdigest()
    except OSError:
        return ref
