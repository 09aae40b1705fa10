"""The no-op shortcut: skip loading, planning and DuckDB when no input file has changed.

After a successful build, the stats (size, modification and change time) of every file that
can change a plan are saved with the list of nodes built; the files models read directly, which
only parsing reveals, are saved by name and their stats checked again (globs expanded). If
the next build sees the same stats and the warehouse file is untouched, nothing can have
changed and the build is a no-op without even importing DuckDB. Any difference falls back
to the full plan, which decides from content (SQL tokens, file hashes), so a
touched-but-identical file costs one normal plan and rebuilds nothing.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Sequence
from typing import Any

from sqlops.config import Config
from sqlops.macros import library_hash
from sqlops.plan.fingerprint import digest
from sqlops.project.sources import resolve_sources

_FILE = "cache/noop.json"


def inputs_digest(config: Config, select: Sequence[str], exclude: Sequence[str]) -> str:
    """Stats of the config, every model file, every source file and python model module,
    and the macro library (part of the fingerprints of the models calling it)."""
    stats: list[Any] = [repr(config), list(select), list(exclude), library_hash()]
    for folder, dirs, files in os.walk(config.models_path):
        dirs.sort()
        for name in sorted(files):
            stats.append(_stat(os.path.join(folder, name)))
    for source in resolve_sources(config, {}).values():
        stats.extend(_stat(str(path)) for path in source.files)
    stats.extend(_stat(str(config.root / extra)) for extra in config.python_models)
    return digest(stats)


def warehouse_digest(config: Config) -> str:
    """The warehouse file and the object folders (a deleted object changes its folder's
    modification time)."""
    path = str(config.warehouse_path)
    objects = config.state_path / "versions" / "objects"
    folders = sorted(_stat(e.path) for e in os.scandir(objects)) if objects.is_dir() else []
    return digest([_stat(path), _stat(path + ".wal"), folders])


def saved_nodes(config: Config, inputs: str) -> list[dict[str, Any]] | None:
    """The nodes of the last build if nothing it depends on has changed since, else None."""
    try:
        data = json.loads((config.state_path / _FILE).read_text())
    except (OSError, ValueError):
        return None
    if data.get("inputs") != inputs or data.get("warehouse") != warehouse_digest(config):
        return None
    if data.get("reads") != _reads_digest(config, data.get("read_names", [])):
        return None
    nodes: list[dict[str, Any]] = data["nodes"]
    return nodes


def save(
    config: Config, inputs: str, nodes: list[dict[str, Any]], reads: Sequence[str] = ()
) -> None:
    """Record a successful build (after the warehouse is closed, so its stats are final);
    ``reads`` are the files and globs the models read directly (``from 'x.csv'``)."""
    path = config.state_path / _FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "inputs": inputs,
        "warehouse": warehouse_digest(config),
        "nodes": nodes,
        "read_names": sorted(reads),
        "reads": _reads_digest(config, sorted(reads)),
    }
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(body))
    os.replace(tmp, path)


def forget(config: Config) -> None:
    """Drop the record, e.g. before anything but a build writes to the warehouse."""
    (config.state_path / _FILE).unlink(missing_ok=True)


def _reads_digest(config: Config, names: Sequence[str]) -> str:
    stats: list[Any] = []
    for name in names:
        path = name if os.path.isabs(name) else str(config.root / name)
        found = sorted(glob.glob(path, recursive=True)) if any(c in name for c in "*?[") else [path]
        stats.append([name, [_stat(p) for p in found]])
    return digest(stats)


def _stat(path: str) -> tuple[str, int, int, int]:
    """Size, modification and change time: the change time cannot be set back, so a
    different file copied in with the old size and mtime (``cp -p``) still shows."""
    try:
        st = os.stat(path)
    except OSError:
        return (path, -1, -1, -1)
    return (path, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
