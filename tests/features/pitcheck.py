"""An independent point-in-time reference: a plain Python loop over small data.

Written from DESIGN.md's "Feature view" text, not from sqlops' SQL: for each entity row the
feature row with equal (non-NULL) keys and t - ttl <= event <= t, the latest event time
winning, then the latest created time (NULL oldest), then the greatest feature values compared
in order (NULL lowest).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any


def brute_force(
    entity_rows: Sequence[dict[str, Any]],
    view_rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    features: Sequence[str],
    *,
    ttl: timedelta | None,
    filter_created: bool = False,
    ts: str = "ts",
    created: str | None = "created",
    entity_ts: str = "event_timestamp",
) -> list[dict[str, Any]]:
    out = []
    for row in entity_rows:
        t = row[entity_ts]
        best: tuple[Any, ...] | None = None
        chosen: dict[str, Any] | None = None
        for cand in view_rows:
            if any(row[k] is None or cand[k] != row[k] for k in keys):
                continue
            event = cand[ts]
            if event is None or t is None or event > t:
                continue
            if ttl is not None and event < t - ttl:
                continue
            made = cand[created] if created else None
            if filter_created and (made is None or made > t):
                continue
            values = tuple(
                (cand[f] is not None, cand[f]) if cand[f] is not None else (False,)
                for f in features
            )
            rank = (event, made is not None, made or datetime.min, values)
            if best is None or rank > best:
                best, chosen = rank, cand
        out.append({**row, **{f: (chosen[f] if chosen else None) for f in features}})
    return out
