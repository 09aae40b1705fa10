"""Data files: snapshot a raw file's bytes and rows as a version, and write them back."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlops._version import __version__
from sqlops.api.build import BuildMixin
from sqlops.api.gitmeta import git_commit
from sqlops.api.tomledit import with_source
from sqlops.config import Config, SourceConfig
from sqlops.errors import SourceError, UnknownTableError, VersioningError, did_you_mean
from sqlops.storage.lock import build_lock
from sqlops.storage.objects import atomic_write, file_hash
from sqlops.versioning import datafiles
from sqlops.versioning.datafiles import DataFile
from sqlops.versioning.store import Commit, TableVersion, VersionStore

_SOURCE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")
_DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".json", ".ndjson", ".jsonl")


@dataclass(frozen=True)
class DataAdded:
    """What ``data_add`` did: the file, the source it feeds, and the commit (None when the
    file was already stored as it is)."""

    file: DataFile
    commit: Commit | None
    new_source: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.file.to_dict(),
            "commit": self.commit.id if self.commit else None,
            "new_source": self.new_source,
        }


class DataFilesMixin(BuildMixin):
    """``data_add`` and ``data_checkout``."""

    def data_add(
        self, path: Path | str, name: str | None = None, message: str | None = None
    ) -> DataAdded:
        """Snapshot a data file into the store as a commit on the current branch: its exact
        bytes (restored by ``data_checkout``) and the table they parse to (what
        ``table(name, ref=)`` and ``build(at=)`` read). The file becomes source ``name``
        (default: the source already reading it, else ``raw.<file stem>``) if it is not one.
        Relative paths start at the project root."""
        store = self.versions
        branch = self._writable_branch(store)
        file, rel = self._data_file(path)
        name, new = self._data_source(file, rel, name)
        config_text = with_source(self.config, name, rel) if new else None
        config = self.config
        if new:
            sources = {**config.sources, name: SourceConfig(name=name, path=rel)}
            config = dataclasses.replace(config, sources=sources)
        made = self._snapshot_file(config, store, branch, file, rel, name, message)
        if config_text is not None:
            config_file = config.config_file or Path("sqlops.toml")
            atomic_write(self.root / config_file, config_text.encode())
            self.config = dataclasses.replace(config, config_file=config_file)
        return DataAdded(made[0], made[1], new)

    def _snapshot_file(
        self,
        config: Config,
        store: VersionStore,
        branch: str,
        file: Path,
        rel: str,
        name: str,
        message: str | None,
    ) -> tuple[DataFile, Commit | None]:
        """Build the source's view (declared in ``config``), then commit its parsed rows and
        its raw bytes."""
        from sqlops.versioning.workspace import working_tree

        result = self._build(config, [name])
        failed = next((n for n in result.nodes if n.status == "error"), None)
        if failed is not None:
            reason = (failed.error or "unreadable").splitlines()[0]
            raise SourceError(f"cannot read {rel} as source {name}: {reason}", path=rel)
        with build_lock(self.config.state_path):
            head = store.get_commit(store.resolve(branch))
            before = file_hash(file)
            engine = self._open_warehouse(macros=False)
            try:
                parsed = working_tree(engine, self.objects, head.tree, {name})[name]
            finally:
                engine.close()
            raw = datafiles.pack(file, rel, name, self.objects)
            if raw.fingerprint != before:  # the rows and the bytes must be one version
                raise SourceError(
                    f"{rel} changed while it was being added",
                    hint="add it again once it is written",
                )
            info = DataFile(name, rel, file.stat().st_size, raw.fingerprint)
            new = {name: parsed, datafiles.entry_name(name): raw}
            if all(n in head.tree and head.tree[n].content == v.content for n, v in new.items()):
                return info, None
            changes: dict[str, TableVersion | None] = {
                n: v for n, v in new.items() if head.tree.get(n) != v
            }
            meta = {"sqlops_version": __version__, **git_commit(self.root), "data_add": rel}
            made = store.commit(branch, changes, message or f"data add {rel}", meta, self._author())
            if self._base_id(store, head.id) == head.id and made.parents[:1] == (head.id,):
                self._set_base(made.id)  # the warehouse holds exactly what was committed
        return info, made

    def _data_file(self, path: Path | str) -> tuple[Path, str]:
        """The file to add and its path relative to the project root."""
        given = Path(path)
        file = (given if given.is_absolute() else self.root / given).resolve()
        shown = file.relative_to(self.root).as_posix() if file.is_relative_to(self.root) else path
        if not file.is_file():
            what = "is a folder" if file.is_dir() else "does not exist"
            raise SourceError(
                f"{shown} {what}",
                hint="give one data file; relative paths start at the project root",
            )
        if not file.is_relative_to(self.root):
            raise SourceError(
                f"{path} is outside the project folder {self.root}",
                hint="copy it into the project (e.g. data/) and add it from there",
            )
        if file.suffix.lower() not in _DATA_SUFFIXES:
            raise SourceError(
                f"cannot tell the format of {file.name}",
                hint="data add takes .csv, .tsv, .parquet, .json or .ndjson files",
            )
        return file, file.relative_to(self.root).as_posix()

    def _data_source(self, file: Path, rel: str, name: str | None) -> tuple[str, bool]:
        """The source the file feeds, and whether it has to be declared."""
        reading = [
            cfg.name
            for cfg in self.config.sources.values()
            if cfg.path and (self.root / cfg.path).resolve() == file
        ]
        if name is None:
            if reading:
                return reading[0].lower(), False
            stem = re.sub(r"[^a-z0-9_]", "_", file.stem.lower())
            name = f"raw.{stem if stem[:1].isalpha() else 't_' + stem}"
        if not _SOURCE_NAME.match(name):
            raise SourceError(
                f"source name {name!r} must be schema.table",
                hint=f"e.g. --name raw.{re.sub(r'[^a-z0-9_]', '_', name.lower()) or 'orders'}",
            )
        name = name.lower()
        known = {n.lower(): cfg for n, cfg in self.config.sources.items()}
        if name in known:
            cfg = known[name]
            if name not in {r.lower() for r in reading}:
                raise SourceError(
                    f"source {name} reads {cfg.path!r}, not {rel}",
                    hint="pick another --name, or point the source at this file",
                )
            return name, False
        if reading:
            raise SourceError(
                f"{rel} is already source {reading[0]}",
                hint=f"use --name {reading[0]} (or leave --name out)",
            )
        if name in self.load().models:
            raise SourceError(f"{name} is a model", hint="pick another --name for the data file")
        return name, True

    def data_checkout(
        self, ref: str, name: str | None = None, force: bool = False
    ) -> list[DataFile]:
        """Write the raw files recorded at ``ref`` back to their paths, byte for byte
        (hash-verified). A file whose current content is stored in no version known here
        (neither at ``ref`` nor at the checked-out head) is refused unless ``force``."""
        store = self.versions
        commit = store.get_commit(store.resolve(ref))
        files = datafiles.entries(commit.tree)
        if not files:
            raise VersioningError(
                f"{ref} ({commit.id[:12]}) holds no data files",
                hint="snapshot one with `sqlops data add PATH`",
            )
        if name is not None:
            key = name.lower()
            if key not in files:
                hint = did_you_mean(key, files) or f"{ref} has: {', '.join(files)}"
                raise UnknownTableError(name, hint=hint)
            files = {key: files[key]}
        self._fetch(files.values())
        head = datafiles.entries(store.get_commit(store.resolve(self.branch)).tree)
        plan = [(datafiles.describe(self.objects, v), v) for v in files.values()]
        if not force:
            for info, version in plan:
                self._check_overwrite(info, version, head.get(info.source))
        return [datafiles.unpack(self.objects, v, self.root) for _, v in plan]

    def _check_overwrite(
        self, info: DataFile, target: TableVersion, head: TableVersion | None
    ) -> None:
        path = self.root / info.path
        if not path.is_file():
            return
        current = file_hash(path)
        if current in {target.fingerprint, head.fingerprint if head else ""}:
            return
        raise VersioningError(
            f"{info.path} has changes that are stored in no version",
            hint=f"snapshot them first with `sqlops data add {info.path}`, or pass --force "
            "to overwrite them",
        )
