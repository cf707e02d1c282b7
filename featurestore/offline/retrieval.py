"""``get_historical_features``: check the request, then hand the join to the offline store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa

from featurestore import types
from featurestore.errors import InputError
from featurestore.offline.entity_input import EntityInput, load
from featurestore.offline.on_demand import EntityOnlyJob, OnDemandJob, Runners, check_request_columns
from featurestore.offline.protocol import OfflineStore, RetrievalJob
from featurestore.registry.file import RegistryState
from featurestore.resolution import ResolvedView, request
from featurestore.utc import to_utc


def key_compatible(expected: types.ValueType, actual: pa.DataType) -> bool:
    if expected.name in ("Int32", "Int64"):
        return bool(pa.types.is_integer(actual)) or actual == pa.null()
    return expected.accepts(actual) or actual == pa.null()


def check_keys(requests: list[ResolvedView], schema: pa.Schema, what: str = "entity_df") -> None:
    missing = [(column, req.name, f" (mapped to join key {key!r} of feature view {req.view.name!r})"
                if column != key else "") for req in requests for column, key in req.keys if column not in schema.names]
    if missing:  # every one at once
        columns = list(dict.fromkeys(c for c, _, _ in missing))
        shown = ", ".join(f"{c!r} of feature view {name!r}{mapped}" for c, name, mapped in missing)
        raise InputError(f"{what} is missing join key{'s' if len(missing) > 1 else ''} {shown}",
                         join_key=columns[0], view=missing[0][1], columns=columns)
    for req in requests:
        key_types = {f.name: f.dtype for f in req.view.key_fields}
        name = req.name
        for column, key in req.keys:
            mapped = f" (mapped to join key {key!r} of feature view {req.view.name!r})" if column != key else ""
            expected = key_types.get(key)
            actual = schema.field(column).type
            if expected is not None and not key_compatible(expected, actual):
                raise InputError(f"{what} join key {column!r} has type {actual} but feature view "
                                 f"{name!r} keys it by {expected.name}{mapped}", join_key=column, view=name)


def get_historical_features(
    offline: OfflineStore,
    state: RegistryState,
    entity_df: Any,
    features: Any,
    full_feature_names: bool = False,
    as_of_created: bool = False,
    start_date: datetime | None = None,
    end_date: datetime | None = None,
    runners: Runners | None = None,
    as_of: datetime | None = None,
) -> RetrievalJob:
    """The training set job; with on-demand views requested, ``runners`` gives their runners. ``as_of``: an aware
    UTC cutoff (see :meth:`OfflineStore.historical`)."""
    if entity_df is None:
        if start_date is None or end_date is None:
            raise InputError("without entity_df, give start_date and end_date (the spine's time range)")
        start_date, end_date = to_utc(start_date, "start_date"), to_utc(end_date, "end_date")  # naive = UTC
        if start_date > end_date:
            raise InputError(f"start_date {start_date} is after end_date {end_date}")
        resolved = request(features, state, full_feature_names, ("event_timestamp",))
        requests = list(resolved.views)
        keyed = [r for r in requests if r.keys]  # views without entities join any spine by time
        keys = {tuple(col for col, _ in r.keys) for r in keyed}
        if len(keys) > 1 or any(col != key for r in keyed for col, key in r.keys):
            raise InputError("without entity_df, every requested feature view must have the same join keys "
                             f"(and no join_key_map); got {sorted(list(k) for k in keys)}")
        spine = offline.spine([r.view for r in keyed or requests], start_date, end_date, as_of)
        entity = EntityInput(schema=spine.schema, timestamp_column="event_timestamp", table=spine)
    else:
        if start_date is not None or end_date is not None:
            raise InputError("start_date/end_date are for queries without entity_df; filter entity_df instead")
        entity = load(entity_df)
        resolved = request(features, state, full_feature_names, entity.schema.names)
        requests = list(resolved.views)
    check_keys(requests, entity.schema)
    if not resolved.on_demand:
        return offline.historical(entity, requests, as_of_created, as_of)
    check_request_columns(resolved, entity.schema, "entity_df" if entity_df is not None else "the spine (no entity_df)")
    if runners is None:
        raise InputError("on-demand feature views need the store's live code: use FeatureStore.get_historical_features")
    inner = offline.historical(entity, requests, as_of_created, as_of) if requests else EntityOnlyJob(entity)
    return OnDemandJob(inner, resolved, runners, resolved.join_keys,
                       entity.timestamp_column)
