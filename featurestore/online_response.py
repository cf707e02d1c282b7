"""OnlineResponse: the answer of ``get_online_features``, column-oriented."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa

PRESENT = "PRESENT"
NOT_FOUND = "NOT_FOUND"
OUTSIDE_MAX_AGE = "OUTSIDE_MAX_AGE"


class OnlineResponse:
    """Join keys then features, one list per name, in entity-row order.

    >>> r = OnlineResponse({"driver_id": [1]}, {"conv_rate": [0.5]}, {"conv_rate": ["PRESENT"]},
    ...                    {"conv_rate": [None]}, {})
    >>> r.to_dict()
    {'driver_id': [1], 'conv_rate': [0.5]}
    """

    __slots__ = ("event_timestamps", "features", "keys", "statuses", "types")

    def __init__(
        self,
        keys: dict[str, list[Any]],
        features: dict[str, list[Any]],
        statuses: dict[str, list[str]],
        event_timestamps: dict[str, list[datetime | None]],
        types: dict[str, pa.DataType],
    ) -> None:
        self.keys = keys
        self.features = features
        self.statuses = statuses
        self.event_timestamps = event_timestamps
        self.types = types

    def to_dict(self) -> dict[str, list[Any]]:
        """``{name: [value per entity row]}``, join keys first."""
        return {**self.keys, **self.features}

    def to_arrow(self) -> pa.Table:
        data = self.to_dict()
        return pa.table({name: pa.array(values, self.types.get(name)) for name, values in data.items()})

    def to_pandas(self) -> Any:
        return self.to_arrow().to_pandas()

    def to_polars(self) -> Any:
        import polars as pl

        return pl.from_arrow(self.to_arrow())

    def __repr__(self) -> str:
        return f"OnlineResponse({self.to_dict()!r})"
