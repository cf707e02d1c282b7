"""``get_online_features``: entity rows in, one online-store read, values with statuses out.

A lookup plan (which views, specs, output names) is cached per registry version
and feature list, so a request costs one store round trip plus the decoding.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pyarrow as pa

from featurestore import types
from featurestore.errors import InputError
from featurestore.feature_refs import view_requests
from featurestore.feature_service import FeatureService
from featurestore.feature_view import FeatureView
from featurestore.online.protocol import OnlineStore, ViewSpec
from featurestore.online_response import NOT_FOUND, OUTSIDE_MAX_AGE, PRESENT, OnlineResponse
from featurestore.registry import RegistryState

_CHECKS: dict[str, Any] = {
    "Int32": lambda v: type(v) is int,
    "Int64": lambda v: type(v) is int,
    "String": lambda v: type(v) is str,
    "Bytes": lambda v: isinstance(v, bytes),
    "Bool": lambda v: type(v) is bool,
}


def spec_of(view: FeatureView) -> ViewSpec:
    """What the online store needs to know of a view."""
    keys = {f.name: f.dtype for f in view.key_fields}
    return ViewSpec(
        name=view.name,
        join_keys=view.join_keys,
        key_types=tuple(keys.get(k, types.Int64) for k in view.join_keys),
        features=view.feature_names,
        feature_types=tuple(f.dtype for f in view.features),
        ttl_seconds=view.ttl.total_seconds() if view.ttl else None,
    )


class _ViewPlan:
    __slots__ = ("key_checks", "keys", "outs", "positions", "spec", "ttl_us")

    def __init__(self, view: FeatureView, features: tuple[str, ...], outs: tuple[str, ...]) -> None:
        self.spec = spec_of(view)
        self.keys = view.join_keys
        self.key_checks = tuple((k, t.name, _CHECKS.get(t.name)) for k, t in zip(self.keys, self.spec.key_types,
                                                                                 strict=True))
        self.positions = tuple(self.spec.features.index(f) for f in features)
        self.outs = outs
        self.ttl_us = int(view.ttl.total_seconds() * 1_000_000) if view.ttl else None


def _columns(entity_rows: Any) -> dict[str, list[Any]]:
    """Entity rows as ``{key: [values]}`` (accepts a list of dicts or a dict of lists)."""
    if isinstance(entity_rows, dict):
        cols = {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in entity_rows.items()}
        lengths = {len(v) for v in cols.values()}
        if len(lengths) > 1:
            raise InputError(f"entity_rows columns have different lengths: { {k: len(v) for k, v in cols.items()} }")
        return cols
    if isinstance(entity_rows, (list, tuple)):
        if not all(isinstance(r, dict) for r in entity_rows):
            raise InputError("entity_rows must be a list of dicts or a dict of lists")
        names: dict[str, None] = {}
        for r in entity_rows:
            names.update(dict.fromkeys(r))
        return {n: [r.get(n) for r in entity_rows] for n in names}
    raise InputError(f"entity_rows must be a list of dicts or a dict of lists, got {type(entity_rows).__name__}")


class OnlineReader:
    """Turns requests into one ``OnlineStore.read`` call; caches plans per registry version."""

    def __init__(self, store: OnlineStore) -> None:
        self.store = store
        self._plans: dict[tuple[Any, ...], list[_ViewPlan]] = {}

    def _plan(self, state: RegistryState, features: Any, full: bool) -> list[_ViewPlan]:
        ref = features.name if isinstance(features, FeatureService) else tuple(features or ())
        cache_key = (state.version, id(state), ref, full)
        plans = self._plans.get(cache_key)
        if plans is None:
            requests = view_requests(features, state, full)
            plans = [_ViewPlan(r.view, r.features, r.out_names) for r in requests]
            if len(self._plans) > 256:
                self._plans.clear()
            self._plans[cache_key] = plans
        return plans

    def read(self, state: RegistryState, features: Any, entity_rows: Any, full_feature_names: bool = False,
             now: datetime | None = None) -> OnlineResponse:
        plans = self._plan(state, features, full_feature_names)
        cols = _columns(entity_rows)
        n = len(next(iter(cols.values()))) if cols else 0
        requests = []
        key_out: dict[str, list[Any]] = {}
        for plan in plans:
            for key, type_name, check in plan.key_checks:
                values = cols.get(key)
                if values is None:
                    raise InputError(f"entity_rows is missing join key {key!r} of feature view {plan.spec.name!r}",
                                     join_key=key, view=plan.spec.name)
                if check is not None:
                    for v in values:
                        if not check(v):
                            raise InputError(f"join key {key!r} must be {type_name}, got {v!r}", join_key=key,
                                             view=plan.spec.name)
                key_out[key] = values
            key_cols = [cols[k] for k in plan.keys]
            requests.append((plan.spec, list(zip(*key_cols, strict=True)) if len(key_cols) > 1
                             else [(v,) for v in key_cols[0]]))
        results = self.store.read(requests) if n else [[] for _ in requests]
        now_us = int((now.timestamp() if now else time.time()) * 1_000_000)
        features_out: dict[str, list[Any]] = {}
        statuses: dict[str, list[str]] = {}
        stamps: dict[str, list[int | None]] = {}
        out_types: dict[str, pa.DataType] = {}
        for plan, rows in zip(plans, results, strict=True):
            oldest = now_us - plan.ttl_us if plan.ttl_us is not None else None
            status: list[str] = []
            ts: list[int | None] = []
            vals: list[tuple[Any, ...] | None] = []
            for row in rows:
                if row is None:
                    status.append(NOT_FOUND)
                    ts.append(None)
                    vals.append(None)
                elif oldest is not None and row[0] < oldest:
                    status.append(OUTSIDE_MAX_AGE)
                    ts.append(row[0])
                    vals.append(None)
                else:
                    status.append(PRESENT)
                    ts.append(row[0])
                    vals.append(row[1])
            for pos, out in zip(plan.positions, plan.outs, strict=True):
                features_out[out] = [v[pos] if v is not None else None for v in vals]
                statuses[out] = status
                stamps[out] = ts
                out_types[out] = plan.spec.feature_types[pos].to_arrow()
        return OnlineResponse(key_out, features_out, statuses, stamps, out_types)
