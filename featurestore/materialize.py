"""Materialization: the latest row per entity of each view, from the offline source into the online store.

Streams record batches from DuckDB (memory stays bounded whatever the source
size); the online store never replaces a stored row with an older one, so any
range can be re-run safely. Watermarks (the ``end`` of the last successful run,
per view) are stored in the registry and advance only after a view succeeded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pyarrow as pa

from featurestore.errors import FeatureStoreError, InputError
from featurestore.feature_view import FeatureView
from featurestore.offline.protocol import OfflineStore
from featurestore.online.protocol import OnlineStore
from featurestore.online_lookup import spec_of
from featurestore.registry import Registry, RegistryState
from featurestore.utc import now_iso, parse_iso, to_utc


@dataclass(frozen=True)
class Progress:
    """Reported after each batch written: the view, entity rows so far, and seconds elapsed."""

    view: str
    rows: int
    seconds: float
    done: bool = False


@dataclass(frozen=True)
class ViewMaterialization:
    view: str
    start: datetime | None
    end: datetime
    rows: int
    seconds: float


ProgressCallback = Callable[[Progress], None]


def python_columns(batch: pa.RecordBatch | pa.Table, names: tuple[str, ...]) -> list[list[Any]]:
    return [batch.column(n).to_pylist() for n in names]


def write_batch(online: OnlineStore, view: FeatureView, batch: pa.RecordBatch | pa.Table) -> int:
    """Write one batch holding join keys, features, ``__fs_ev`` and ``__fs_cr`` (epoch µs)."""
    spec = spec_of(view)
    keys = python_columns(batch, view.join_keys)
    values = python_columns(batch, view.feature_names)
    online.write(
        spec,
        list(zip(*keys, strict=True)),
        batch.column("__fs_ev").to_pylist(),
        batch.column("__fs_cr").to_pylist(),
        list(zip(*values, strict=True)),
    )
    return batch.num_rows


def materialize_view(
    offline: OfflineStore,
    online: OnlineStore,
    view: FeatureView,
    start: datetime | None,
    end: datetime,
    progress: ProgressCallback | None = None,
) -> ViewMaterialization:
    t0 = time.perf_counter()
    rows = 0
    for batch in offline.latest_rows(view, start, end):
        rows += write_batch(online, view, batch)
        if progress:
            progress(Progress(view.name, rows, time.perf_counter() - t0))
    seconds = time.perf_counter() - t0
    if progress:
        progress(Progress(view.name, rows, seconds, done=True))
    return ViewMaterialization(view.name, start, end, rows, seconds)


def online_views(state: RegistryState, names: list[str] | None) -> list[FeatureView]:
    views = [state.feature_view(n) for n in names] if names else state.feature_views()
    if names:
        off = [v.name for v in views if not v.online]
        if off:
            raise InputError(f"feature view {off[0]!r} has online=False", view=off[0])
    return [v for v in views if v.online]


def record(registry: Registry, result: ViewMaterialization, target: str) -> None:
    """Store a successful run: the watermark becomes the later of itself and ``end``; rows and time are kept.

    ``target`` names the online store; a watermark recorded for another store is not carried over.
    """

    def change(state: RegistryState) -> RegistryState | None:
        if result.view not in state.objects["feature_views"]:
            return None
        entry = dict(state.watermarks.get(result.view, {}))
        if entry.get("online_store") != target:
            entry = {"online_store": target}
        previous = entry.get("watermark")
        latest = max(parse_iso(previous), result.end) if previous else result.end
        entry["watermark"] = latest.isoformat()
        entry.update(last_success=now_iso(), last_rows=result.rows,
                     total_rows=int(entry.get("total_rows", 0)) + result.rows)
        return replace(state, watermarks={**state.watermarks, result.view: entry}, _parsed={})

    registry.update(change)


def forget(registry: Registry, views: list[str]) -> None:
    """Drop the watermarks of views whose online data was deleted."""

    def change(state: RegistryState) -> RegistryState | None:
        marks = {k: v for k, v in state.watermarks.items() if k not in views}
        return replace(state, watermarks=marks, _parsed={}) if marks != state.watermarks else None

    registry.update(change)


def watermark(state: RegistryState, view: str, target: str) -> datetime | None:
    """The view's watermark, if it was recorded for the online store ``target``."""
    entry = state.watermarks.get(view, {})
    mark = entry.get("watermark") if entry.get("online_store") == target else None
    return parse_iso(mark) if mark else None


def run(
    offline: OfflineStore,
    online: OnlineStore,
    registry: Registry,
    views: list[FeatureView],
    start: datetime | None,
    end: datetime,
    incremental: bool,
    progress: ProgressCallback | None = None,
) -> list[ViewMaterialization]:
    """Materialize each view; a failure names the view and leaves its watermark where it was."""
    end = to_utc(end, "end_date")
    results = []
    state = registry.load()
    target = repr(online)
    online.ping()  # an unreachable store fails here, before any work, even when no row is due
    for view in views:
        if incremental:
            begin = watermark(state, view.name, target)
            if begin is None and view.ttl is not None:
                begin = end - view.ttl
        else:
            begin = to_utc(start, "start_date") if start is not None else None
            if begin is not None and begin > end:
                raise InputError(f"start_date {begin} is after end_date {end}")
        try:
            result = materialize_view(offline, online, view, begin, end, progress)
        except FeatureStoreError as err:
            raise type(err)(f"materializing feature view {view.name!r} failed: {err.message}",
                            **{**err.fields, "view": view.name}) from None
        record(registry, result, target)
        results.append(result)
    return results
