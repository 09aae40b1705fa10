"""Owners: who answers for each source, model, feature view and saved model, and what has
nobody (``sqlops owners``; ``[governance] require_owner = true`` makes a missing one fail the
build)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sqlops.api.base import ProjectBase
from sqlops.errors import GovernanceError

if TYPE_CHECKING:
    from sqlops.features.definitions import FeatureRegistry
    from sqlops.project.model import ProjectSpec


@dataclass(frozen=True)
class Owned:
    """One thing that should have an owner: ``kind`` is source, model, feature_view or
    saved_model; ``where`` is the file (and line) that declares it, when there is one."""

    kind: str
    name: str
    owner: str
    where: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def declared_owners(spec: ProjectSpec, registry: FeatureRegistry | None) -> list[Owned]:
    """The owners the project's files declare (what a build can check)."""
    out = [
        Owned("source", name, source.owner, "sqlops.toml") for name, source in spec.sources.items()
    ]
    out += [
        Owned("model", name, model.owner, _model_where(model.path.as_posix(), model.header_lines))
        for name, model in spec.models.items()
    ]
    if registry is not None:
        out += [
            Owned("feature_view", name, view.owner or "", "sqlops.toml")
            for name, view in registry.views.items()
        ]
    return sorted(out, key=lambda o: (o.kind, o.name))


def check_owners(owned: Iterable[Owned]) -> None:
    """``require_owner``: one error naming every source, model and feature view without an
    owner (all of them, not only the first)."""
    missing = [o for o in owned if not o.owner]
    if missing:
        shown = ", ".join(f"{o.kind} {o.name} ({o.where})" for o in missing[:10])
        more = f" (+{len(missing) - 10} more)" if len(missing) > 10 else ""
        raise GovernanceError(
            f"require_owner is on and {len(missing)} have no owner: {shown}{more}",
            hint='add `-- owner: team` to each model\'s header and owner = "team" to each '
            "source and feature view (or set [governance] require_owner = false)",
        )


class OwnersMixin(ProjectBase):
    """``owners()``: the declared owners plus every saved model version's."""

    def owners(self) -> list[Owned]:
        """Every source, model, feature view and saved model version with its owner ('' for
        none), by kind then name."""
        from sqlops.api.features import FeatureStore

        store = FeatureStore(self)  # type: ignore[arg-type]
        out = declared_owners(self.load(), store.registry)
        out += [Owned("saved_model", f"{m.name}@{m.version}", m.owner) for m in store.list_models()]
        return sorted(out, key=lambda o: (o.kind, o.name))


def _model_where(path: str, lines: Any) -> str:
    line = lines.get("owner") if lines else None
    return f"{path}:{line}" if line else path
