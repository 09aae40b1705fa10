"""Status: where the warehouse stands against the store and the project's files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlops.api.build import BuildMixin
from sqlops.plan.planner import make_plan

if TYPE_CHECKING:
    from sqlops.versioning.workspace import TableChange


@dataclass(frozen=True)
class Status:
    """Where the warehouse stands: the ref checked out, the commit its tables show, the
    branch head (another commit when the branch moved since), uncommitted tables, and the
    models a build would run (with why)."""

    ref: str
    branch: str | None
    commit: str
    head: str | None
    uncommitted: tuple[TableChange, ...]
    stale: tuple[tuple[str, str], ...]

    @property
    def behind(self) -> bool:
        """Whether the branch has commits the warehouse does not show."""
        return self.head is not None and self.head != self.commit

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "branch": self.branch,
            "commit": self.commit,
            "head": self.head,
            "behind": self.behind,
            "uncommitted": [c.to_dict() for c in self.uncommitted],
            "stale": [{"name": n, "reason": r} for n, r in self.stale],
        }


class StatusMixin(BuildMixin):
    """``status``."""

    def status(self) -> Status:
        """The checked-out ref, the commit the warehouse shows and the branch head, the
        tables a commit would record, and the models a build would run."""
        store = self.versions
        ref = self.branch
        branch = ref if ref in store.branches() else None
        head = store.resolve(branch) if branch else None
        commit = self._base_id(store, head)
        spec = self.load()
        state, existing = self._warehouse_state()  # one read serves both answers
        changes = self._uncommitted(state, {*spec.sources, *spec.models})
        plan = make_plan(spec, state, existing)
        stale = tuple((n.name, n.reason) for n in plan.models if n.action == "run")
        return Status(ref, branch, commit, head, tuple(changes), stale)
