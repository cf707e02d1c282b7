"""An aggregate view's windows per spine point, computed with numpy over its events sorted per key and time.

The spine points are the distinct (join keys, T) of the entity rows, numbered by key (``__fs_id``, a dense
rank of the keys). The events of those keys come from DuckDB (``agg_inputs.py``: one value per input, null when
the event does not count), are sorted by (key id, event time, created time, rank * 2**62 + ordinal) — the
tie rule of plain views, so ``first``/``last`` are the ends of a range — and every window of a spine point is
a range of that order: from the first event at or after the window start to the last event before ``T``, both
found by binary search. agg_kernels.py answers each function over those ranges.
"""

from __future__ import annotations

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
Wanted = list[tuple[AggOutput, str, str]]
"""Per requested output: the output, its feature name, its output column name."""


def windows_table(con: duckdb.DuckDBPyConnection, view: AggregateView, wanted: Wanted, keys: list[str],
                  spine: str, events: str, index: int, timed: bool = False) -> pa.Table:
    """Per spine point (``spine``: SQL of the distinct ``__fs_k*`` keys and ``__fs_t``): the keys, ``__fs_t`` and
    each output's value ``__fs_v{j}`` (empty windows null, except counts; the part's SQL fills in the rest).
    ``events``: SQL of the view's events with keys ``__fs_k*``, ``__fs_ev``, ``__fs_cr``, ``__fs_ro`` (rank *
    2**62 + ordinal) and the inputs. ``timed``: events also need ``created < T`` (see :func:`_timed_rows`)."""
    ids = f"dense_rank() OVER (ORDER BY {', '.join(keys)}) - 1" if keys else "0"
    points = con.sql(f"SELECT *, ({ids})::BIGINT AS __fs_id FROM ({spine}) ORDER BY __fs_id, __fs_t").to_arrow_table()
    at = _ints(points.column("__fs_t"))
    windows = [w for w in dict.fromkeys(o.window_us for o, _, _ in wanted) if w is not None]
    bounds = [at] + [window_start(view, at, w) for w in windows]
    used = sorted({o.input for o, _, _ in wanted})
    ins = "".join(f", x.{input_name(i)}" for i in used)
    known = f"__fs_aggk{index}"
    if timed:  # every spine point its own group of events: its id is its position
        point_ids = np.arange(len(at), dtype=np.int64)
        points = points.set_column(points.schema.get_field_index("__fs_id"), "__fs_id", pa.array(point_ids))
    else:
        point_ids = _ints(points.column("__fs_id"))
    con.register(known, points)
    try:
        if timed:
            rows = _timed_rows(con, view, wanted, keys, events, known, ins)
        else:
            join = (f"JOIN (SELECT DISTINCT {', '.join(keys)}, __fs_id FROM {known}) k USING ({', '.join(keys)})"
                    if keys else "CROSS JOIN (SELECT 0::BIGINT AS __fs_id) k")
            rows = con.sql(f"SELECT k.__fs_id, x.__fs_ev, x.__fs_cr, x.__fs_ro{ins} FROM ({events}) x {join}"
                           ).to_arrow_table()
    finally:
        con.unregister(known)
    ev_ids, ev = _ints(rows.column("__fs_id")), _ints(rows.column("__fs_ev"))
    pack = Packing(ev, bounds)
    packed = ev_ids * pack.stride + pack.rank(ev)
    order = event_order(packed, _ints(rows.column("__fs_cr")), _ints(rows.column("__fs_ro")))
    packed = packed[order]
    take = pa.array(order)
    # per bound: the events before it in its group; last: the group's first event (lifetime windows start there)
    found = [np.searchsorted(packed, point_ids * pack.stride + pack.rank(b), side="left") for b in bounds]
    first = np.searchsorted(packed, point_ids * pack.stride, side="left")
    starts: dict[int | None, Int] = {None: first, **{w: found[1 + n] for n, w in enumerate(windows)}}
    inputs: dict[int, kernels.Input] = {}
    ranges: dict[tuple[int, int | None], tuple[Int, Int]] = {}
    out = {k: points.column(k) for k in [*keys, "__fs_t"]}
    for j, (o, feature, _) in enumerate(wanted):
        if o.input not in inputs:
            inputs[o.input] = kernels.Input(rows.column(input_name(o.input)).combine_chunks().take(take))
        inp = inputs[o.input]
        if (o.input, o.window_us) not in ranges:
            ranges[(o.input, o.window_us)] = inp.ranges(starts[o.window_us], found[0])
        a, b = ranges[(o.input, o.window_us)]
        out[f"__fs_v{j}"] = output(view, o, feature, inp, a, b)
    return pa.table(out)


def _floor(x: str, r: int) -> str:
    """SQL: ``x`` rounded down to a multiple of ``r`` (DuckDB's ``//`` truncates toward zero)."""
    return f"(({x}) - ((({x}) % {r}) + {r}) % {r})"


def window_start_sql(view: AggregateView, at: str, window_us: int) -> str:
    """SQL of :meth:`AggregateView.window_start` for a BIGINT expression ``at``."""
    lo = f"({at} - {window_us})"
    r = view.resolution_us
    return lo if r is None else _floor(lo, r)


def _timed_rows(con: duckdb.DuckDBPyConnection, view: AggregateView, wanted: Wanted, keys: list[str], events: str,
                known: str, ins: str) -> pa.Table:
    """With ``as_of_created``: per spine point (``__fs_id``), the events of its key with event and created time
    before its T, and event time in its widest window.

    A range of the sorted events cannot filter ``created < T`` per spine point, so events are joined to spine
    points: on the keys and a time bucket as wide as the widest window (plus ``resolution``) when every window is
    finite, so a spine point reads at most three buckets, in proportion to its window, not to its key's history;
    with a lifetime aggregate, on the keys alone (quadratic on busy keys: the cost of ``as_of_created`` with
    lifetime aggregates).
    """
    on = [f"x.{k} = u.{k}" for k in keys] + ["x.__fs_ev < u.__fs_t", "x.__fs_cr < u.__fs_t"]
    finite = [o.window_us for o, _, _ in wanted if o.window_us is not None]
    spine, source = known, f"({events})"
    if len(finite) == len(wanted):
        widest = max(finite)
        size = widest + (view.resolution_us or 1)  # a window spans at most widest + resolution - 1 µs
        lo = window_start_sql(view, "__fs_t", widest)
        spine = (f"(SELECT *, unnest(range({_floor(lo, size)} // {size}, {_floor('__fs_t - 1', size)} // {size} + 1))"
                 f" AS __fs_b FROM {known})")
        source = f"(SELECT *, {_floor('__fs_ev', size)} // {size} AS __fs_b FROM ({events}))"
        on += ["x.__fs_b = u.__fs_b", f"x.__fs_ev >= {window_start_sql(view, 'u.__fs_t', widest)}"]
    return con.sql(f"SELECT u.__fs_id, x.__fs_ev, x.__fs_cr, x.__fs_ro{ins} FROM {spine} u JOIN {source} x "
                   f"ON {' AND '.join(on)}").to_arrow_table()


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
    """(key id, time) packed in one BIGINT that sorts like the pair: ``id * stride + rank(time)``; ``rank(t)`` is
    ``t - min`` when that fits, else the rank of ``t`` among every time (events and bounds)."""

    def __init__(self, ev: Int, bounds: list[Int]) -> None:
        every = [x for x in (ev, *bounds) if len(x)]
        self.low = min((int(x.min()) for x in every), default=0)
        high = max((int(x.max()) for x in every), default=0)
        self.stride = high - self.low + 2
        self.times: Int | None = None
        if self.stride * (max(len(ev), max((len(b) for b in bounds), default=0)) + 1) >= 2**62:
            self.times = np.unique(np.concatenate(every)) if every else np.zeros(0, np.int64)
            self.stride = len(self.times) + 1

    def rank(self, t: Int) -> Int:
        if self.times is None:
            out: Int = t - self.low
            return out
        found: Int = np.searchsorted(self.times, t).astype(np.int64)
        return found


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


def output(view: AggregateView, o: AggOutput, feature: str, inp: kernels.Input, a: Int, b: Int) -> pa.Array:
    """One output's raw values per spine point (empty windows null, except counts)."""
    f = o.function
    empty = a >= b
    if f == "count":
        return pa.array(b - a, pa.int64())
    if f == "count_distinct":
        return pa.array(kernels.distinct_counts(inp, a, b), pa.int64())
    if f == "sum" and o.dtype == types.Int64:
        sums, bad = kernels.int_sums(inp, a, b)
        if bad:
            raise DataSourceError(f"aggregate view {view.name!r}: feature {feature!r}, a sum of integers, is "
                                  f"{bad[0][1]}, outside Int64 (declare the column Float64 to sum it as floats)",
                                  view=view.name, column=feature)
        return pa.array(sums, pa.int64())
    if f == "sum":
        return pa.array(inp.cached(f"sum-{id(a)}", lambda: kernels.float_sums(inp, a, b)), pa.float64())
    if f == "mean":
        sums = inp.cached(f"sum-{id(a)}", lambda: kernels.float_sums(inp, a, b))
        with np.errstate(invalid="ignore", divide="ignore"):
            means = sums / np.where(empty, 1, b - a)
        return pa.array(means, pa.float64(), mask=empty)
    if f in ("min", "max"):
        return kernels.extremes(inp, a, b, largest=f == "max")
    if f == "stddev":
        return kernels.stddevs(inp, a, b)
    if f in ("first", "last"):
        return kernels.ends(inp, a, b, last=f == "last")
    raise ValueError(f"unknown function {f!r}")
