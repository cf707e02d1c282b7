"""Materialize an aggregate view: per entity, its online state at a snapshot ``S``, streamed batch by batch.

The offline store computes the parts of each entity's state (``OfflineStore.aggregate_states``: collapsed IRs,
tail entries, newest event time, over the events created before ``S``); this module encodes them
(``featurestore/online/agg_state.py``) and writes them with ``OnlineStore.write_aggregates``, which keeps a newer
state and drops the pushed records created before ``S`` (the offline read has them). ``S`` is the earlier of the
run's end and now (:func:`snapshot_of`): a state never claims rows not yet pushed. Every run reads the whole
history: the start of a materialize range does not apply to aggregate views.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from featurestore.definitions.agg_ir import (
    FUNCTION_COMPONENTS,
    collapsed_bounds,
    collapsed_columns,
    input_components,
    is_int_sum,
    uses_ties,
)
from featurestore.definitions.aggregate_view import AggregateView
from featurestore.offline.protocol import OfflineStore
from featurestore.online.agg_state import encode_state, fingerprint, packer
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


def _collapsed(view: AggregateView, snapshot_us: int, batch: pa.RecordBatch) -> list[list[list[Any] | None]]:
    """Per output, per entity: the components of its collapsed IR (None: an empty range)."""
    columns: dict[str, list[Any]] = {}
    for (i, comp, _), name in collapsed_columns(view, snapshot_us).items():
        if comp == "s" and is_int_sum(view, i):
            columns[name] = _ints(batch.column(f"{name}_lo").to_pylist(), batch.column(f"{name}_big").to_pylist())
        elif comp in ("first", "last"):
            columns[name] = [_tie(d) for d in batch.column(name).to_pylist()]
        else:
            columns[name] = batch.column(name).to_pylist()
    names = collapsed_columns(view, snapshot_us)
    out: list[list[list[Any] | None]] = []
    for o, bound in zip(view.outputs, collapsed_bounds(view, snapshot_us), strict=True):
        if bound is False:
            out.append([None] * batch.num_rows)
            continue
        parts = [columns[names[(o.input, comp, bound)]] for comp in FUNCTION_COMPONENTS[o.function]]  # type: ignore[index]
        out.append([list(p) for p in zip(*parts, strict=True)])
    return out


def _raw_tails(view: AggregateView, batch: pa.RecordBatch) -> tuple[list[list[int]], list[list[Any]],
                                                                   list[list[list[Any]]]]:
    """Per entity: the tail's times (sorted by time, created, ordinal), its [created, ordinal] lists (first/last
    only) and per input its values, from the unordered ``__fs_tail`` lists."""
    col = batch.column("__fs_tail")
    n = batch.num_rows
    lengths = pc.fill_null(pc.list_value_length(col), 0).to_numpy()
    starts = np.concatenate([[0], np.cumsum(lengths)])
    flat = col.flatten()
    owner = np.repeat(np.arange(n), lengths)
    t = flat.field("t").to_numpy()
    ties = uses_ties(view)
    if ties:
        c, o = flat.field("c").to_numpy(), flat.field("o").to_numpy()
        order = np.lexsort((o, c, t, owner))
    else:
        order = np.lexsort((t, owner))
    take = pa.array(order)
    t_list = t[order].tolist()
    extra = [c[order].tolist(), o[order].tolist()] if ties else []
    inputs = [flat.field(f"i{i}").take(take).to_pylist() for i in range(len(view.inputs))]
    bounds = starts.tolist()
    times = [t_list[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    extras = [[e[a:b] for e in extra] for a, b in zip(bounds, bounds[1:], strict=False)]
    values = [[v[a:b] for v in inputs] for a, b in zip(bounds, bounds[1:], strict=False)]
    return times, extras, values


def _grouped_tails(view: AggregateView, batch: pa.RecordBatch) -> tuple[list[list[int]], list[list[list[Any]]]]:
    """Per entity: the tail entries' times and, per input and component, their lists (views with a resolution)."""
    n = batch.num_rows
    times = [t or [] for t in batch.column("__fs_t").to_pylist()]
    per_input: list[list[list[Any]]] = []
    for i, names in enumerate(input_components(view)):
        per_comp: list[list[Any]] = []
        for comp in names:
            name = f"__fs_g{i}_{comp}"
            if comp in ("first", "last"):
                per_comp.append([[_tie(d) for d in lst] if lst else [] for lst in batch.column(name).to_pylist()])
            elif comp == "s" and is_int_sum(view, i):
                lo = batch.column(f"{name}_lo").to_pylist()
                big = batch.column(f"{name}_big").to_pylist()
                per_comp.append([_ints(a or [], b) for a, b in zip(lo, big, strict=True)])
            else:
                per_comp.append([lst or [] for lst in batch.column(name).to_pylist()])
        per_input.append(per_comp)
    return times, [[[comp[row] for comp in per_comp] for per_comp in per_input] for row in range(n)]


def encode_states(view: AggregateView, snapshot_us: int, batch: pa.RecordBatch) -> list[bytes]:
    """The state bytes of each entity (row) of one ``aggregate_states`` batch."""
    n = batch.num_rows
    collapsed = _collapsed(view, snapshot_us, batch)
    newest = batch.column("__fs_newest").to_pylist()
    if view.resolution_us is None:
        times, extras, tails = _raw_tails(view, batch)
    else:
        times, tails = _grouped_tails(view, batch)
        extras = [[] for _ in range(n)]
    fp = fingerprint(view)
    pack = packer()
    return [encode_state(view, fp, snapshot_us, newest[row], [c[row] for c in collapsed], times[row], extras[row],
                         tails[row], pack) for row in range(n)]


def materialize_aggregates(offline: OfflineStore, online: OnlineStore, view: AggregateView, snapshot: datetime,
                           progress: Callable[[str, int, float], None] | None = None) -> tuple[int, int]:
    """Write every entity's state at ``snapshot``; returns (entities read, states stored)."""
    t0 = time.perf_counter()
    spec = spec_of(view)
    snapshot_us = epoch_us(snapshot)
    rows = written = 0
    for batch in offline.aggregate_states(view, snapshot):
        if not batch.num_rows:
            continue
        keys = [batch.column(k).to_pylist() for k in view.join_keys]
        states = encode_states(view, snapshot_us, batch)
        written += int(online.write_aggregates(
            spec, list(zip(*keys, strict=True)) if keys else [()] * batch.num_rows, snapshot_us, states))
        rows += batch.num_rows
        if progress:
            progress(view.name, rows, time.perf_counter() - t0)
    return rows, written
