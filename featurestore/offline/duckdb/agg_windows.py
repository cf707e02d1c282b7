"""An aggregate view's windows per spine point, computed with numpy over its events sorted per key and time.

The spine points are the distinct (join keys, T) of the entity rows, numbered by key (``__fs_id``, a dense
rank of the keys). The events of those keys come from DuckDB (``agg_inputs.py``: one value per input, null when
the event does not count), are sorted by (key id, event time, created time, rank * 2**62 + ordinal) — the
tie rule of plain views, so ``first``/``last`` are the ends of a range — and every window of a spine point is
a range of that order: from the first event at or after the window start to the last event before ``T``, both
found by binary search. agg_kernels.py answers each function over those ranges.

With ``as_of_created`` the events of a range created at or after ``T`` are holes: the window is the range
minus its holes, as parts (:class:`Parts`) whose results are merged per spine point (:func:`holes`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from featurestore import types
from featurestore.definitions.aggregate_view import AggOutput, AggregateView
from featurestore.errors import DataSourceError
from featurestore.offline.duckdb import agg_kernels as kernels
from featurestore.offline.duckdb.agg_inputs import input_name

Int = np.ndarray[Any, np.dtype[np.int64]]
Node = tuple[np.ndarray, ...]
Wanted = list[tuple[AggOutput, str, str]]
"""Per requested output: the output, its feature name, its output column name."""


def windows_table(con: duckdb.DuckDBPyConnection, view: AggregateView, wanted: Wanted, keys: list[str],
                  spine: str, events: str, index: int, timed: bool = False) -> pa.Table:
    """Per spine point (``spine``: SQL of the distinct ``__fs_k*`` keys and ``__fs_t``): the keys, ``__fs_t`` and
    each output's value ``__fs_v{j}`` (empty windows null, except counts; the part's SQL fills in the rest).
    ``events``: SQL of the view's events with keys ``__fs_k*``, ``__fs_ev``, ``__fs_cr``, ``__fs_ro`` (rank *
    2**62 + ordinal) and the inputs. ``timed``: events also need ``created < T`` (see :func:`holes`)."""
    ids = f"dense_rank() OVER (ORDER BY {', '.join(keys)}) - 1" if keys else "0"
    points = con.sql(f"SELECT *, ({ids})::BIGINT AS __fs_id FROM ({spine}) ORDER BY __fs_id, __fs_t").to_arrow_table()
    at, point_ids = _ints(points.column("__fs_t")), _ints(points.column("__fs_id"))
    windows = [w for w in dict.fromkeys(o.window_us for o, _, _ in wanted) if w is not None]
    bounds = [at] + [window_start(view, at, w) for w in windows]
    ins = "".join(f", x.{input_name(i)}" for i in sorted({o.input for o, _, _ in wanted}))
    known = f"__fs_aggk{index}"
    con.register(known, points)
    try:
        join = (f"JOIN (SELECT DISTINCT {', '.join(keys)}, __fs_id FROM {known}) k USING ({', '.join(keys)})"
                if keys else "CROSS JOIN (SELECT 0::BIGINT AS __fs_id) k")
        rows = con.sql(f"SELECT k.__fs_id, x.__fs_ev, x.__fs_cr, x.__fs_ro{ins} FROM ({events}) x {join}"
                       ).to_arrow_table()
    finally:
        con.unregister(known)
    ev_ids, ev, created = _ints(rows.column("__fs_id")), _ints(rows.column("__fs_ev")), _ints(rows.column("__fs_cr"))
    pack = Packing(ev, bounds, created, int(point_ids.max(initial=0)) + 1)
    packed = ev_ids * pack.stride + pack.ev
    order = event_order(packed, created, _ints(rows.column("__fs_ro")))
    packed = packed[order]
    take = pa.array(order)
    # per bound: the events before it in its key; last: the key's first event (lifetime windows start there)
    found = [np.searchsorted(packed, point_ids * pack.stride + b, side="left") for b in pack.bounds]
    first = np.searchsorted(packed, point_ids * pack.stride, side="left")
    starts: dict[int | None, Int] = {None: first, **{w: found[1 + n] for n, w in enumerate(windows)}}
    late = None
    if timed:
        late = holes(packed, pack.ev[order], pack.created[order], point_ids * pack.stride + pack.bounds[0])
    inputs: dict[int, kernels.Input] = {}
    cache: dict[tuple[int, int | None], Parts] = {}
    out = {k: points.column(k) for k in [*keys, "__fs_t"]}
    for j, (o, feature, _) in enumerate(wanted):
        if o.input not in inputs:
            inputs[o.input] = kernels.Input(rows.column(input_name(o.input)).combine_chunks().take(take))
        inp = inputs[o.input]
        if (o.input, o.window_us) not in cache:
            cache[(o.input, o.window_us)] = Parts.of(inp, starts[o.window_us], found[0], late)
        out[f"__fs_v{j}"] = output(view, o, feature, inp, cache[(o.input, o.window_us)])
    return pa.table(out)


def _ints(column: pa.ChunkedArray) -> Int:
    out: Int = np.asarray(column.to_numpy(), np.int64)
    return out


def window_start(view: AggregateView, at: Int, window_us: int) -> Int:
    """:meth:`AggregateView.window_start` of each time in ``at`` (numpy's ``//`` floors, like Python's)."""
    lo = at - window_us
    r = view.resolution_us
    out: Int = lo if r is None else (lo // r) * r
    return out


class Packing:
    """(key id, time) packed in one BIGINT that sorts like the pair: ``id * stride + time'``, where ``time'`` is
    ``time - min`` when that fits for every key id, else the dense rank of the time among all times given.

    Attributes: ``ev``, ``bounds``, ``created`` (``time'`` of each array given; created times beyond the latest
    event or bound time are clipped to it, which keeps their order against those) and ``stride``.
    """

    def __init__(self, ev: Int, bounds: list[Int], created: Int, keys: int) -> None:
        every = [x for x in (ev, *bounds) if len(x)]
        low = min((int(x.min()) for x in every), default=0)
        high = max((int(x.max()) for x in every), default=0)
        self.stride = high - low + 2
        if self.stride * (keys + 1) < 2**62:
            self.ev, self.bounds = ev - low, [b - low for b in bounds]
            self.created: Int = np.minimum(np.maximum(created, low), high) - low
            return
        arrays = [ev, *bounds, created]
        flat = np.concatenate(arrays)
        order = np.argsort(flat, kind="stable")
        ordered = flat[order]
        new = np.ones(len(flat), np.int64)
        new[1:] = ordered[1:] != ordered[:-1]
        ranks = np.empty(len(flat), np.int64)
        ranks[order] = np.cumsum(new) - 1
        self.stride = int(ranks.max(initial=0)) + 2
        parts = np.split(ranks, np.cumsum([len(x) for x in arrays])[:-1])
        self.ev, self.bounds, self.created = parts[0], parts[1:-1], parts[-1]


def event_order(packed: Int, created: Int, ro: Int) -> Int:
    """The permutation sorting events by (packed key id and time, created time, rank * 2**62 + ordinal)."""
    order: Int = np.argsort(packed)  # ties are re-sorted below: the order is total (ordinals are unique)
    ordered = packed[order]
    tie = ordered[1:] == ordered[:-1]
    if tie.any():  # re-sort the events tied on (key, time) by the rest of the tie rule
        mark = np.zeros(len(order), bool)
        mark[1:] |= tie
        mark[:-1] |= tie
        at = np.flatnonzero(mark)
        sub = order[at]
        order[at] = sub[np.lexsort((ro[sub], created[sub], packed[sub]))]
    return order


def holes(packed: Int, ev: Int, created: Int, points: Int) -> tuple[Int, Int]:
    """With ``as_of_created``: the (spine point, event index) pairs where the event is dated before the point's T
    but created at or after it, sorted. ``packed``: the events' packed (key, time), ascending; ``ev``, ``created``:
    their packed times (:class:`Packing`); ``points``: the spine points' packed (key, T), ascending.

    Only events created after their event time can be such a hole, and only for the points of their key with T
    in (event time, created time]: the cost grows with those pairs (none when rows arrive before the next
    entity row's time), never with the key's history.
    """
    late = np.flatnonzero(created > ev)
    key = packed[late] - ev[late]  # key id * stride
    lo = np.searchsorted(points, packed[late], side="right")  # T > event time
    hi = np.searchsorted(points, key + created[late], side="right")  # T <= created time
    counts = np.maximum(hi - lo, 0)
    total = int(counts.sum())
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    point = np.repeat(lo, counts) + (np.arange(total, dtype=np.int64) - offsets)
    event = np.repeat(late, counts)
    order = np.lexsort((event, point))
    return point[order].astype(np.int64), event[order].astype(np.int64)


class Parts:
    """One input's window per spine point as ranges of its counting events: ``[a, b)``, minus the holes of
    ``as_of_created`` (then each point has several parts, the first at ``group[point]``)."""

    def __init__(self, a: Int, b: Int, group: Int | None, whole: tuple[Int, Int],
                 holes: tuple[Int, Int] | None) -> None:
        self.a, self.b, self.group, self.whole, self.holes = a, b, group, whole, holes

    @classmethod
    def of(cls, inp: kernels.Input, start: Int, end: Int, late: tuple[Int, Int] | None) -> Parts:
        """``start``, ``end``: per point, its window as a range of all events; ``late``: see :func:`holes`."""
        a, b = inp.ranges(start, end)
        if late is None:
            return cls(a, b, None, (a, b), None)
        point, event = late
        keep = (event >= start[point]) & (inp.before[event + 1] > inp.before[event])  # in the window, counting
        hp, hc = point[keep], inp.before[event[keep]]
        if not len(hp):
            return cls(a, b, None, (a, b), None)
        q = len(a)
        every = np.arange(q, dtype=np.int64)
        # parts of a point with holes h1 < h2 < ...: [a, h1), [h1 + 1, h2), ..., [hk + 1, b)
        sp = np.concatenate([every, hp])
        lo = np.concatenate([a, hc + 1])[np.lexsort((np.concatenate([np.full(q, -1), hc]), sp))]
        hi = np.concatenate([hc, b])[np.lexsort((np.concatenate([hc, np.full(q, 2**62)]), np.concatenate([hp, every])))]
        owner = np.sort(sp)
        return cls(lo, hi, np.searchsorted(owner, every), (a, b), (hp, hc))

    def reduce(self, values: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
        """Per point, ``ufunc`` over its parts' ``values``."""
        return values if self.group is None else ufunc.reduceat(values, self.group)

    def merge(self, values: tuple[np.ndarray, ...], combine: Callable[[Node, Node], Node]) -> tuple[np.ndarray, ...]:
        """Per point, its parts' ``values`` combined left to right (points with one part as they are)."""
        if self.group is None:
            return values
        acc = tuple(v[self.group] for v in values)
        sizes = np.diff(np.append(self.group, len(values[0])))
        for step in range(1, int(sizes.max(initial=1))):
            more = np.flatnonzero(sizes > step)
            merged = combine(tuple(x[more] for x in acc), tuple(v[self.group[more] + step] for v in values))
            for x, m in zip(acc, merged, strict=True):
                x[more] = m
        return acc


def _fsums(parts: Parts, sums: np.ndarray) -> np.ndarray:
    """Per point, the exactly rounded sum of its parts' sums."""
    if parts.group is None:
        return sums
    out = np.add.reduceat(sums, parts.group)
    sizes = np.diff(np.append(parts.group, len(sums)))
    for point in np.flatnonzero(sizes > 1).tolist():
        g = int(parts.group[point])
        out[point] = math.fsum(sums[g:g + int(sizes[point])].tolist())
    return out


def output(view: AggregateView, o: AggOutput, feature: str, inp: kernels.Input, parts: Parts) -> pa.Array:
    """One output's values per spine point (empty windows null, except counts)."""
    f, a, b = o.function, parts.a, parts.b
    count = parts.reduce(np.maximum(b - a, 0), np.add)
    empty = count == 0
    if f == "count":
        return pa.array(count, pa.int64())
    if f == "count_distinct":
        wa, wb = parts.whole
        distinct = kernels.distinct_counts(inp, wa, wb)
        if parts.holes is not None:
            distinct = distinct - kernels.vanished(inp, len(wa), parts.holes[0], parts.holes[1], wa, wb)
        return pa.array(distinct, pa.int64())
    if f == "sum" and o.dtype == types.Int64:
        high, low = kernels.int_limbs(inp, a, b)
        sums, bad = kernels.int_totals(parts.reduce(high, np.add), parts.reduce(low, np.add))
        if bad:
            raise DataSourceError(f"aggregate view {view.name!r}: feature {feature!r}, a sum of integers, is "
                                  f"{bad[0][1]}, outside Int64 (declare the column Float64 to sum it as floats)",
                                  view=view.name, column=feature)
        return pa.array(sums, pa.int64())
    if f in ("sum", "mean"):
        sums = inp.cached(f"sum-{id(parts)}", lambda: _fsums(parts, kernels.float_sums(inp, a, b)))
        if f == "sum":
            return pa.array(sums, pa.float64())
        with np.errstate(invalid="ignore", divide="ignore"):
            return pa.array(sums / np.where(empty, 1, count), pa.float64(), mask=empty)
    if f in ("min", "max"):
        found = kernels.extremes(inp, a, b, largest=f == "max")
        return kernels.extremes_array(inp, parts.reduce(found, np.maximum if f == "max" else np.minimum), empty)
    if f == "stddev":
        n, _, m2 = parts.merge(kernels.moments(inp, a, b), kernels.merge_moments)
        return kernels.stddev_array(n, m2)
    if f in ("first", "last"):
        some = a < b
        if f == "last":
            index = parts.reduce(np.where(some, b - 1, -1), np.maximum)
        else:
            index = parts.reduce(np.where(some, a, np.iinfo(np.int64).max), np.minimum)
        return inp.values.take(pa.array(np.where(empty, 0, index), mask=empty))
    raise ValueError(f"unknown function {f!r}")
