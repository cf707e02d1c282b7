"""On-demand views in online lookups: after the source views are read, each on-demand view runs over all
entity rows of the request in one call.

Inputs are the decoded values of its source views' features (read under hidden names where they were
not requested) and its request fields, taken from the entity rows' columns that are not join keys
(over HTTP also ``request_context``). An output's status is ``PRESENT`` when every input view's status
is, else the worst of them, ``NOT_FOUND`` being worse than ``OUTSIDE_MAX_AGE`` (nothing stored beats
stored but too old); its event time is the latest of its input views' (None when they have none).
Lookups without on-demand views never come here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from featurestore.errors import InputError
from featurestore.online.response import NOT_FOUND, OUTSIDE_MAX_AGE, PRESENT, OnlineResponse, ViewResult
from featurestore.registry.file import RegistryState
from featurestore.resolution import ResolvedOnDemand, ResolvedRequest
from featurestore.transform import OnDemandRunner

RunnerOf = Callable[[RegistryState, ResolvedOnDemand], OnDemandRunner]
"""The runner of an on-demand view of a registry snapshot (``FeatureStore.on_demand_runner``)."""
RANK = {PRESENT: 0, OUTSIDE_MAX_AGE: 1, NOT_FOUND: 2}
"""Status order of an on-demand output: the highest rank among its inputs wins."""


class _ViewPlan:
    __slots__ = ("arrow_types", "feature_outs", "inputs", "name", "out_names", "request", "runner", "sources",
                 "typed")

    def __init__(self, odfv: ResolvedOnDemand, runner: OnDemandRunner) -> None:
        self.name = odfv.name
        self.runner = runner
        self.inputs = odfv.inputs
        self.typed = frozenset(bare for bare, _ in odfv.inputs)  # decoded from the store: their declared types
        self.request = tuple(dict.fromkeys(f.name for f, _ in odfv.request_fields))
        self.sources = odfv.sources
        self.out_names = odfv.out_names
        self.feature_outs = tuple(zip(odfv.features, odfv.out_names, strict=True))
        types = {f.name: f.dtype.to_arrow() for f in odfv.view.features}
        self.arrow_types = tuple(types[f] for f in odfv.features)


class OnDemandPlan:
    """What the lookups of one resolved request need for its on-demand views (kept with the request)."""

    __slots__ = ("columns", "hidden", "keep", "position", "request_fields", "views")

    def __init__(self, resolved: ResolvedRequest, state: RegistryState, runner_of: RunnerOf) -> None:
        self.views = tuple(_ViewPlan(o, runner_of(state, o)) for o in resolved.on_demand)
        self.hidden = resolved.hidden
        self.columns = resolved.columns
        self.position = {c: i for i, c in enumerate(self.columns)}
        fields: dict[str, tuple[str, str]] = {}
        for o in resolved.on_demand:
            for f, source in o.request_fields:
                fields.setdefault(f.name, (o.name, source))
        self.request_fields = fields
        """Per request field: the first on-demand view reading it, and its request source."""
        self.keep = tuple(tuple(o for o in v.out_names if o not in self.hidden) for v in resolved.views)
        """Per view of the request: its visible output names (none: read only as on-demand inputs)."""


def plan_of(resolved: ResolvedRequest, state: RegistryState, runner_of: RunnerOf | None) -> OnDemandPlan:
    """The request's on-demand plan, built on first use (CodeMismatchError while the repo's code differs)."""
    plan: OnDemandPlan | None = resolved.derived.get("online_on_demand")
    if plan is None:
        if runner_of is None:
            raise InputError("on-demand feature views need the store's live code: read through FeatureStore "
                             "(OnlineReader(store.online, store.on_demand_runner))", view=resolved.on_demand[0].name)
        plan = resolved.derived["online_on_demand"] = OnDemandPlan(resolved, state, runner_of)
    return plan


def request_columns(plan: OnDemandPlan, cols: dict[str, list[Any]], n: int) -> dict[str, list[Any]]:
    """The request fields' values from the entity rows' columns; InputError naming a missing field."""
    out: dict[str, list[Any]] = {}
    for name, (view, source) in plan.request_fields.items():
        values = cols.get(name)
        if values is None:
            if n:
                raise InputError(f"request field {name!r} (request source {source!r}) of on-demand feature view "
                                 f"{view!r} is missing: give it with each entity row (over HTTP: in "
                                 "request_context or as a column of entities)", field=name, view=view)
            values = []
        out[name] = values
    return out


def _worst(lists: list[list[str]]) -> list[str]:
    out = list(lists[0])
    for other in lists[1:]:
        for i, s in enumerate(other):
            if s is not out[i] and RANK[s] > RANK[out[i]]:
                out[i] = s
    return out


def _latest(lists: list[list[int | None]]) -> list[int | None]:
    out = list(lists[0])
    for other in lists[1:]:
        for i, t in enumerate(other):
            if t is not None and (out[i] is None or t > out[i]):  # type: ignore[operator]
                out[i] = t
    return out


def finish(plan: OnDemandPlan, request: dict[str, list[Any]], n: int, keys: dict[str, list[Any]],
           features: dict[str, list[Any]], statuses: dict[str, list[str]], stamps: dict[str, list[int | None]],
           types: dict[str, pa.DataType], views: list[ViewResult]) -> OnlineResponse:
    """The response with the on-demand outputs computed, the hidden inputs dropped, features in request order."""
    results: list[ViewResult] = []
    for v in plan.views:
        inputs = {bare: features[col] for bare, col in v.inputs}
        inputs.update((name, request[name]) for name in v.request)
        out = v.runner.run_rows(inputs, n, v.typed)
        status_lists = list({id(s): s for s in (statuses[col] for _, col in v.inputs)}.values())
        status = _worst(status_lists) if len(status_lists) > 1 else (status_lists[0] if status_lists
                                                                       else [PRESENT] * n)
        time_lists = list({id(t): t for t in (views[i].event_times_us for i in v.sources)}.values())
        none: list[int | None] = [None] * n
        ts = _latest(time_lists) if len(time_lists) > 1 else (time_lists[0] if time_lists else none)
        for (feature, name), arrow_type in zip(v.feature_outs, v.arrow_types, strict=True):
            features[name] = out[feature]
            statuses[name] = status
            stamps[name] = ts
            types[name] = arrow_type
        results.append(ViewResult(v.name, v.out_names, status, ts))
    shown: list[ViewResult] = []
    for view, keep in zip(views, plan.keep, strict=True):
        if len(keep) == len(view.out_names):
            shown.append(view)
        elif keep:
            own = {k: s for k, s in view.feature_statuses.items() if k in keep} if view.feature_statuses else None
            shown.append(ViewResult(view.name, keep, view.statuses, view.event_times_us, own or None))
    columns = plan.columns
    return OnlineResponse(keys, {c: features[c] for c in columns}, {c: statuses[c] for c in columns},
                          {c: stamps[c] for c in columns}, {k: t for k, t in types.items() if k not in plan.hidden},
                          tuple(sorted((*shown, *results), key=lambda v: plan.position[v.out_names[0]])))
