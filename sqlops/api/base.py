"""What every project verb needs: its config, loading, the warehouse and the stores."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlops.config import Config, load_config
from sqlops.errors import SqlopsError
from sqlops.execute.typenames import check_column_types
from sqlops.project.loader import load_project
from sqlops.project.model import ProjectSpec
from sqlops.storage.objects import ObjectStore
from sqlops.versioning.local import DEFAULT_BRANCH, LocalStore
from sqlops.versioning.store import TableVersion, VersionStore

if TYPE_CHECKING:
    from sqlops.execute.engine import Engine


class ProjectBase:
    """A sqlops project on disk: ``Project(".").build()``.

    Args:
        path: the project folder (found upwards from the cwd when omitted).
        **overrides: config values that win over the files and environment, e.g.
            ``threads=8``.
    """

    def __init__(self, path: Path | str | None = None, **overrides: Any) -> None:
        self.config: Config = load_config(path, **overrides)

    @property
    def root(self) -> Path:
        return self.config.root

    def load(
        self, sources: Mapping[str, Any] | None = None, config: Config | None = None
    ) -> ProjectSpec:
        """Read sources and models from disk (parse results are cached); ``config`` (default:
        the project's) may declare other sources, e.g. a version's inputs."""
        config = config or self.config
        check_column_types(config)
        return load_project(config, sources)

    @property
    def objects(self) -> ObjectStore:
        """Where table outputs are stored (shared with the local version store)."""
        return ObjectStore(self.config.state_path / "versions" / "objects", self.root)

    def _intact(
        self, state: Mapping[str, Mapping[str, Any]], relations: Mapping[str, str]
    ) -> set[str]:
        """Relations that exist and whose stored objects are all still on disk."""
        objects = self.objects
        return {
            name
            for name in relations
            if all(objects.exists(o) for o in state.get(name, {}).get("objects", ()))
        }

    def _open_warehouse(self, read_only: bool = False, macros: bool = True) -> Engine:
        from sqlops.execute.engine import Engine

        path = self.config.warehouse_path
        if read_only and not path.exists():
            raise SqlopsError(
                f"no warehouse at {path.relative_to(self.root)}", hint="run `sqlops build` first"
            )
        return Engine.open(
            path,
            read_only=read_only,
            threads=self.config.duckdb_threads,
            memory_limit=self.config.memory_limit,
            macros=macros,
            search_path=self.root,
        )

    def _warehouse_state(self) -> tuple[dict[str, dict[str, Any]], set[str]]:
        if not self.config.warehouse_path.exists():
            return {}, set()
        engine = self._open_warehouse(read_only=True, macros=False)
        try:
            state = engine.read_state()
            return state, self._intact(state, engine.relations())
        finally:
            engine.close()

    @cached_property
    def versions(self) -> VersionStore:
        """The project's version store: the embedded local one (created with an empty
        ``main`` on first use) or lakeFS, as ``[versions] backend`` says."""
        if self.config.versions_backend == "lakefs":
            from sqlops.versioning.lakefs import LakeFSStore

            remote = LakeFSStore(
                self.config.lakefs, self.objects, self.config.state_path / "cache" / "lakefs"
            )
            remote.init()
            return remote
        store = LocalStore(self.config.state_path / "versions", self.objects)
        store.init()
        return store

    def _fetch(self, versions: Iterable[TableVersion | None]) -> None:
        """Make every part of these table versions readable from the local object folder
        (a no-op on the local store; a cached download from lakeFS)."""
        store = self.versions
        for version in versions:
            for part in version.parts if version else ():
                store.part_path(part)

    @property
    def branch(self) -> str:
        """The checked-out branch (or commit id, when a tag or commit was checked out)."""
        head = self.config.state_path / "HEAD"
        return head.read_text().strip() if head.is_file() else DEFAULT_BRANCH
