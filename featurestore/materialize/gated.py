"""Expectations on the write paths: a view's batch is judged BEFORE anything is written, then its policy applies
(see :mod:`featurestore.quality.policy`).

Pushes: a row that is bad for a quarantining view is dropped for every target of the push (the offline append and
every view), so offline and online keep the same rows. A view with a batch transform judges its transform's
output, whose rows cannot be traced back to pushed rows: its bad rows are dropped from its own rows only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from featurestore.definitions.feature_view import FeatureView
from featurestore.offline.entity_input import load
from featurestore.offline.protocol import OfflineStore
from featurestore.quality import evaluate
from featurestore.quality.checks import RowFilter
from featurestore.quality.policy import Gate, error_of, report_of, warn
from featurestore.quality.report import ValidationReport
from featurestore.registry.file import RegistryState
from featurestore.resolution import request
from featurestore.utc import arrow_epoch_us, epoch_us, from_epoch_us, time_range, to_utc

Batches = list[tuple[FeatureView, pa.Table]]


def screen_write(gate: Gate | None, view: FeatureView, batch: pa.Table) -> pa.Table:
    """``write_to_online_store``: the rows of ``batch`` to write (raises when rejected)."""
    if gate is None or not view.expectations:
        return batch
    quarantined = gate.settle([gate.judge(view, batch, "write_to_online_store")])
    return batch.filter(quarantined[0].keep()) if quarantined else batch


def screen_push(gate: Gate | None, batches: Batches, table: pa.Table,
                reshape: Callable[[FeatureView, pa.Table], pa.Table]) -> tuple[pa.Table, Batches]:
    """A push: the pushed rows and each view's rows to write (raises when a view rejects the batch).

    ``reshape(view, rows)``: a view's batch of some pushed rows (after its transform), to rebuild the batches of
    views with a transform when rows were dropped from the push.
    """
    if gate is None or not any(v.expectations for v, _ in batches):
        return table, batches
    quarantined = gate.settle([gate.judge(v, b, "push") for v, b in batches])
    traced = [j for j in quarantined if not j.view.has_transform]
    if traced:
        mask = traced[0].keep()
        for j in traced[1:]:
            mask = pc.and_(mask, j.keep())
        table = table.filter(mask)
        batches = [(v, reshape(v, table) if v.has_transform else b.filter(mask)) for v, b in batches]
    for j in quarantined:
        if j.view.has_transform:
            now_us = epoch_us(j.report.checked_at or gate.clock())
            batches = [(v, b.filter(pc.is_null(evaluate.reasons(b, v.expectations, now_us))) if v is j.view else b)
                       for v, b in batches]
    return table, batches


def screen_range(gate: Gate | None, offline: OfflineStore, view: FeatureView, start: datetime | None,
                 end: datetime) -> RowFilter | None:
    """materialize: judge the view's rows in ``[start, end]`` before writing; reject raises (nothing written),
    quarantine writes the bad rows aside and returns the filter that leaves them out, warn warns."""
    if gate is None or not view.expectations:
        return None
    report = check_range(gate, offline, view, start, end, "materialize")
    gate.note(report)
    if report.outcome == "rejected":
        raise error_of(report)
    if report.outcome == "warned":
        warn(report)
    if report.outcome != "quarantined":
        return None
    at = report.checked_at or gate.clock()
    bad = offline.bad_rows(view, start, end, view.expectations, at)
    gate.set_aside(view, bad.drop_columns(["__fs_reason"]), bad.column("__fs_reason"), "materialize")
    return RowFilter(view.expectations, epoch_us(at))


def screened_rows(gate: Gate | None, offline: OfflineStore, view: FeatureView, start: datetime | None,
                  end: datetime) -> Iterator[pa.RecordBatch]:
    """materialize's rows (:meth:`OfflineStore.latest_rows`) once the view's expectations let them through.

    Under ``reject`` and ``warn`` the check runs in a second thread while the latest-rows query computes (DuckDB
    releases the GIL): its first batch is held until the verdict, so a rejected range writes nothing and the
    check adds little to materialize's time. Under ``quarantine`` the check runs first: its bad rows are left out
    of the latest-row pick.
    """
    if gate is None or not view.expectations or view.on_invalid == "quarantine":
        exclude = screen_range(gate, offline, view, start, end)
        yield from (offline.latest_rows(view, start, end, exclude=exclude) if exclude else
                    offline.latest_rows(view, start, end))
        return
    batches = offline.latest_rows(view, start, end)
    close = getattr(batches, "close", None)  # a generator holds its engine connection until closed
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="featurestore-check") as pool:
            verdict = pool.submit(screen_range, gate, offline, view, start, end)
            try:
                first = next(batches, None)
            finally:
                verdict.result()  # raises when rejected, before anything is written
        if first is not None:
            yield first
            yield from batches
    finally:
        if close is not None:
            close()


def check_range(gate: Gate, offline: OfflineStore, view: FeatureView, start: datetime | str | None,
                end: datetime | str | None, path: str = "validate") -> ValidationReport:
    """The view's expectations over its source rows in ``[start, end]`` (what materialize checks), as a report.

    ``start``/``end``: datetimes (naive = UTC) or ISO 8601 text; None: from the first row / up to the clock.
    """
    now = gate.clock()
    start, end = time_range(start, end)
    end = end or now
    evaluation = offline.check_rows(view, start, end, view.expectations, now)
    return report_of(view, evaluation, path, now, start, end)


def check_training(gate: Gate, offline: OfflineStore, state: RegistryState, entity_df: Any, features: Any,
                   start: datetime | None, end: datetime | None) -> None:
    """``get_historical_features(validate=True)``: each requested feature view with expectations is checked over
    its source rows with event time in [min entity time − ttl (all history without ttl), max entity time];
    a failure raises ExpectationError (reject, quarantine) or warns (warn). Nothing is recorded."""
    names = ("event_timestamp",)
    if entity_df is not None:
        entity = load(entity_df)
        names = tuple(entity.schema.names)
        column = entity.table.column(entity.timestamp_column) if entity.table is not None else \
            pq.read_table(entity.path, columns=[entity.timestamp_column]).column(0)
        times = arrow_epoch_us(column, entity.timestamp_column)
        if len(times) == 0 or times.null_count == len(times):
            return
        bounds = pc.min_max(times)
        start, end = from_epoch_us(bounds["min"].as_py()), from_epoch_us(bounds["max"].as_py())
    views = [r.view for r in request(features, state, False, names).views]
    for view in dict.fromkeys(v for v in views if isinstance(v, FeatureView) and v.expectations):
        lo = None if start is None or view.ttl is None else to_utc(start, "start_date") - view.ttl
        report = check_range(gate, offline, view, lo, to_utc(end, "end_date") if end is not None else None,
                             "training set")
        if report.outcome == "warned":
            warn(report)
        elif not report.ok:
            raise error_of(report)

