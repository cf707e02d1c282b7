"""OnlineResponse: the answer of ``get_online_features``, column-oriented, with per-view results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa

from featurestore.frames import to_pandas
from featurestore.utc import from_epoch_us

PRESENT = "PRESENT"
NOT_FOUND = "NOT_FOUND"
OUTSIDE_MAX_AGE = "OUTSIDE_MAX_AGE"


def _datetimes(times_us: list[int | None]) -> list[datetime | None]:
    return [None if us is None else from_epoch_us(us) for us in times_us]


class ViewResult:
    """What one feature view answered: its output names, and per entity row a status and an event time.

    All features of a view come from one stored row, so they share the statuses and event times, except
    that a row written before a feature was added (or retyped) lacks it: ``feature_statuses`` then holds,
    for the output names concerned only, their own statuses (``NOT_FOUND`` for such rows); else None.

    >>> v = ViewResult("stats", ("conv_rate",), ["PRESENT", "NOT_FOUND"], [1_700_000_000_000_001, None])
    >>> v.event_timestamps[0].isoformat(), v.event_timestamps[1]
    ('2023-11-14T22:13:20.000001+00:00', None)
    """

    __slots__ = ("_event_timestamps", "event_times_us", "feature_statuses", "name", "out_names", "statuses")

    def __init__(self, name: str, out_names: tuple[str, ...], statuses: list[str],
                 event_times_us: list[int | None], feature_statuses: dict[str, list[str]] | None = None) -> None:
        self.name = name
        self.feature_statuses = feature_statuses
        self.out_names = out_names
        self.statuses = statuses
        self.event_times_us = event_times_us
        self._event_timestamps: list[datetime | None] | None = None

    @property
    def event_timestamps(self) -> list[datetime | None]:
        """Per entity row, the event time (UTC ``datetime``) of the row served; None if none."""
        if self._event_timestamps is None:
            self._event_timestamps = _datetimes(self.event_times_us)
        return self._event_timestamps

    def __repr__(self) -> str:
        return f"ViewResult({self.name!r}, {self.out_names!r}, {self.statuses!r})"


class OnlineResponse:
    """Join keys then features, one list per name, in entity-row order; ``views``: one result per view.

    ``event_timestamps`` are built on first use from ``event_times_us`` (UTC epoch
    microseconds), so lookups that never read them do not pay for the datetimes.

    >>> r = OnlineResponse({"driver_id": [1]}, {"conv_rate": [0.5]}, {"conv_rate": ["PRESENT"]},
    ...                    {"conv_rate": [1_700_000_000_000_001]}, {})
    >>> r.to_dict(), r.event_timestamps["conv_rate"][0].isoformat()
    ({'driver_id': [1], 'conv_rate': [0.5]}, '2023-11-14T22:13:20.000001+00:00')
    """

    __slots__ = ("_event_timestamps", "event_times_us", "features", "keys", "now_us", "statuses", "types", "views")

    def __init__(
        self,
        keys: dict[str, list[Any]],
        features: dict[str, list[Any]],
        statuses: dict[str, list[str]],
        event_times_us: dict[str, list[int | None]],
        types: dict[str, pa.DataType],
        views: tuple[ViewResult, ...] | None = None,
    ) -> None:
        self.keys = keys
        self.features = features
        self.statuses = statuses
        self.event_times_us = event_times_us
        self.types = types
        self.views: tuple[ViewResult, ...] = views if views is not None else tuple(
            ViewResult(name, (name,), statuses[name], event_times_us[name]) for name in features)
        """Per view looked up, in request order: its name, output names, statuses and event times."""
        self._event_timestamps: dict[str, list[datetime | None]] | None = None
        self.now_us: int | None = None
        """The time the values were read at (UTC epoch µs: the lookup's ``now``, the ttl's reference)."""

    @property
    def event_timestamps(self) -> dict[str, list[datetime | None]]:
        """Per feature, the event time (UTC ``datetime``) of the row each value came from; None if none."""
        if self._event_timestamps is None:
            self._event_timestamps = {name: v.event_timestamps for v in self.views for name in v.out_names}
        return self._event_timestamps

    def to_dict(self) -> dict[str, list[Any]]:
        """``{name: [value per entity row]}``, join keys first."""
        return {**self.keys, **self.features}

    def to_arrow(self) -> pa.Table:
        data = self.to_dict()
        return pa.table({name: pa.array(values, self.types.get(name)) for name, values in data.items()})

    def to_pandas(self) -> Any:
        """As a pandas DataFrame; integer and bool features use pandas' nullable dtypes (``Int64``, ``boolean``), so
        values round-trip exactly with nulls (no float64)."""
        return to_pandas(self.to_arrow(), self.features)

    def to_polars(self) -> Any:
        import polars as pl

        return pl.from_arrow(self.to_arrow())

    def __repr__(self) -> str:
        return f"OnlineResponse({self.to_dict()!r})"
