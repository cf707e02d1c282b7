"""Per-view store plans: the key builder and row decoder of a view, built once and cached.

Every store reads and writes keys and rows the same way (``keys``, ``codec``); only the key prefix
differs (Redis puts the project and view in the key, the tables of SQLite and memory hold them
apart).

>>> from featurestore.online.protocol import ViewSpec
>>> from featurestore.types import Float64, Int64
>>> plans = ViewPlans("demo", full_keys=True)
>>> plan = plans(ViewSpec("stats", ("driver_id",), (Int64,), ("conv",), (Float64,), None))
>>> plan.key((7,)), plan.keys([(7,), (8,)])
('fs:demo:stats:{driver_id=7}', ['fs:demo:stats:{driver_id=7}', 'fs:demo:stats:{driver_id=8}'])
>>> agg = plans(ViewSpec("trips_1h", ("driver_id",), (Int64,), ("n",), (Int64,), None, aggregate=True))
>>> agg.records([(7,)])
['fs:demo:trips_1h:@r:{driver_id=7}']
"""

from __future__ import annotations

from typing import NamedTuple

from featurestore.online import codec
from featurestore.online import keys as layout
from featurestore.online.protocol import ViewSpec

MAX_PLANS = 1000
"""Plans kept per store (views come from the registry, but reshaped views leave stale ones behind)."""


class ViewPlan(NamedTuple):
    """How a store names and decodes the rows of one view."""

    key: layout.KeyBuilder
    """One entity key tuple -> its key (raises TypeError/ValueError on a bad key)."""
    decode: codec.Decoder
    keys: layout.KeysBuilder
    """A batch of entity key tuples -> their keys (faster for one join key)."""
    records: layout.KeysBuilder | None = None
    """An aggregate view with full keys: a batch of entity key tuples -> their records keys."""


class ViewPlans:
    """``plans(view) -> ViewPlan``; ``full_keys`` (Redis): keys are ``fs:<project>:<view>:{<entity>}``, else the
    entity text alone (SQLite, memory)."""

    def __init__(self, project: str, full_keys: bool) -> None:
        layout.project_prefix(project)  # validates the name
        self.project = project
        self.full_keys = full_keys
        self._plans: dict[ViewSpec, ViewPlan] = {}

    def __call__(self, view: ViewSpec) -> ViewPlan:
        plan = self._plans.get(view)
        if plan is None:
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            prefix = layout.view_prefix(self.project, view.name)  # validates the view name too
            prefix = prefix if self.full_keys else ""
            tagged = self.full_keys
            records = (layout.keys_builder(layout.records_prefix(self.project, view.name), view, tagged)
                       if view.aggregate and self.full_keys else None)
            plan = self._plans[view] = ViewPlan(layout.key_builder(prefix, view, tagged), codec.row_decoder(view),
                                                layout.keys_builder(prefix, view, tagged), records)
        return plan
