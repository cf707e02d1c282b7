"""Reading an aggregate view online: fold an entity's state and pushed records into the values at ``now``.

The read rule (see agg_state.py for the state): the state is valid iff ``S <= now <= S + H`` (else
``OUTSIDE_MAX_AGE``, values null; so is a state of another view definition). Per output with window ``w``::

    IR = collapsed_w
       ⊕ tail entries with lo_w(now) <= t < now, except those with lo_w(S + H) <= t < S (in collapsed_w)
       ⊕ records with S <= created < now and lo_w(now) <= ts < now

then finalize. An entity without a state has ``S = -inf`` and no horizon: only its records count. Without a
state and without a record seen (created before ``now``), its status is ``NOT_FOUND`` with the values of an
empty window (0 for count, count_distinct and sum; null for the others); else ``PRESENT``. Float sums merge with
``math.fsum``; integer sums are exact and a result outside Int64 is a DataSourceError naming the feature.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

from featurestore import types
from featurestore.definitions.agg_ir import input_components
from featurestore.definitions.aggregate_view import AggregateView
from featurestore.errors import DataSourceError
from featurestore.online.agg_state import (
    INT_VALUES,
    LIST_VALUES,
    ONES,
    decode_record,
    decode_state,
    fingerprint,
    records_fingerprint,
)
from featurestore.online.agg_tail import RawTail

PRESENT = "PRESENT"
NOT_FOUND = "NOT_FOUND"
OUTSIDE_MAX_AGE = "OUTSIDE_MAX_AGE"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_TIE = itemgetter(0, 1, 2)

Folded = tuple[str, tuple[Any, ...], int | None]
"""``(status, values per output, newest event time before now or None)``."""

# a finalizer gets (collapsed IR or None, tail columns of the output's components, slices, record values)
Slices = tuple[int, int, int, int]
Finalizer = Callable[[Sequence[Any] | None, Sequence[Sequence[Any]], Slices, list[Any], list[list[Any]]], Any]


def _parts(col: Sequence[Any], sl: Slices) -> Any:
    a, b, c, d = sl
    return chain(col[a:b], col[c:d])


def _count(c: Sequence[Any] | None, cols: Sequence[Sequence[Any]], sl: Slices, vals: list[Any],
           rows: list[list[Any]]) -> int:
    col = cols[0]
    a, b, c2, d = sl
    return int((c[0] if c else 0) + sum(col[a:b]) + sum(col[c2:d]) + len(vals))


def _int_sum(c: Sequence[Any] | None, cols: Sequence[Sequence[Any]], sl: Slices, vals: list[Any],
             rows: list[list[Any]]) -> int:
    col = cols[0]
    a, b, c2, d = sl
    return int((c[0] if c else 0) + sum(col[a:b]) + sum(col[c2:d]) + sum(vals))


def _float_sum(c: Sequence[Any] | None, cols: Sequence[Sequence[Any]], sl: Slices, vals: list[Any],
               rows: list[list[Any]]) -> float:
    head = (c[0],) if c else ()
    return math.fsum(chain(head, _parts(cols[0], sl), vals))


def _mean(c: Sequence[Any] | None, cols: Sequence[Sequence[Any]], sl: Slices, vals: list[Any],
          rows: list[list[Any]]) -> float | None:
    n = _count((c[0],) if c else None, cols[:1], sl, vals, rows)
    if not n:
        return None
    head = (c[1],) if c else ()
    s_parts = list(chain(head, _parts(cols[1], sl), vals))
    if all(isinstance(s, int) for s in s_parts):
        return float(sum(s_parts) / n)  # exact integer sum, one rounding
    return math.fsum(s_parts) / n


def _stddev(c: Sequence[Any] | None, cols: Sequence[Sequence[Any]], sl: Slices, vals: list[Any],
            rows: list[list[Any]]) -> float | None:
    # groups (n, sum, M2) merged at once: M2 = sum(M2_j) + sum(n_j (mean_j - mean)^2)
    if sl is _NO_SLICES:  # the collapsed IR and single values (a raw tail, records)
        return _stddev_values(c, vals)
    groups: list[tuple[int, Any, float]] = [(c[0], c[1], c[2])] if c and c[0] else []
    ns, ss, ms = cols
    a, b, c2, d = sl
    groups += [g for g in zip(ns[a:b], ss[a:b], ms[a:b], strict=True) if g[0]]
    groups += [g for g in zip(ns[c2:d], ss[c2:d], ms[c2:d], strict=True) if g[0]]
    groups += [(1, v, 0.0) for v in vals]
    n = sum(g[0] for g in groups)
    if n < 2:
        return None
    sums = [g[1] for g in groups]
    mean = (sum(sums) / n) if all(isinstance(s, int) for s in sums) else math.fsum(sums) / n
    m2 = math.fsum(chain((g[2] for g in groups), (g[0] * (g[1] / g[0] - mean) ** 2 for g in groups)))
    return math.sqrt(max(m2, 0.0) / (n - 1))


def _stddev_values(c: Sequence[Any] | None, vals: list[Any]) -> float | None:
    """:func:`_stddev` of a collapsed IR ``(n, sum, M2)`` and single values."""
    k = len(vals)
    n0 = c[0] if c else 0
    n = n0 + k
    if n < 2:
        return None
    ints = isinstance(vals[0], int) if vals else True  # one input's values share a type
    if n0:
        s0 = c[1]  # type: ignore[index]
        mean = ((s0 + sum(vals)) if ints and isinstance(s0, int) else math.fsum((s0, *vals))) / n
        head: tuple[float, ...] = (c[2], n0 * (s0 / n0 - mean) ** 2)  # type: ignore[index]
    else:
        mean = (sum(vals) if ints else math.fsum(vals)) / n
        head = ()
    m2 = math.fsum(chain(head, [(v - mean) ** 2 for v in vals]))
    return math.sqrt(max(m2, 0.0) / (n - 1))


def _extreme(pick: Callable[..., Any]) -> Finalizer:
    def fin(c: Sequence[Any] | None, cols: Sequence[Sequence[Any]], sl: Slices, vals: list[Any],
            rows: list[list[Any]]) -> Any:
        head = (c[0],) if c else ()
        found = [v for v in chain(head, _parts(cols[0], sl), vals) if v is not None]
        return pick(found) if found else None

    return fin


def _distinct(c: Sequence[Any] | None, cols: Sequence[Sequence[Any]], sl: Slices, vals: list[Any],
              rows: list[list[Any]]) -> int:
    seen: set[Any] = set(c[0]) if c and c[0] else set()
    for part in _parts(cols[0], sl):
        if part:
            seen.update(part)
    seen.update(vals)
    return len(seen)


def _tie(pick: Callable[..., Any]) -> Finalizer:
    def fin(c: Sequence[Any] | None, cols: Sequence[Sequence[Any]], sl: Slices, vals: list[Any],
            rows: list[list[Any]]) -> Any:
        found = [x for x in chain((c[0],) if c else (), _parts(cols[0], sl), rows) if x is not None]
        return pick(found, key=_TIE)[3] if found else None

    return fin


_NO_SLICES: Slices = (0, 0, 0, 0)
_NO_COLUMNS: tuple[tuple[Any, ...], ...] = ((), (), ())


def _raw_value(out: _Output, raw: RawTail, collapsed: Any, sl: Slices, i_now: int, picked: list[list[Any]],
               col: int, below: int) -> Any:
    """One output's value over a raw tail (see agg_tail.py), its collapsed IR and the records ``picked``."""
    f = out.function
    i = out.input
    a, b, c, d = sl
    if f == "count":
        return (collapsed[0] if collapsed else 0) + raw.count(i, a, b, c, d) + len(picked)
    if f == "sum":
        return raw.total(i, a, b, c, d, collapsed[0] if collapsed else 0, [r[col] for r in picked])
    if f == "mean":
        n = (collapsed[0] if collapsed else 0) + raw.count(i, a, b, c, d) + len(picked)
        if not n:
            return None
        total = raw.total(i, a, b, c, d, collapsed[1] if collapsed else 0, [r[col] for r in picked])
        return total / n
    if out.ties:  # no collapsed IR: the candidates are in the tail (see agg_state.py)
        ties = raw.extreme(i, a, d, out.first, below) + [[r[1], r[2], r[3], r[col]] for r in picked]
        return out.finalize(None, _NO_COLUMNS, _NO_SLICES, [], ties)
    vals = raw.values(i, a, b, c, d) + [r[col] for r in picked]
    return out.finalize(collapsed, _NO_COLUMNS, _NO_SLICES, vals, [])


_COUNT, _SUM, _MEAN, _TIES, _OTHER = range(5)
_CODES = {"count": _COUNT, "sum": _SUM, "mean": _MEAN, "first": _TIES, "last": _TIES}


def _fast(plan: FoldPlan, state: Any, raw: RawTail, i_snap: int, i_now: int, now_us: int) -> list[Any]:
    """The values of a raw-tail state without records (the common lookup), without a resolution."""
    t = raw.t
    snap = state.snapshot_us
    end = snap + state.horizon_us
    slices = []
    for w in plan.windows:
        if w is None:
            slices.append((0, 0, i_snap, i_now))
            continue
        a = bisect_left(t, now_us - w)
        b = bisect_left(t, end - w)
        b = i_snap if b > i_snap else b
        slices.append((a, b if b > a else a, i_snap if i_snap > a else a, i_now))
    collapsed = state.collapsed
    columns = raw.decoded()
    out: list[Any] = []
    for pos, code, i, wi, o in plan.program:
        a, b, c, d = slices[wi]
        coll = collapsed[pos]
        kind, vals, valid = columns[i]
        if code in (_COUNT, _MEAN) or (code == _SUM and kind == ONES):
            if valid is not None:
                n = valid.count(1, a, b) + valid.count(1, c, d)
            elif kind == LIST_VALUES:
                n = raw.count(i, a, b, c, d)
            else:
                n = b - a + d - c
        if code == _COUNT:
            out.append(coll[0] + n if coll else n)
        elif code in (_SUM, _MEAN):
            head = (coll[0] if code == _SUM else coll[1]) if coll else 0
            if kind == ONES:
                value = head + n
            elif kind == INT_VALUES:
                value = head + sum(vals[a:b]) + sum(vals[c:d])
            else:
                value = raw.total(i, a, b, c, d, head, _EMPTY)
            if code == _MEAN:
                n += coll[0] if coll else 0
                out.append(value / n if n else None)
                continue
            if o.check_range and not INT64_MIN <= value <= INT64_MAX:
                out.append(plan.overflow(o.name, value))
            out.append(value)
        elif code == _TIES:
            out.append(o.finalize(None, _NO_COLUMNS, _NO_SLICES, _EMPTY, raw.extreme(i, a, d, o.first, snap - 1)))
        else:
            out.append(o.finalize(coll, _NO_COLUMNS, _NO_SLICES, raw.values(i, a, b, c, d), _EMPTY))
    return out


_EMPTY: list[Any] = []


class _Output:
    __slots__ = ("check_range", "columns", "finalize", "first", "function", "input", "name", "ties", "window")

    def __init__(self, name: str, function: str, input_index: int, window: int | None, columns: tuple[int, ...],
                 finalize: Finalizer, check_range: bool) -> None:
        self.name = name
        self.function = function
        self.input = input_index
        self.window = window
        self.columns = columns  # positions of its components within its input's tail columns
        self.finalize = finalize
        self.check_range = check_range
        self.ties = function in ("first", "last")
        self.first = function == "first"


def _finalizer(function: str, dtype: types.ValueType) -> Finalizer:
    if function == "count":
        return _count
    if function == "sum":
        return _int_sum if dtype == types.Int64 else _float_sum
    table: dict[str, Finalizer] = {"mean": _mean, "stddev": _stddev, "min": _extreme(min), "max": _extreme(max),
                                   "count_distinct": _distinct, "first": _tie(min), "last": _tie(max)}
    return table[function]


def empty_value(function: str, dtype: types.ValueType) -> Any:
    """The value of an empty window: 0 for count and count_distinct, 0 / 0.0 for sum, else None."""
    if function in ("count", "count_distinct"):
        return 0
    if function == "sum":
        return 0 if dtype == types.Int64 else 0.0
    return None


class FoldPlan:
    """What folding one view's states needs, computed once per view definition."""

    def __init__(self, view: AggregateView) -> None:
        from featurestore.definitions.agg_ir import FUNCTION_COMPONENTS

        self.view = view.name
        self.fingerprint = fingerprint(view)
        self.records_fingerprint = records_fingerprint(view)
        self.resolution = view.resolution_us
        self.raw = self.resolution is None  # the tail holds raw events (see agg_state.py)
        comps = input_components(view)
        self.outputs = tuple(
            _Output(o.name, o.function, o.input, o.window_us,
                    tuple(comps[o.input].index(c) for c in FUNCTION_COMPONENTS[o.function]),
                    _finalizer(o.function, o.dtype), o.function == "sum" and o.dtype == types.Int64)
            for o in view.outputs)
        self.empty = tuple(empty_value(o.function, o.dtype) for o in view.outputs)
        self.nulls: tuple[Any, ...] = (None,) * len(self.outputs)
        windows = list(dict.fromkeys(o.window for o in self.outputs))
        self.windows = tuple(windows)
        self.program = tuple((pos, _CODES.get(o.function, _OTHER), o.input, windows.index(o.window), o)
                             for pos, o in enumerate(self.outputs))
        """Per output: (position, operation code, input, window index, output), for the raw fast path."""

    def overflow(self, feature: str, value: int) -> Any:
        """Raise the DataSourceError of an integer sum outside Int64."""
        raise DataSourceError(f"aggregate view {self.view!r}: feature {feature!r}, a sum of integers, is {value}, "
                              "outside Int64 (declare the column Float64 to sum it as floats)",
                              view=self.view, column=feature)

    def start(self, at: int, window: int) -> int:
        lo = at - window
        r = self.resolution
        return lo if r is None else (lo // r) * r

    def fold(self, state_blob: bytes | None, records: Sequence[tuple[int, bytes]], now_us: int) -> Folded:
        """Status, values and event time of one entity at ``now_us`` (see the module docstring)."""
        state = decode_state(self.view, state_blob) if state_blob is not None else None
        if state is not None:
            snap, horizon = state.snapshot_us, state.horizon_us
            if state.fingerprint != self.fingerprint or not snap <= now_us <= snap + horizon:
                return OUTSIDE_MAX_AGE, self.nulls, None
        elif state_blob is not None:  # an older format
            return OUTSIDE_MAX_AGE, self.nulls, None
        seen = False
        rows: list[list[Any]] = []
        for created, blob in records:
            if created >= now_us or (state is not None and created < snap):
                continue
            row = decode_record(self.view, blob)
            if row[0] != self.records_fingerprint:
                continue
            seen = True
            if row[1] < now_us:
                rows.append(row)
        if state is None and not seen:
            return NOT_FOUND, self.empty, None
        newest = max((r[1] for r in rows), default=None)
        raw = RawTail(state) if state is not None and self.raw else None
        if state is not None:
            t = raw.t if raw is not None else state.t
            i_snap = bisect_left(t, snap)
            i_now = bisect_left(t, now_us)
            if state.newest_us is not None and (newest is None or state.newest_us > newest):
                newest = state.newest_us
            if i_now and (newest is None or t[i_now - 1] > newest):
                newest = t[i_now - 1]
        if raw is not None and not rows and self.resolution is None:
            return PRESENT, tuple(_fast(self, state, raw, i_snap, i_now, now_us)), newest
        values = []
        spans: dict[int | None, tuple[int, int, int, int]] = {}  # per window: the tail slices it reads
        for pos, out in enumerate(self.outputs):
            window = out.window
            lo = None if window is None else self.start(now_us, window)
            col = 4 + out.input
            picked = [r for r in rows if r[col] is not None and (lo is None or r[1] >= lo)] if rows else rows
            if state is None:
                value = out.finalize(None, _NO_COLUMNS, _NO_SLICES, [r[col] for r in picked],
                                     [[r[1], r[2], r[3], r[col]] for r in picked])
            else:
                sl = spans.get(window)
                if sl is None:
                    if lo is None:
                        sl = (0, 0, i_snap, i_now)
                    else:
                        assert window is not None
                        a = bisect_left(t, lo)
                        b = max(a, min(bisect_left(t, self.start(snap + horizon, window)), i_snap))
                        sl = (a, b, max(i_snap, a), i_now)
                    spans[window] = sl
                collapsed = state.collapsed[pos]
                if raw is not None:
                    value = _raw_value(out, raw, collapsed, sl, i_now, picked, col, snap - 1)
                else:
                    tail = state.tail[out.input]
                    value = out.finalize(collapsed, [tail[k] for k in out.columns], sl, [r[col] for r in picked],
                                         [[r[1], r[2], r[3], r[col]] for r in picked])
            if out.check_range and not INT64_MIN <= value <= INT64_MAX:
                self.overflow(out.name, value)
            values.append(value)
        return PRESENT, tuple(values), newest
