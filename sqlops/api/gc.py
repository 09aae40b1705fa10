"""Store upkeep: delete what nothing references (gc) and check what is kept (fsck)."""

from __future__ import annotations

import shutil

from sqlops.api.base import ProjectBase
from sqlops.api.registry import registry_problems
from sqlops.catalog.registry import RegistryCatalog
from sqlops.storage.lock import build_lock
from sqlops.versioning.local import TEMP_GRACE, sweep_temp

# temporary files of the project's own state: BASE and HEAD, the caches
_STATE_TEMP = ((".", ".tmp-*"), ("cache", "**/.tmp-*"), ("cache", "*.tmp"))


class GcMixin(ProjectBase):
    """``gc`` and ``fsck``."""

    def gc(self, grace: float = TEMP_GRACE) -> tuple[int, int]:
        """Delete objects that no commit, warehouse table, registered model or stored frame
        references, the part links of ``build --at`` inputs that no warehouse view reads any
        more, and the temporary files killed writes left (those older than ``grace``
        seconds: a younger one may belong to a write still running). Returns (files, bytes)
        removed."""
        with build_lock(self.config.state_path):
            state, _ = self._warehouse_state()
            live = frozenset(o for row in state.values() for o in row.get("objects", ()))
            live |= RegistryCatalog(self.config.catalog_path).objects()  # models, frames
            self._prune_inputs_at()
            count, freed = sweep_temp(self.config.state_path, _STATE_TEMP, grace)
            more, more_freed = self.versions.gc(keep=live, grace=grace)
            return count + more, freed + more_freed

    def _prune_inputs_at(self) -> None:
        folder = self.config.state_path / "at"
        if not folder.is_dir():
            return
        views = ""
        if self.config.warehouse_path.exists():
            engine = self._open_warehouse(read_only=True, macros=False)
            try:
                frame = engine.polars("SELECT sql FROM duckdb_views() WHERE NOT internal")
                views = "\n".join(str(v) for v in frame["sql"].to_list())
            finally:
                engine.close()
        for links in folder.iterdir():
            if f"{links}/" not in views:
                shutil.rmtree(links, ignore_errors=True)

    def fsck(self) -> list[str]:
        """Check every ref, commit and object hash (registered models' and stored frames'
        too); returns the problems found (none: [])."""
        return self.versions.fsck() + registry_problems(self.config.catalog_path, self.versions)
