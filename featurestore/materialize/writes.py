"""Writing rows directly: ``write_to_online_store`` and ``push`` (to the online and/or offline store).

A batch is validated and converted whole before anything is written, so a bad
batch writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from featurestore.definitions.aggregate_view import AggregateView, SourcedView
from featurestore.definitions.batch_transform import transform_table
from featurestore.definitions.feature_view import FeatureView
from featurestore.definitions.sources import PushSource, batch_of
from featurestore.errors import FeatureStoreError, InputError, NotFoundError
from featurestore.materialize import agg_push, frame_columns, gated
from featurestore.materialize.run import OnlineWrite, write_batch
from featurestore.offline.entity_input import to_arrow
from featurestore.offline.protocol import OfflineStore
from featurestore.online.protocol import OnlineStore
from featurestore.quality.policy import Gate
from featurestore.registry.file import RegistryState
from featurestore.state import StateStore
from featurestore.utc import MIN_US, arrow_epoch_us, from_epoch_us

PUSH_TARGETS = ("online", "offline", "online_and_offline")


@dataclass(frozen=True)
class PushResult:
    """What a push did: the ``rows`` pushed, and per online view of the push source (none for ``to="offline"``)
    what the online store took (:class:`OnlineWrite`: for a feature view written, skipped as older; for an
    aggregate view ``written`` = the records appended, one per row, ``skipped`` = 0)."""

    push_source: str
    to: str
    rows: int
    online: tuple[OnlineWrite, ...] = ()

    @property
    def written(self) -> int:
        """Rows stored online, summed over the views."""
        return sum(w.written for w in self.online)

    @property
    def skipped(self) -> int:
        """Rows the online store kept out (it held a row at least as new), summed over the views."""
        return sum(w.skipped for w in self.online)
MAX_FUTURE = timedelta(days=1)
"""How far past the current time an event time may be (clock skew); the default of ``max_future_event_seconds``."""


def _cast(table: pa.Table, name: str, target: pa.DataType, what: str) -> pa.ChunkedArray:
    column = table.column(name)
    if column.null_count == len(column):  # all nulls: whatever type a frame library guessed
        return pa.chunked_array([pa.nulls(len(column), target)])
    try:
        cast = column.cast(target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as err:
        raise InputError(f"{what} column {name!r} cannot be read as {target}: {err}", column=name) from None
    overflow = _float32_overflow(column, cast)
    if overflow is not None:
        raise InputError(f"{what} column {name!r} has {overflow!r}, beyond the range of Float32 "
                         f"(±{FLOAT32_MAX:.7g}); declare the feature Float64", column=name)
    return cast


FLOAT32_MAX = float(np.finfo(np.float32).max)


def _is_list(t: pa.DataType) -> bool:
    return bool(pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t))


def _float32_overflow(column: pa.ChunkedArray, cast: pa.ChunkedArray) -> Any:
    """A finite value of ``column`` that became infinite in ``cast`` (a Float32 or list of Float32), else None.

    Arrow's safe cast turns such a value into ``inf`` without a word.
    """
    source, values = column, cast
    while _is_list(values.type):
        if not _is_list(source.type):
            return None
        if values.type.value_type != pa.float32() and not _is_list(values.type.value_type):
            return None  # not Float32 inside: nothing to flatten
        source, values = pc.list_flatten(source), pc.list_flatten(values)
    if values.type != pa.float32() or not pc.any(pc.is_inf(values)).as_py():
        return None
    for i in np.flatnonzero(pc.fill_null(pc.is_inf(values), False).to_numpy(zero_copy_only=False)):
        value = source[int(i)].as_py()
        try:
            finite = value is not None and np.isfinite(float(value))
        except (TypeError, ValueError):
            finite = False
        if finite:
            return value
    return None


def online_batch(view: FeatureView, table: pa.Table, mapped: bool, max_future: timedelta | None = MAX_FUTURE,
                 now: datetime | None = None) -> pa.Table:
    """Validate ``table`` against ``view`` and return keys, features, ``__fs_ev``, ``__fs_cr``.

    ``mapped=False``: column names are the source's (before ``field_mapping``), as for ``push``.
    ``max_future``: event times later than ``now`` (the current time) plus this are refused (None: any).
    """
    batch = batch_of(view.source)

    def col(name: str) -> str:
        return view.source_column(name) if not mapped else name

    where = f"rows for feature view {view.name!r}"
    ts = next((c for c in (batch.timestamp_field, "event_timestamp") if c in table.column_names), None)
    if ts is None:
        raise InputError(f"{where} need the event timestamp column {batch.timestamp_field!r}",
                         column=batch.timestamp_field)
    key_types = {f.name: f.dtype for f in view.key_fields}
    arrays, names = [], []
    for key in view.join_keys:
        if col(key) not in table.column_names:
            raise InputError(f"{where} are missing join key column {col(key)!r}", join_key=key, column=col(key))
        arrays.append(_cast(table, col(key), key_types[key].to_arrow(), where) if key in key_types
                      else table.column(col(key)))
        names.append(key)
    for f in view.features:
        if col(f.name) not in table.column_names:
            raise InputError(f"{where} are missing feature column {col(f.name)!r}", column=col(f.name))
        arrays.append(_cast(table, col(f.name), f.dtype.to_arrow(), where))
        names.append(f.name)
    event = arrow_epoch_us(table.column(ts), ts)
    if event.null_count:
        raise InputError(f"{where}: event timestamp column {ts!r} has nulls", column=ts)
    if max_future is not None:
        _check_not_future(event, ts, where, max_future, now or datetime.now(UTC))
    created_name = batch.created_timestamp_field
    if created_name and created_name in table.column_names:
        created = pc.fill_null(arrow_epoch_us(table.column(created_name), created_name), MIN_US)
    else:
        created = pa.array([MIN_US] * table.num_rows, pa.int64())
    return pa.table([*arrays, event, created], names=[*names, "__fs_ev", "__fs_cr"])


def _check_not_future(event_us: pa.Array, column: str, where: str, max_future: timedelta, now: datetime) -> None:
    """Refuse event times after ``now`` + ``max_future``: one typo'd year would otherwise win online for ever."""
    limit = int(now.timestamp() * 1_000_000) + max_future // timedelta(microseconds=1)
    late = np.flatnonzero(event_us.to_numpy(zero_copy_only=False) > limit)
    if len(late):
        first = int(late[0])
        more = f" (and {len(late) - 1:,} more)" if len(late) > 1 else ""
        us = int(event_us[first].as_py())
        try:
            shown: object = from_epoch_us(us)
        except OverflowError:  # past year 9999
            shown = f"{us} microseconds after 1970"
        raise InputError(f"{where}: event timestamp column {column!r} has {shown} at row {first}{more}, later than "
                         f"now ({now:%Y-%m-%d %H:%M:%S} UTC) + {max_future.total_seconds():g} s "
                         f"(max_future_event_seconds in featurestore.yaml): fix the time or raise the limit",
                         column=column)


def write_to_online_store(online: OnlineStore, state: RegistryState, view_name: str, data: Any,
                          max_future: timedelta | None = MAX_FUTURE, now: datetime | None = None,
                          gate: Gate | None = None) -> OnlineWrite:
    """Write rows (named like the view's keys and features) to the online store: rows written and skipped.

    Event times later than ``now`` (default: the current time) + ``max_future`` are refused (None: no limit).
    An aggregate view is refused: its online values come from materialize and from pushes to its push source.
    """
    if view_name in state.objects.get("aggregate_views", {}):
        agg = state.aggregate_view(view_name)
        how = (f"push its rows to its push source {agg.source.name!r} (store.push), which appends them offline "
               "and online" if isinstance(agg.source, PushSource) else "materialize its source")
        raise InputError(f"aggregate view {view_name!r} cannot be written with write_to_online_store: {how}",
                         view=view_name)
    view = state.feature_view(view_name)
    frame = to_arrow(data, "df")
    frame_columns.check([view], frame.column_names, mapped=True)  # every missing and unknown column at once
    table = online_batch(view, frame, mapped=True, max_future=max_future, now=now)
    table = gated.screen_write(gate, view, table)  # the view's expectations (``gate``: its policy)
    return write_batch(online, view, table)


def push_views(state: RegistryState, push_name: str) -> list[FeatureView]:
    """The feature views fed by push source ``push_name`` (NotFoundError when no view, of any kind, is)."""
    views = [v for v in state.feature_views() if isinstance(v.source, PushSource) and v.source.name == push_name]
    if not views and not push_aggregate_views(state, push_name):
        raise NotFoundError(f"unknown push source {push_name!r}", kind="push_source", name=push_name)
    return views


def push_aggregate_views(state: RegistryState, push_name: str) -> list[AggregateView]:
    """The aggregate views fed by push source ``push_name``."""
    return [v for v in state.aggregate_views() if isinstance(v.source, PushSource) and v.source.name == push_name]


def push(online: OnlineStore, offline: OfflineStore, state: RegistryState, push_name: str, data: Any,
         to: str = "online", max_future: timedelta | None = MAX_FUTURE, *, states: StateStore | None = None,
         stamper: agg_push.Stamper | None = None, gate: Gate | None = None) -> PushResult:
    """Push rows named like the push source's batch-source columns: rows pushed, and per online view written
    and skipped.

    Event times later than now + ``max_future`` are refused (None: no limit), whatever the target. A view with
    a Polars batch transform gets the transform's output of the rows (online, and checked before anything is
    written); the offline copy holds the rows as pushed (the transform runs when they are read).

    A push source feeding aggregate views (see :func:`_push_aggregated`) needs ``states`` (its ingest lock);
    ``stamper`` gives the created stamps and the current time (default: the process's, on the system clock).
    """
    if to not in PUSH_TARGETS:
        raise InputError(f"push target {to!r} is not one of {list(PUSH_TARGETS)}", to=to)
    views = push_views(state, push_name)
    aggs = push_aggregate_views(state, push_name)
    table = to_arrow(data, "df")
    # the same for every `to`; a batch transform may read any column, so its view's columns are checked in
    # the transform's output instead, and no column is unknown while a view of the push source has one (or an
    # aggregate view, whose `where` may read any column: the offline schema check names unknown ones)
    checked: list[SourcedView] = [v for v in views if not v.has_transform]
    checked += aggs
    if checked:
        frame_columns.check(checked, table.column_names, mapped=False, push=push_name,
                            allow_unknown=len(checked) < len(views) + len(aggs) or bool(aggs))
    source = (views or aggs)[0].source
    assert isinstance(source, PushSource)
    stamper = stamper or agg_push.PROCESS_STAMPER
    now = stamper.clock()
    if aggs:
        if states is None:
            raise InputError(f"push source {push_name!r} feeds aggregate views: a push needs the state store's "
                             "ingest lock (push through FeatureStore.push)", name=push_name)
        return _push_aggregated(online, offline, push_name, source, views, aggs, table, to, max_future, states,
                                stamper, now, gate)

    # validates every view first
    def reshape(v: FeatureView, rows: pa.Table) -> pa.Table:
        return online_batch(v, _shaped(v, rows, push_name), mapped=False, max_future=max_future, now=now)

    batches = [(v, reshape(v, table)) for v in views]
    table, batches = gated.screen_push(gate, batches, table, reshape)  # expectations: before any write
    if to != "online":
        offline.write_push(source, _offline_rows(offline, source, push_name, table))
    written = tuple(write_batch(online, view, batch) for view, batch in batches if view.online) \
        if to != "offline" else ()
    return PushResult(push_name, to, int(table.num_rows), written)


def _shaped(view: FeatureView, table: pa.Table, push_name: str) -> pa.Table:
    """The rows ``view`` reads of a push: the rows as pushed, or its batch transform's output of them."""
    if not view.has_transform:
        return table
    out = transform_table(view, table)
    frame_columns.check([view], out.column_names, mapped=False, push=push_name, allow_unknown=True)
    return out


def _offline_rows(offline: OfflineStore, source: PushSource, push_name: str, table: pa.Table) -> pa.Table:
    """The pushed rows as the offline store appends them: every column known to the source, cast to its type."""
    schema = offline.source_schema(source)
    unknown = [c for c in table.column_names if c not in schema.names]
    if unknown:
        raise InputError(f"push source {push_name!r} has no column {unknown[0]!r}", column=unknown[0])
    return pa.table({c: _cast(table, c, schema.field(c).type, f"push source {push_name!r}")
                     for c in table.column_names})


def _push_aggregated(online: OnlineStore, offline: OfflineStore, push_name: str, source: PushSource,
                     views: list[FeatureView], aggs: list[AggregateView], table: pa.Table, to: str,
                     max_future: timedelta | None, states: StateStore, stamper: agg_push.Stamper,
                     now: datetime, gate: Gate | None = None) -> PushResult:
    """A push to a source feeding aggregate views: under the shared ingest lock, the created column is stamped
    with the arrival time and the rows are appended offline whatever ``to``; then (unless ``to="offline"``)
    the feature views get their rows and each online aggregate view one record per row. Everything is
    validated before the offline append; an online failure after it leaves the offline rows in place."""
    created = source.batch_source.created_timestamp_field
    assert created is not None  # AggregateView requires it on a push source
    check = agg_push.max_future_check(max_future, now, _check_not_future)
    with states.ingest(exclusive=False):  # a materialize picks its snapshot under the exclusive lock
        schema = offline.source_schema(source)
        stamp = stamper.next()
        rows = agg_push.stamped(table, created, stamp, schema.field(created).type if created in schema.names
                                else None)
        def reshape(v: FeatureView, some: pa.Table) -> pa.Table:
            return online_batch(v, _shaped(v, some, push_name), mapped=False, max_future=max_future, now=now)

        batches = [(v, reshape(v, rows)) for v in views]
        rows, batches = gated.screen_push(gate, batches, rows, reshape)  # expectations: before the offline append
        offline_rows = _offline_rows(offline, source, push_name, rows)
        prepared = [agg_push.records(v, rows, offline_rows, schema, stamp, check, encode=to != "offline" and v.online)
                    for v in aggs]
        offline.write_push(source, offline_rows)
    if to == "offline":
        return PushResult(push_name, to, int(rows.num_rows))
    done: list[OnlineWrite] = []
    try:
        done += [write_batch(online, view, batch) for view, batch in batches if view.online]
        for p in prepared:
            if p.view.online:
                n = agg_push.append(online, p)
                done.append(OnlineWrite(p.view.name, len(p.records), n, 0))
    except FeatureStoreError as err:
        err.message = (f"{err.message} (the {rows.num_rows:,} pushed rows were appended offline, created "
                       f"{from_epoch_us(stamp).isoformat()}: the next materialize reads them"
                       f"{'; done online: ' + ', '.join(w.view for w in done) if done else ''})")
        err.args = (err.message,)
        raise
    return PushResult(push_name, to, int(rows.num_rows), tuple(done))
