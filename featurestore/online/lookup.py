"""``get_online_features``: entity rows in, one online-store read, values with statuses out.

The request is resolved once per registry snapshot and feature list (``featurestore.resolution``);
the read plan derived from it (store specs, positions, ttl) is kept with it, so a request costs one
store round trip plus the decoding. A lookup runs in three steps, :meth:`OnlineReader.prepare`
(check the entity rows), the store read, :meth:`OnlineReader.finish` (statuses and ttl), so an
asyncio caller can await a store that reads asynchronously (:meth:`OnlineReader.read_async`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pyarrow as pa

from featurestore import types
from featurestore.definitions.aggregate_view import AggregateView, SourcedView
from featurestore.errors import InputError
from featurestore.online import entity_rows as rows_in
from featurestore.online import on_demand
from featurestore.online.agg_batch import MIN_BATCH, fold_rows
from featurestore.online.agg_fold import FoldPlan
from featurestore.online.protocol import OnlineStore, ViewSpec
from featurestore.online.response import NOT_FOUND, OUTSIDE_MAX_AGE, PRESENT, OnlineResponse, ViewResult
from featurestore.registry.file import RegistryState
from featurestore.resolution import ResolvedOnDemand, ResolvedRequest, ResolvedView, resolve
from featurestore.transform import OnDemandRunner
from featurestore.utc import epoch_us

StoreRequests = list[tuple[ViewSpec, list[tuple[Any, ...]]]]
StoreRows = list[list[tuple[int, tuple[Any, ...]] | None]]


def spec_of(view: SourcedView, state: RegistryState | None = None) -> ViewSpec:
    """What the online store needs to know of a view (with ``state``: the earlier layouts its rows may have)."""
    keys = {f.name: f.dtype for f in view.key_fields}
    if isinstance(view, AggregateView):
        return ViewSpec(view.name, view.join_keys, tuple(keys.get(k, types.Int64) for k in view.join_keys),
                        view.feature_names, tuple(f.dtype for f in view.features), None, aggregate=True)
    return ViewSpec(
        name=view.name,
        join_keys=view.join_keys,
        key_types=tuple(keys.get(k, types.Int64) for k in view.join_keys),
        features=view.feature_names,
        feature_types=tuple(f.dtype for f in view.features),
        ttl_seconds=view.ttl.total_seconds() if view.ttl else None,
        previous=state.layouts(view.name) if state is not None else (),
    )


class _ViewPlan:
    __slots__ = ("arrow_types", "fold", "key_checks", "key_types", "keys", "name", "outs", "partial", "positions",
                 "spec", "ttl_us", "view_name")

    def __init__(self, resolved: ResolvedView, state: RegistryState) -> None:
        view = resolved.view
        self.spec = spec_of(view, state)
        self.partial = bool(self.spec.previous)  # rows of an earlier layout may lack features
        self.name = resolved.name
        self.view_name = view.name
        self.keys = resolved.entity_keys  # the entity columns holding the view's join keys
        self.key_checks = tuple((k, j, t.name, rows_in.CHECKS.get(t.name)) for k, j, t in zip(
            self.keys, view.join_keys, self.spec.key_types, strict=True))
        self.key_types = tuple(zip(self.keys, (t.to_arrow() for t in self.spec.key_types), strict=True))
        self.positions = tuple(self.spec.features.index(f) for f in resolved.features)
        self.outs = resolved.out_names
        self.arrow_types = tuple(self.spec.feature_types[p].to_arrow() for p in self.positions)
        self.ttl_us = int(view.ttl.total_seconds() * 1_000_000) if view.ttl else None
        self.fold = FoldPlan(view) if isinstance(view, AggregateView) else None
        """An aggregate view's fold of states and records into values (None for a feature view)."""


def _plans(resolved: ResolvedRequest, state: RegistryState) -> tuple[_ViewPlan, ...]:
    plans: tuple[_ViewPlan, ...] | None = resolved.derived.get("online")
    if plans is None:
        resolved.check_join_keys()
        off = next((v.view.name for v in resolved.views if not v.view.online), None)
        if off is not None:  # never materialized: its NOT_FOUND would be a silent wrong answer
            raise InputError(f"feature view {off!r} has online=False: it is not served online", view=off)
        plans = resolved.derived["online"] = tuple(_ViewPlan(v, state) for v in resolved.views)
    return plans


def _folded(fold: FoldPlan, rows: list[Any], now_us: int) -> tuple[list[str], list[int | None], list[Any]]:
    """Statuses, event times and values of an aggregate view's entities at ``now_us``."""
    if len(rows) >= MIN_BATCH:
        return fold_rows(fold, rows, now_us)
    status: list[str] = []
    ts: list[int | None] = []
    vals: list[tuple[Any, ...]] = []
    for row in rows:
        if row is None:
            status.append(NOT_FOUND)
            ts.append(None)
            vals.append(fold.empty)
            continue
        state, records = row[1]
        st, values, newest = fold.fold(state, records, now_us)
        status.append(st)
        ts.append(newest)
        vals.append(values)
    return status, ts, vals


class PreparedLookup:
    """A checked lookup waiting for its store read: the store requests, and what :meth:`finish` needs."""

    __slots__ = ("key_out", "n", "on_demand", "plans", "request_data", "requests")

    def __init__(self, plans: tuple[_ViewPlan, ...], key_out: dict[str, list[Any]], requests: StoreRequests,
                 n: int) -> None:
        self.plans = plans
        self.key_out = key_out
        self.requests = requests
        self.n = n
        self.on_demand: on_demand.OnDemandPlan | None = None
        """The on-demand views of the request (None without any)."""
        self.request_data: dict[str, list[Any]] = {}
        """Their request fields' values, per field."""


class OnlineReader:
    """Turns requests into one ``OnlineStore.read`` call (or an awaited ``read_async`` when the store has one).

    ``runner_of`` gives the runners of on-demand views (``FeatureStore.on_demand_runner``: the repo's live
    code); without it, a request of an on-demand view is refused.
    """

    def __init__(self, store: OnlineStore,
                 runner_of: Callable[[RegistryState, ResolvedOnDemand], OnDemandRunner] | None = None) -> None:
        self.store = store
        self.runner_of = runner_of
        self._read_async: Callable[[StoreRequests], Any] | None = getattr(store, "read_async", None)

    def prepare(self, state: RegistryState, features: Any, entity_rows: Any,
                full_feature_names: bool = False) -> PreparedLookup:
        """Resolve ``features`` (or take a :class:`ResolvedRequest`) and check the entity rows (no I/O)."""
        resolved = features if isinstance(features, ResolvedRequest) else resolve(features, state, full_feature_names)
        plans = _plans(resolved, state)
        cols, n = rows_in.columns(entity_rows)
        cols = rows_in.check(plans, cols, n)
        requests: StoreRequests = []
        key_out: dict[str, list[Any]] = {}
        for plan in plans:
            key_cols = [cols[k] for k in plan.keys]
            for k, values in zip(plan.keys, key_cols, strict=True):
                key_out[k] = values
            if not key_cols:  # a view without entities: its one row for every entity row
                requests.append((plan.spec, [()] * n))
                continue
            requests.append((plan.spec, list(zip(*key_cols, strict=True)) if len(key_cols) > 1
                             else [(v,) for v in key_cols[0]]))
        prepared = PreparedLookup(plans, key_out, requests, n)
        if resolved.on_demand:
            prepared.on_demand = on_demand.plan_of(resolved, state, self.runner_of)
            prepared.request_data = on_demand.request_columns(prepared.on_demand, cols, n)
        return prepared

    def finish(self, prepared: PreparedLookup, results: StoreRows | list[Any],
               now: datetime | None = None) -> OnlineResponse:
        """The response from the store's rows: statuses, ttl (``now``: the current time by default)."""
        now_us = epoch_us(now) if now is not None else time.time_ns() // 1000
        features_out: dict[str, list[Any]] = {}
        statuses: dict[str, list[str]] = {}
        stamps: dict[str, list[int | None]] = {}
        out_types: dict[str, pa.DataType] = {}
        views = []
        for plan in prepared.plans:  # the declared key types (an empty answer's keys are typed too)
            out_types.update(plan.key_types)
        for plan, rows in zip(prepared.plans, results, strict=True):
            oldest = now_us - plan.ttl_us if plan.ttl_us is not None else None
            status: list[str]
            ts: list[int | None]
            vals: list[tuple[Any, ...]]
            lacking: dict[int, list[int]] = {}  # feature position -> entity rows whose stored row lacks it
            if plan.fold is not None:  # an aggregate view: fold each entity's state and records at now
                status, ts, vals = _folded(plan.fold, rows, now_us)
            elif oldest is None and None not in rows and not plan.partial:  # the common case: all found, no ttl
                status = [PRESENT] * len(rows)
                ts = [row[0] for row in rows]
                vals = [row[1] for row in rows]
            else:
                status, ts, vals = [], [], []
                nulls = (None,) * len(plan.spec.features)
                partial = plan.partial
                for i, row in enumerate(rows):
                    if row is None:
                        status.append(NOT_FOUND)
                        ts.append(None)
                        vals.append(nulls)
                    elif oldest is not None and row[0] < oldest:
                        status.append(OUTSIDE_MAX_AGE)
                        ts.append(row[0])
                        vals.append(nulls)
                    else:
                        status.append(PRESENT)
                        ts.append(row[0])
                        vals.append(row[1])
                        if partial and len(row) > 2:  # a row of an earlier layout: some features not there
                            for pos in row[2]:
                                lacking.setdefault(pos, []).append(i)
            columns = list(zip(*vals, strict=False)) if vals else [() for _ in plan.spec.features]  # rows -> columns
            per_feature: dict[str, list[str]] = {}
            for pos, out, arrow_type in zip(plan.positions, plan.outs, plan.arrow_types, strict=True):
                features_out[out] = list(columns[pos])
                statuses[out] = status
                if pos in lacking:
                    statuses[out] = per_feature[out] = list(status)
                    for i in lacking[pos]:
                        per_feature[out][i] = NOT_FOUND
                stamps[out] = ts
                out_types[out] = arrow_type
            views.append(ViewResult(plan.name, plan.outs, status, ts, per_feature or None))
        if prepared.on_demand is not None:
            answer = on_demand.finish(prepared.on_demand, prepared.request_data, prepared.n, prepared.key_out,
                                      features_out, statuses, stamps, out_types, views)
        else:
            answer = OnlineResponse(prepared.key_out, features_out, statuses, stamps, out_types, tuple(views))
        answer.now_us = now_us  # the time read at: feature logging records it
        return answer

    def read(self, state: RegistryState, features: Any, entity_rows: Any, full_feature_names: bool = False,
             now: datetime | None = None) -> OnlineResponse:
        """Latest values of ``features`` for ``entity_rows`` (``features``: refs, a FeatureService or its name)."""
        prepared = self.prepare(state, features, entity_rows, full_feature_names)
        results = self.store.read(prepared.requests) if prepared.n else [[] for _ in prepared.requests]
        return self.finish(prepared, results, now)

    async def read_async(self, state: RegistryState, features: Any, entity_rows: Any,
                         full_feature_names: bool = False, now: datetime | None = None) -> OnlineResponse:
        """:meth:`read` for asyncio callers: the store's ``read_async`` if it has one, else ``read`` in a thread."""
        prepared = self.prepare(state, features, entity_rows, full_feature_names)
        if not prepared.n:
            results: StoreRows | list[Any] = [[] for _ in prepared.requests]
        elif self._read_async is not None:
            results = await self._read_async(prepared.requests)
        else:
            results = await asyncio.to_thread(self.store.read, prepared.requests)
        return self.finish(prepared, results, now)
