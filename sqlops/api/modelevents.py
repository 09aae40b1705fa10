"""Where approval events live: append-only records beside the registry's write-once versions,
on both stores, so a model's history is never rewritten and every clone folds the same one.

- Local store: rows of the catalog's ``model_events`` table, appended in one transaction.
- lakeFS: one JSON object per event on the ``sqlops-artifacts`` branch, at
  ``_sqlops/models/<name>/events/<UTC time>-<uuid>.json`` (created once, through the same
  shared-records machinery as version records). Every path is new, so two clones writing at
  once never conflict; each read lists the folder and downloads only records this clone has
  not mirrored (``shared_model_events``), and the fold sees exactly the listed ones.

An event's JSON: ``{"format": 1, "id", "model", "version", "kind", "by", "reason",
"to_stage", "at"}`` (``at`` ISO 8601 in UTC, ``to_stage`` null for approve/reject).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlops.api.registry import MODELS, is_event_path, record_path
from sqlops.errors import ApprovalError, RegistryError
from sqlops.governance.approval import ModelEvent

if TYPE_CHECKING:
    from sqlops.catalog.registry import RegistryCatalog
    from sqlops.versioning.store import SharedRecords

EVENT_FORMAT = 1
EVENTS = "events/"
_DOWNLOADS = 8
_TYPES: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "model": str,
    "version": int,
    "kind": str,
    "by": str,
    "reason": str,
    "to_stage": (str, type(None)),
    "at": str,
}


def new_event(
    model: str, version: int, kind: str, by: str, reason: str, to_stage: str | None = None
) -> ModelEvent:
    """An event happening now, with a fresh id."""
    at = datetime.now(UTC)
    return ModelEvent(model, version, kind, by, reason, at, to_stage, uuid.uuid4().hex)


def event_path(event: ModelEvent) -> str:
    """``_sqlops/models/<name>/events/<time>-<id>.json``: sorted by time when listed."""
    stamp = event.at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{record_path(event.model)}{EVENTS}{stamp}-{event.id}.json"


def append_events(
    catalog: RegistryCatalog, shared: SharedRecords | None, events: Sequence[ModelEvent]
) -> None:
    """Append events to the store's registry (the catalog, or lakeFS records)."""
    if shared is None:
        catalog.record_events([_row(e) for e in events])
        return
    for event in events:
        data = json.dumps({"format": EVENT_FORMAT, **event.to_dict()}, sort_keys=True, indent=1)
        what = f"model {event.model} version {event.version}: {event.kind} by {event.by}"
        if not shared.create_record(event_path(event), data.encode(), what):
            raise RegistryError(  # a fresh uuid in the path: only a clash of ids gets here
                f"{shared.record_location(event_path(event))} exists already; run it again"
            )


def read_events(
    catalog: RegistryCatalog, shared: SharedRecords | None, name: str | None = None
) -> list[ModelEvent]:
    """The registry's events (one model's, or all) in append order."""
    if shared is None:
        return [event_of(r) for r in catalog.events(name)]
    prefix = MODELS if name is None else record_path(name)
    listed = {p: c for p, c in shared.record_paths(prefix).items() if is_event_path(p)}
    known = catalog.mirrored_events(name)
    wanted = sorted(p for p, checksum in listed.items() if known.get(p, ("",))[0] != checksum)
    with ThreadPoolExecutor(max_workers=_DOWNLOADS) as pool:
        downloaded = list(pool.map(shared.read_record, wanted))
    fresh = [
        (path, listed[path], _row(_decoded(shared, path, data)))
        for path, data in zip(wanted, downloaded, strict=True)
        if data is not None  # deleted since the listing
    ]
    if fresh:
        catalog.mirror_events(fresh)
    rows = {path: row for path, (_, row) in known.items()}
    rows.update({path: row for path, _, row in fresh})
    return [event_of(rows[p]) for p in sorted(listed) if p in rows]


def _decoded(shared: SharedRecords, path: str, data: bytes) -> ModelEvent:
    """A record's event, checked: one that is not what sqlops wrote is one error."""
    try:
        record = json.loads(data)
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        wrong = [f for f, kind in _TYPES.items() if not isinstance(record.get(f), kind)]
        if wrong or isinstance(record.get("version"), bool):
            raise ValueError(f"missing or mistyped {', '.join(wrong or ['version'])}")
        event = event_of(
            {**record, "name": record["model"], "author": record["by"], "happened_at": record["at"]}
        )
        if event_path(event) != path:
            raise ValueError(f"it names model {event.model} event {event.id} at {event.at}")
    except (ValueError, ApprovalError) as exc:
        raise RegistryError(
            f"{shared.record_location(path)} is corrupt ({str(exc).splitlines()[0]}); "
            "restore it from that branch's history (lakectl log, then revert)"
        ) from exc
    return event


def _row(event: ModelEvent) -> dict[str, Any]:
    """An event as a catalog row (``author`` and ``happened_at``: ``by`` and ``at`` are
    keywords in SQL)."""
    return {
        "id": event.id,
        "name": event.model,
        "version": event.version,
        "kind": event.kind,
        "author": event.by,
        "reason": event.reason,
        "to_stage": event.to_stage,
        "happened_at": event.at.isoformat(timespec="microseconds"),
    }


def event_of(row: dict[str, Any]) -> ModelEvent:
    """A catalog row as the event it records."""
    return ModelEvent(
        model=row["name"],
        version=int(row["version"]),
        kind=row["kind"],
        by=row["author"],
        reason=row["reason"],
        at=datetime.fromisoformat(row["happened_at"]),
        to_stage=row["to_stage"],
        id=row["id"],
    )
