"""Freshness per view: the newest event time written online (``OnlineStore.data_timestamps``) against the view's
``max_staleness`` SLA, at the store's clock.

Freshness is the time of the DATA, not of the last materialize window: a materialize of an empty range, or a
push of old rows, leaves it where it was; a push of new rows from any process moves it at once.

>>> from datetime import datetime, timedelta, UTC
>>> f = ViewFreshness("stats", "feature_view", datetime(2026, 1, 1, tzinfo=UTC), timedelta(hours=2),
...                   timedelta(hours=3), True)
>>> f.to_dict()["age_seconds"], f.to_dict()["stale"]
(10800.0, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from featurestore import utc
from featurestore.definitions.durations import parse_duration
from featurestore.registry.file import RegistryState

KINDS = (("feature_views", "feature_view"), ("aggregate_views", "aggregate_view"))


@dataclass(frozen=True)
class ViewFreshness:
    """One view's freshness: ``data_timestamp`` (newest event time written online; None: nothing written),
    ``max_staleness`` (its SLA; None: none), ``age`` (clock − data_timestamp) and ``stale`` (age > max_staleness;
    True when nothing was written under an SLA; None without an SLA)."""

    view: str
    kind: str
    data_timestamp: datetime | None
    max_staleness: timedelta | None
    age: timedelta | None
    stale: bool | None
    data_timestamp_us: int | None = None
    """The data timestamp in epoch µs, as the online store keeps it."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO 8601, durations in seconds."""
        return {"view": self.view, "kind": self.kind,
                "data_timestamp": self.data_timestamp.isoformat() if self.data_timestamp else None,
                "max_staleness_seconds": self.max_staleness.total_seconds() if self.max_staleness else None,
                "age_seconds": self.age.total_seconds() if self.age is not None else None, "stale": self.stale,
                "data_timestamp_us": self.data_timestamp_us}


def staleness_slas(state: RegistryState) -> dict[str, tuple[str, timedelta | None]]:
    """Per feature view and aggregate view of the registry: its kind and ``max_staleness`` (None: no SLA)."""
    out: dict[str, tuple[str, timedelta | None]] = {}
    for section, kind in KINDS:
        for name, d in sorted(state.objects.get(section, {}).items()):
            text = d.get("max_staleness")
            sla = timedelta(microseconds=parse_duration(text, "max_staleness", name)) if text else None
            out[name] = (kind, sla)
    return out


def freshness(state: RegistryState, data_timestamps: dict[str, int], now: datetime
              ) -> dict[str, ViewFreshness]:
    """Per registered view (feature and aggregate views), its :class:`ViewFreshness` at ``now``."""
    out = {}
    for name, (kind, sla) in staleness_slas(state).items():
        us = data_timestamps.get(name)
        try:
            ts = utc.from_epoch_us(us) if us is not None else None
        except OverflowError:  # beyond year 9999: a test sentinel, no calendar time
            ts = None
        age = now - ts if ts is not None else None
        stale = None if sla is None else (True if age is None else age > sla)
        out[name] = ViewFreshness(name, kind, ts, sla, age, stale, us)
    return out
