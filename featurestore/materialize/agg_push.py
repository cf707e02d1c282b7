"""Pushes to a push source feeding aggregate views: created stamps and the records appended online.

A pushed row's created column is replaced by the time the push arrived (:class:`Stamper`), so that a
materialize at snapshot ``S`` (which reads the source's rows created before ``S``) and the online records
(the rows created at or after ``S``) split the rows without losing or double-counting one. Each row becomes
one record per online aggregate view: its event time and inputs (computed by DuckDB with the offline SQL,
:mod:`featurestore.offline.duckdb.pushed`), encoded by :func:`featurestore.online.agg_state.encode_records`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from featurestore.definitions.aggregate_view import AggregateView
from featurestore.definitions.sources import batch_of
from featurestore.errors import InputError
from featurestore.offline.duckdb.pushed import pushed_inputs, with_source_columns
from featurestore.online.lookup import spec_of
from featurestore.online.protocol import OnlineStore
from featurestore.utc import MIN_US, epoch_us, now

Clock = Callable[[], datetime]
"""A clock: returns the current time as an aware UTC datetime (default :func:`featurestore.utc.now`)."""
UTC_US = pa.timestamp("us", tz="UTC")


class Stamper:
    """The created stamps of pushes: the clock's time in microseconds, strictly increasing
    (``max(clock, last + 1)``), so two pushes through one stamper never share a created time."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._last = MIN_US
        self._lock = threading.Lock()

    def next(self) -> int:
        """A new stamp (UTC epoch microseconds)."""
        with self._lock:
            self._last = max(epoch_us(self.clock()), self._last + 1)
            return self._last


PROCESS_STAMPER = Stamper(now)
"""The stamper of every store on the default clock: stamps are strictly increasing in the process."""


def stamped(table: pa.Table, created: str, stamp_us: int, target: pa.DataType | None) -> pa.Table:
    """``table`` with its column ``created`` (added when absent) holding ``stamp_us`` on every row, typed
    ``target`` (the offline source's type of that column; None: timestamp[us, UTC])."""
    column = pa.array([stamp_us] * table.num_rows, pa.int64()).cast(UTC_US)
    if target is not None and target != UTC_US:
        column = column.cast(target)
    if created in table.column_names:
        return table.set_column(table.column_names.index(created), created, column)
    return table.append_column(created, column)


@dataclass(frozen=True)
class Records:
    """The records of one push for one aggregate view, ready to append."""

    view: AggregateView
    keys: list[tuple[Any, ...]]
    created_us: list[int]
    records: list[bytes]


def _keys(view: AggregateView, table: pa.Table, where: str) -> list[tuple[Any, ...]]:
    """Per row, the join key values cast to their declared types; a null is refused naming the rows."""
    types = {f.name: f.dtype.to_arrow() for f in view.key_fields}
    columns = []
    for key in view.join_keys:
        name = view.source_column(key)
        values = table.column(name)
        if key in types:
            try:
                values = values.cast(types[key], safe=True)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as err:
                raise InputError(f"{where}: join key column {name!r} cannot be read as {types[key]}: {err}",
                                 join_key=key, column=name, view=view.name) from None
        if values.null_count:
            rows = pc.indices_nonzero(values.is_null()).to_pylist()
            raise InputError(f"{where}: join key column {name!r} is null at row{'s' if len(rows) > 1 else ''} "
                             f"{_rows(rows)}; every pushed row needs its join keys (it would be left out of "
                             "the aggregates)", join_key=key, column=name, rows=rows[:100], view=view.name)
        columns.append(values.to_pylist())
    return list(zip(*columns, strict=True)) if columns else [()] * table.num_rows


def _rows(rows: list[int]) -> str:
    shown = ", ".join(map(str, rows[:5]))
    return shown + (f" (and {len(rows) - 5:,} more)" if len(rows) > 5 else "")


def records(view: AggregateView, table: pa.Table, offline_rows: pa.Table, schema: pa.Schema, stamp_us: int,
            check_future: Callable[[pa.Array, str, str], None], encode: bool = True) -> Records:
    """Validate the pushed rows for ``view`` and build its records (nothing is written).

    ``table``: the rows as pushed (stamped); ``offline_rows``: the same rows as appended offline (cast to the
    source's types); ``schema``: the offline source's schema. ``check_future(event_us, column, where)`` refuses
    event times too far in the future. A null join key or event time is refused, naming the rows.
    ``encode=False``: validate only (``records`` stays empty).
    """
    where = f"rows pushed for aggregate view {view.name!r}"
    keys = _keys(view, table, where)
    event, inputs = pushed_inputs(view, with_source_columns(offline_rows, schema))
    ts = batch_of(view.source).timestamp_field
    nulls = [i for i, e in enumerate(event) if e is None]
    if nulls:
        raise InputError(f"{where}: event timestamp column {ts!r} is null at row{'s' if len(nulls) > 1 else ''} "
                         f"{_rows(nulls)}", column=ts, rows=nulls[:100], view=view.name)
    event_us = [int(e) for e in event if e is not None]
    check_future(pa.array(event_us, pa.int64()), ts, where)
    created = [stamp_us] * len(event_us)
    if not encode:
        return Records(view, keys, created, [])
    from featurestore.online.agg_state import encode_records  # the online state format (agg_state.py)

    return Records(view, keys, created, encode_records(view, event_us, created, inputs))


def append(online: OnlineStore, prepared: Records) -> int:
    """Append one view's records online; returns how many the store took."""
    if not prepared.records:
        return 0
    return int(online.append_aggregates(spec_of(prepared.view), prepared.keys, prepared.created_us,
                                        prepared.records))


def max_future_check(max_future: timedelta | None, at: datetime,
                     check: Callable[[pa.Array, str, str, timedelta, datetime], None]) -> Callable[
                         [pa.Array, str, str], None]:
    """``check`` bound to ``max_future`` and the current time ``at`` (a no-op when ``max_future`` is None)."""
    def bound(event_us: pa.Array, column: str, where: str) -> None:
        if max_future is not None:
            check(event_us, column, where, max_future, at)
    return bound
