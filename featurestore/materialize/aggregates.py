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

import pyarrow as pa

from featurestore.definitions.agg_ir import FUNCTION_COMPONENTS, input_components, is_int_sum
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


def _ties(batch: pa.RecordBatch, name: str) -> list[list[list[Any] | None] | None]:
    """Per entity, the tail's (ts, created, ordinal, value) entries of a first/last component."""
    cols = [batch.column(f"{name}_{f}").to_pylist() for f in "tcov"]
    out: list[list[list[Any] | None] | None] = []
    for ts, cr, od, vs in zip(*cols, strict=True):
        if ts is None:
            out.append(None)
            continue
        out.append([None if t is None else [t, c, o, v] for t, c, o, v in zip(ts, cr, od, vs, strict=True)])
    return out


def _collapsed(batch: pa.RecordBatch, o: int, function: str, int_sum: bool) -> list[list[Any]]:
    """Per entity, the components of output ``o``'s collapsed IR."""
    parts = []
    for comp in FUNCTION_COMPONENTS[function]:
        name = f"__fs_c{o}_{comp}"
        if comp == "s" and int_sum:
            lo = batch.column(f"{name}_lo").to_pylist()
            big = batch.column(f"{name}_big").to_pylist()
            parts.append([int(b) if b is not None else v for v, b in zip(lo, big, strict=True)])
        elif comp in ("first", "last"):
            parts.append([None if d is None else [d["t"], d["c"], d["o"], d["v"]]
                          for d in batch.column(name).to_pylist()])
        else:
            parts.append(batch.column(name).to_pylist())
    return [list(p) for p in zip(*parts, strict=True)]


def encode_states(view: AggregateView, snapshot_us: int, batch: pa.RecordBatch) -> list[bytes]:
    """The state bytes of each entity (row) of one ``aggregate_states`` batch."""
    n = batch.num_rows
    horizon = view.serving_horizon_us
    collapsed: list[list[list[Any] | None]] = []
    for o, out in enumerate(view.outputs):
        if out.window_us is not None and view.window_start(snapshot_us + horizon, out.window_us) >= snapshot_us:
            collapsed.append([None] * n)  # nothing stays in this window for the whole horizon
        else:
            collapsed.append(list(_collapsed(batch, o, out.function, is_int_sum(view, out.input))))
    t_col = [t or [] for t in batch.column("__fs_t").to_pylist()]
    tails: list[list[list[Any]]] = []  # per input, per component: per entity the list
    for i, names in enumerate(input_components(view)):
        per_comp: list[list[Any]] = []
        for comp in names:
            name = f"__fs_g{i}_{comp}"
            if comp in ("first", "last"):
                per_comp.append(_ties(batch, name))
            elif comp == "s" and is_int_sum(view, i):
                lo = batch.column(f"{name}_lo").to_pylist()
                big = batch.column(f"{name}_big").to_pylist()
                per_comp.append([_ints(a or [], b) for a, b in zip(lo, big, strict=True)])
            else:
                per_comp.append(batch.column(name).to_pylist())
        tails.append(per_comp)
    newest = batch.column("__fs_newest").to_pylist()
    fp = fingerprint(view)
    pack = packer()
    out_states = []
    for row in range(n):
        tail = [[(comp[row] or []) for comp in per_comp] for per_comp in tails]
        out_states.append(encode_state(view, fp, snapshot_us, newest[row], [c[row] for c in collapsed],
                                       t_col[row], tail, pack))
    return out_states


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
