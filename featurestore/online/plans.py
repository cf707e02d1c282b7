"""Per-view store plans: the key builder and row decoder of a view, built once and cached.

Every store reads and writes keys and rows the same way (``keys``, ``codec``); only the key prefix
differs (Redis puts the project and view in the key, the tables of SQLite and memory hold them
apart).

>>> from featurestore.online.protocol import ViewSpec
>>> from featurestore.types import Float64, Int64
>>> plans = ViewPlans("demo", full_keys=True)
>>> build, decode = plans(ViewSpec("stats", ("driver_id",), (Int64,), ("conv",), (Float64,), None))
>>> build((7,))
'fs:demo:stats:driver_id=7'
"""

from __future__ import annotations

from featurestore.online import codec
from featurestore.online import keys as layout
from featurestore.online.protocol import ViewSpec

MAX_PLANS = 1000
"""Plans kept per store (views come from the registry, but reshaped views leave stale ones behind)."""


class ViewPlans:
    """``plans(view) -> (key builder, row decoder)``; ``full_keys``: keys hold ``fs:<project>:<view>:``."""

    def __init__(self, project: str, full_keys: bool) -> None:
        layout.project_prefix(project)  # validates the name
        self.project = project
        self.full_keys = full_keys
        self._plans: dict[ViewSpec, tuple[layout.KeyBuilder, codec.Decoder]] = {}

    def __call__(self, view: ViewSpec) -> tuple[layout.KeyBuilder, codec.Decoder]:
        plan = self._plans.get(view)
        if plan is None:
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            prefix = layout.view_prefix(self.project, view.name)  # validates the view name too
            plan = self._plans[view] = (layout.key_builder(prefix if self.full_keys else "", view),
                                        codec.row_decoder(view))
        return plan
