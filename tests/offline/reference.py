"""A brute-force point-in-time join in plain Python: the specification the engine is tested against.

Rules: for an entity row at time T and a view with join keys K, among the source
rows with equal keys and event time <= T (and >= T - ttl when the view has a
ttl; and created <= T with as_of_created), take the greatest
(event time, created time, position); null created sorts lowest and is never
"after" T. No such row: every feature is None.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

MIN = datetime.min.replace(tzinfo=UTC)


def as_utc(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def point_in_time(
    source_rows: list[dict[str, Any]],
    keys: list[str],
    features: list[str],
    entity_rows: list[dict[str, Any]],
    ts_col: str = "event_timestamp",
    ttl: timedelta | None = None,
    as_of_created: bool = False,
    event_col: str = "event_timestamp",
    created_col: str | None = None,
) -> list[dict[str, Any]]:
    """Expected feature values per entity row; source_rows are in read order (position = index)."""
    out = []
    for ent in entity_rows:
        t = as_utc(ent[ts_col])
        best_key = None
        best = None
        for pos, row in enumerate(source_rows):
            if any(ent[k] is None or row[k] is None or row[k] != ent[k] for k in keys):
                continue
            ev = as_utc(row[event_col])
            if ev is None or t is None or ev > t:
                continue
            if ttl and ev < t - ttl:
                continue
            cr = as_utc(row[created_col]) if created_col else None
            if as_of_created and cr is not None and cr > t:
                continue
            key = (ev, cr or MIN, pos)
            if best_key is None or key > best_key:
                best_key, best = key, row
        out.append({f: (best[f] if best is not None else None) for f in features})
    return out
