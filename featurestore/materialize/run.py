"""Materialization: the latest row per entity of each view, from the offline source into the online store.

Streams record batches from DuckDB (memory stays bounded whatever the source
size); the online store never replaces a stored row with an older one, so any
range can be re-run safely. Watermarks (the ``end`` of the last successful run,
per view and online store) are records of the state store and advance only after a view succeeded.
One materialization runs at a time per repo, across processes (the state store's exclusive lock).
With an engine that writes from its executors (Spark), the workers write a feature view's rows instead of this
process (executors.py); the gate, counts and watermarks stay here.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from featurestore.definitions.aggregate_view import AggregateView, SourcedView, view_label
from featurestore.definitions.feature_view import FeatureView
from featurestore.errors import FeatureStoreError, InputError
from featurestore.materialize import gated
from featurestore.materialize.aggregates import Clock, materialize_aggregates, snapshot_of
from featurestore.materialize.executors import OnlineTarget, executor_writes, write_view
from featurestore.materialize.runlog import log_run
from featurestore.offline.protocol import OfflineStore
from featurestore.online.lookup import spec_of
from featurestore.online.protocol import OnlineStore
from featurestore.quality.policy import Gate
from featurestore.registry.file import RegistryState
from featurestore.state import StateStore, repo_relative
from featurestore.utc import now as utc_now
from featurestore.utc import now_iso, parse_iso, to_utc

WATERMARK = "watermark"
"""The state record kind of watermarks: name = view, key = online store identity (:func:`target_of`)."""


@dataclass(frozen=True)
class Progress:
    """Reported after each batch written: the view, entity rows so far, and seconds elapsed."""

    view: str
    rows: int
    seconds: float
    done: bool = False


@dataclass(frozen=True)
class OnlineWrite:
    """What one write to the online store did for one feature view.

    ``rows``: the rows given; ``written``: rows stored; ``skipped``: rows the never-older rule kept out,
    because the store already held a row of the entity at least as new (event time, then created time),
    or a later row of the same entity in the same batch was at least as new.
    """

    view: str
    rows: int
    written: int
    skipped: int


@dataclass(frozen=True)
class ViewMaterialization:
    """One view's materialization: the range, the entity rows read (``rows``), how many were ``written``
    and how many ``skipped`` (the online store held a newer row, see :class:`OnlineWrite`), the seconds.

    ``notice``: why nothing ran, when nothing was due (an incremental run whose end is before the view's
    watermark); None when the view ran.
    """

    view: str
    start: datetime | None
    end: datetime
    rows: int
    seconds: float
    written: int = 0
    skipped: int = 0
    notice: str | None = None


ProgressCallback = Callable[[Progress], None]


def python_columns(batch: pa.RecordBatch | pa.Table, names: tuple[str, ...]) -> list[list[Any]]:
    return [batch.column(n).to_pylist() for n in names]


def write_batch(online: OnlineStore, view: FeatureView, batch: pa.RecordBatch | pa.Table) -> OnlineWrite:
    """Write one batch holding join keys, features, ``__fs_ev`` and ``__fs_cr`` (epoch µs)."""
    spec = spec_of(view)
    keys = python_columns(batch, view.join_keys)
    values = python_columns(batch, view.feature_names)
    written = online.write(
        spec,
        list(zip(*keys, strict=True)) if keys else [()] * batch.num_rows,  # () for a view without entities
        batch.column("__fs_ev").to_pylist(),
        batch.column("__fs_cr").to_pylist(),
        list(zip(*values, strict=True)),
    )
    rows = int(batch.num_rows)
    return OnlineWrite(view.name, rows, int(written), rows - int(written))


def materialize_view(
    offline: OfflineStore,
    online: OnlineStore,
    view: FeatureView,
    start: datetime | None,
    end: datetime,
    progress: ProgressCallback | None = None,
    gate: Gate | None = None,
    target: OnlineTarget | None = None,
) -> ViewMaterialization:
    """One view's latest rows in ``[start, end]`` into ``online``; with an engine that writes from its executors and
    the online store's ``target`` (its config), the executors write (executors.py), else this process does."""
    t0 = time.perf_counter()
    rows = written = 0
    engine = executor_writes(offline, target)
    if engine is not None and target is not None:
        rows, written = write_view(engine, target, gate, offline, view, start, end)
        seconds = time.perf_counter() - t0
        if progress:
            progress(Progress(view.name, rows, seconds, done=True))
        return ViewMaterialization(view.name, start, end, rows, seconds, written, rows - written)
    for batch in gated.screened_rows(gate, offline, view, start, end):  # expectations: before anything is written
        done = write_batch(online, view, batch)
        rows += done.rows
        written += done.written
        if progress:
            progress(Progress(view.name, rows, time.perf_counter() - t0))
    seconds = time.perf_counter() - t0
    if progress:
        progress(Progress(view.name, rows, seconds, done=True))
    return ViewMaterialization(view.name, start, end, rows, seconds, written, rows - written)


def materialize_aggregate_view(
    offline: OfflineStore,
    online: OnlineStore,
    view: AggregateView,
    end: datetime,
    clock: Clock = utc_now,
    progress: ProgressCallback | None = None,
) -> ViewMaterialization:
    """Write every entity's aggregate state at ``S = snapshot_of(end, clock)`` (the whole history is read);
    ``rows``: the entities read."""
    t0 = time.perf_counter()
    snapshot = snapshot_of(end, clock)

    def report(name: str, rows: int, seconds: float) -> None:
        if progress:
            progress(Progress(name, rows, seconds))

    rows, written = materialize_aggregates(offline, online, view, snapshot, report)
    seconds = time.perf_counter() - t0
    if progress:
        progress(Progress(view.name, rows, seconds, done=True))
    return ViewMaterialization(view.name, None, end, rows, seconds, written, rows - written)


def online_views(state: RegistryState, names: list[str] | None) -> list[SourcedView]:
    """The views to materialize: ``names`` (feature views and aggregate views), else every online one."""
    views = [state.sourced_view(n) for n in names] if names else state.sourced_views()
    if names:
        off = [v for v in views if not v.online]
        if off:
            raise InputError(f"{view_label(off[0])} {off[0].name!r} has online=False", view=off[0].name)
    return [v for v in views if v.online]


def target_of(online: OnlineStore, repo_path: Path) -> str:
    """The key of ``online``'s watermarks: its identity, with a file inside the repo relative to it."""
    return repo_relative(online.identity, repo_path)


def record(states: StateStore, result: ViewMaterialization, target: str) -> dict[str, Any]:
    """Store a successful run into the online store ``target``: the watermark becomes the later of itself
    and ``end``; the rows of the run and of every run are kept."""

    def change(entry: Any) -> dict[str, Any]:
        entry = dict(entry or {})
        previous = entry.get("watermark")
        latest = max(parse_iso(previous), result.end) if previous else result.end
        return {"watermark": latest.isoformat(), "last_success": now_iso(), "last_rows": result.rows,
                "total_rows": int(entry.get("total_rows", 0)) + result.rows}

    return dict(states.update(WATERMARK, result.view, target, change) or {})


def forget(states: StateStore, views: list[str] | None, target: str | None = None) -> None:
    """Drop the watermarks of ``views`` (None: every view) in ``target`` (None: every online store)."""
    states.delete(WATERMARK, views, target)


def watermarks(states: StateStore, target: str | Callable[[], str]) -> dict[str, dict[str, Any]]:
    """Per view, its watermark record in the online store ``target`` (a callable is called only when needed)."""
    records = states.records(WATERMARK)
    if not records:
        return {}
    key = target() if callable(target) else target
    return {r.name: r.value for r in records if r.key == key}


def watermark(states: StateStore, view: str, target: str) -> datetime | None:
    """The view's watermark in the online store ``target``, if any."""
    entry = states.get(WATERMARK, view, target)
    mark = entry.get("watermark") if isinstance(entry, dict) else None
    return parse_iso(mark) if mark else None


def _recorded(states: StateStore, target: str, view: SourcedView, begin: datetime | None, end: datetime,
              clock: Clock, work: Callable[[], ViewMaterialization]) -> ViewMaterialization:
    """Run one view's materialization: a success advances its watermark, a failure is re-raised naming the view;
    both are logged in the run log (``end``: the range's end, an aggregate view's snapshot)."""
    started = clock().isoformat()
    try:
        result = work()
    except FeatureStoreError as err:
        log_run(states, view.name, target, begin, end, started, 0, clock, err.message)
        raise type(err)(f"materializing {view_label(view)} {view.name!r} failed: {err.message}",
                        **{**err.fields, "view": view.name}) from None
    record(states, result, target)
    log_run(states, view.name, target, begin, end, started, result.rows, clock)
    return result


def _same(value: datetime) -> datetime:
    return value


def run(
    offline: OfflineStore,
    online: OnlineStore,
    states: StateStore,
    target: str,
    views: list[SourcedView],
    start: datetime | None,
    end: datetime,
    incremental: bool,
    progress: ProgressCallback | None = None,
    clock: Clock = utc_now,
    gate: Gate | None = None,
    target_config: OnlineTarget | None = None,
) -> list[ViewMaterialization]:
    """Materialize each view into ``online`` (whose watermarks are kept under ``target``), holding the repo's
    exclusive lock (BusyError while another materialization runs); a failure names the view and leaves its
    watermark where it was. ``target_config``: how workers open ``online`` (engines that write from their
    executors use it; None: every write goes through this process).

    An aggregate view always reads its whole history (``start`` and the watermark do not apply) and writes its
    states at the snapshot ``min(end, clock())``; its watermark is recorded as a feature view's.
    """
    end = to_utc(end, "end_date")
    if not incremental and start is not None and to_utc(start, "start_date") > end:
        raise InputError(f"start_date {to_utc(start, 'start_date')} is after end_date {end}")
    what = "materialize-incremental" if incremental else "materialize"
    with states.exclusive(f"{what} {[v.name for v in views]}"):
        results = []
        online.ping()  # an unreachable store fails here, before any work, even when no row is due
        for view in views:
            if isinstance(view, AggregateView):
                # the snapshot is picked under the exclusive ingest lock: every push stamped before it has its rows
                # on disk (pushes stamp and append offline under the shared lock), so the read below sees them
                with states.ingest(exclusive=True):
                    picked = snapshot_of(end, clock)
                results.append(_recorded(states, target, view, None, picked, clock, functools.partial(
                    materialize_aggregate_view, offline, online, view, end, functools.partial(_same, picked),
                    progress)))
                continue
            if incremental:
                begin = watermark(states, view.name, target)
                if begin is None and view.ttl is not None:
                    begin = end - view.ttl
                elif begin is not None and end < begin:  # nothing due: say so rather than "0 rows"
                    results.append(ViewMaterialization(view.name, begin, end, 0, 0.0, notice=(
                        f"feature view {view.name!r} is already materialized up to its watermark "
                        f"{begin.isoformat()}, after the end {end.isoformat()}: nothing to do (to load an "
                        "earlier range again, materialize it with a start and an end)")))
                    continue
            else:
                begin = to_utc(start, "start_date") if start is not None else None
            results.append(_recorded(states, target, view, begin, end, clock, functools.partial(
                materialize_view, offline, online, view, begin, end, progress, gate, target_config)))
        return results
