"""Materialize an aggregate view: per entity, its online state at a snapshot ``S``, streamed batch by batch.

The offline store computes the parts of each entity's state (``OfflineStore.aggregate_states``: collapsed IRs,
tail entries, newest event time, over the events created before ``S``); this module encodes them
(``featurestore/online/agg_state.py``) and writes them with ``OnlineStore.write_aggregates``, which keeps a newer
state and drops the pushed records created before ``S`` (the offline read has them). ``S`` is the earlier of the
run's end and now (:func:`snapshot_of`): a state never claims rows not yet pushed. Every run reads the whole
history: the start of a materialize range does not apply to aggregate views.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from datetime import datetime
from itertools import pairwise
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from featurestore import types
from featurestore.definitions.agg_ir import (
    FUNCTION_COMPONENTS,
    collapsed_bounds,
    collapsed_columns,
    input_components,
    is_int_sum,
)
from featurestore.definitions.aggregate_view import AggregateView
from featurestore.offline.protocol import OfflineStore
from featurestore.online.agg_state import (
    FLOAT_VALUES,
    INT_VALUES,
    LIST_VALUES,
    ONES,
    VERSION,
    fingerprint,
    pack_states,
)
from featurestore.online.lookup import spec_of
from featurestore.online.protocol import OnlineStore
from featurestore.utc import epoch_us, to_utc
from featurestore.utc import now as utc_now

Clock = Callable[[], datetime]


def snapshot_of(end: datetime, clock: Clock = utc_now) -> datetime:
    """The snapshot ``S`` of a materialize ending at ``end``: the earlier of ``end`` and now (``clock()``)."""
    return min(to_utc(end, "end_date"), to_utc(clock(), "now"))


def _ints(lo: list[Any], big: list[Any] | None) -> list[Any]:
    """Exact integer sums from their BIGINT column and, where beyond BIGINT, their decimal text."""
    if big is None or not any(b is not None for b in big):
        return lo
    return [int(b) if b is not None else v for v, b in zip(lo, big, strict=True)]


def _tie(d: dict[str, Any] | None) -> list[Any] | None:
    return None if d is None else [d["t"], d["c"], d["o"], d["v"]]


def _collapsed(view: AggregateView, snapshot_us: int, table: pa.Table) -> list[list[list[Any] | None]]:
    """Per output, per entity: the components of its collapsed IR (None: none, see agg_states.py)."""
    raw = view.resolution_us is None
    names = collapsed_columns(view, snapshot_us)
    columns: dict[str, list[Any]] = {}
    for (i, comp, _), name in names.items():
        if comp in ("first", "last"):
            if not raw:
                columns[name] = [_tie(d) for d in table.column(name).to_pylist()]
        elif comp == "s" and is_int_sum(view, i):
            columns[name] = _ints(table.column(f"{name}_lo").to_pylist(), table.column(f"{name}_big").to_pylist())
        else:
            columns[name] = table.column(name).to_pylist()
    out: list[list[list[Any] | None]] = []
    for o, bound in zip(view.outputs, collapsed_bounds(view, snapshot_us), strict=True):
        if bound is False or (raw and o.function in ("first", "last")):
            out.append([None] * table.num_rows)
            continue
        parts = [columns[names[(o.input, comp, bound)]] for comp in FUNCTION_COMPONENTS[o.function]]
        out.append(list(map(list, zip(*parts, strict=True))))
    return out


NUMERIC = (types.Int32, types.Int64, types.Float32, types.Float64)


def _bytes(values: np.ndarray, bounds: list[int]) -> list[bytes]:
    return [values[a:b].tobytes() for a, b in pairwise(bounds)]


def _raw_column(view: AggregateView, i: int, column: pa.ChunkedArray, bounds: list[int]) -> list[list[Any]]:
    """Per entity, the tail entry of input ``i``: ``[kind, values, validity]`` (see agg_state.py)."""
    inp = view.inputs[i]
    dtype = None if inp.column is None else view.column_type(inp.column)
    spans = list(pairwise(bounds))
    valid: list[bytes | None] = [None] * len(spans)
    if column.null_count and (dtype is None or dtype in NUMERIC):
        valid = list(_bytes(column.is_valid().to_numpy(zero_copy_only=False).astype(np.uint8), bounds))
    if dtype is None:  # a count of rows: every value is 1
        return [[ONES, None, v] for v in valid]
    if dtype in NUMERIC:
        kind = FLOAT_VALUES if dtype in (types.Float32, types.Float64) else INT_VALUES
        filled = pc.fill_null(column, 0).to_numpy().astype("<f8" if kind == FLOAT_VALUES else "<i8", copy=False)
        return [[kind, d, v] for d, v in zip(_bytes(filled, bounds), valid, strict=True)]
    values = column.to_pylist()
    return [[LIST_VALUES, values[a:b], None] for a, b in spans]


def _bounds(entities: pa.Table, tail: pa.Table) -> list[int]:
    """Per entity of the page, where its tail rows start (and, last, where the page's end); rows follow ``__fs_e``."""
    first = int(entities.column("__fs_e")[0].as_py())
    owner = tail.column("__fs_e").to_numpy()
    return list(np.searchsorted(owner, np.arange(first, first + entities.num_rows + 1)).tolist())


def _raw_tails(view: AggregateView, n: int, tail: pa.Table, bounds: list[int]
               ) -> tuple[list[Any], list[Any], list[Any]]:
    """Per entity: its tail times (bytes), no tie columns (the order is enough) and per input its entry."""
    times = _bytes(tail.column("__fs_t").to_numpy().astype("<i8", copy=False), bounds)
    per_input = [_raw_column(view, i, tail.column(f"__fs_in{i}"), bounds) for i in range(len(view.inputs))]
    tails = [list(row) for row in zip(*per_input, strict=True)] if per_input else [[] for _ in range(n)]
    return times, [[] for _ in range(n)], tails


def _grouped_tails(view: AggregateView, n: int, tail: pa.Table, bounds: list[int]) -> tuple[list[Any], list[Any]]:
    """Per entity: its tail times and, per input and component, their lists (views with a resolution)."""
    spans = list(pairwise(bounds))
    t = tail.column("__fs_t").to_pylist()
    per_input: list[list[list[Any]]] = []
    for i, names in enumerate(input_components(view)):
        per_comp: list[list[Any]] = []
        for comp in names:
            name = f"__fs_g{i}_{comp}"
            if comp in ("first", "last"):
                col = [_tie(d) for d in tail.column(name).to_pylist()]
            elif comp == "s" and is_int_sum(view, i):
                col = _ints(tail.column(f"{name}_lo").to_pylist(), tail.column(f"{name}_big").to_pylist())
            else:
                col = tail.column(name).to_pylist()
            per_comp.append([col[a:b] for a, b in spans])
        per_input.append(per_comp)
    tails = [[[comp[k] for comp in per_comp] for per_comp in per_input] for k in range(n)]
    return [t[a:b] for a, b in spans], tails


def encode_page(view: AggregateView, snapshot_us: int, entities: pa.Table, tail: pa.Table) -> list[bytes]:
    """The state bytes of each entity of one ``aggregate_states`` page, in the page's order."""
    enabled = gc.isenabled()
    gc.disable()  # millions of short-lived lists: the cyclic collector would rescan them all, again and again
    try:
        n = entities.num_rows
        collapsed = _collapsed(view, snapshot_us, entities)
        newest = entities.column("__fs_newest").to_pylist()
        if view.resolution_us is None:
            times, ties, tails = _raw_tails(view, n, tail, _bounds(entities, tail))
        else:
            times, tails = _grouped_tails(view, n, tail, _bounds(entities, tail))
            ties = [[] for _ in range(n)]
        head = [VERSION, fingerprint(view), snapshot_us, view.serving_horizon_us]
        rows = zip(newest, zip(*collapsed, strict=True), times, ties, tails, strict=True)
        return pack_states(view, [[*head, new, list(c), t, x, tl] for new, c, t, x, tl in rows])
    finally:
        if enabled:
            gc.enable()


def materialize_aggregates(offline: OfflineStore, online: OnlineStore, view: AggregateView, snapshot: datetime,
                           progress: Callable[[str, int, float], None] | None = None) -> tuple[int, int]:
    """Write every entity's state at ``snapshot``; returns (entities read, states stored)."""
    t0 = time.perf_counter()
    spec = spec_of(view)
    snapshot_us = epoch_us(snapshot)
    rows = written = 0
    for entities, tail in offline.aggregate_states(view, snapshot):
        n = entities.num_rows
        if not n:
            continue
        keys = [entities.column(k).to_pylist() for k in view.join_keys]
        states = encode_page(view, snapshot_us, entities, tail)
        found = [pc.max(entities.column("__fs_newest")).as_py(), pc.max(tail.column("__fs_t")).as_py()]
        newest = max((int(x) for x in found if x is not None), default=None)  # for the view's data timestamp
        written += int(online.write_aggregates(spec, list(zip(*keys, strict=True)) if keys else [()] * n,
                                               snapshot_us, states, newest_us=newest))
        rows += n
        if progress:
            progress(view.name, rows, time.perf_counter() - t0)
    return rows, written
