"""Folding many entities of one aggregate view at once with numpy (the raw-tail states without pushed records).

The same values as :meth:`FoldPlan.fold <featurestore.online.agg_fold.FoldPlan.fold>` entity by entity: the tails'
binary columns are concatenated (no Python object per event), every window's slices ``[a, b)`` and ``[c, d)`` of
every entity come from one ``searchsorted`` over (entity, time) keys, counts and integer sums from prefix sums
(exact: the batch is refused when an int64 prefix could overflow), float sums from ``np.add.reduceat`` per slice
with a bound of their rounding error (``2 n eps sum|x|``): an entity whose bound is not below ``1e-12`` of the value
(or that holds NaN / infinity) is folded by ``FoldPlan.fold`` instead. Min, max, first, last and count_distinct
(integers) are exact. Entities with records, states of another format or definition, and views with a resolution or
a list-valued input (strings) take ``FoldPlan.fold`` too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from featurestore.online.agg_fold import (
    _COUNT,
    _MEAN,
    _SUM,
    _TIES,
    INT64_MAX,
    INT64_MIN,
    NOT_FOUND,
    OUTSIDE_MAX_AGE,
    PRESENT,
    FoldPlan,
)
from featurestore.online.agg_state import FLOAT_VALUES, INT_VALUES, ONES, DecodedState, decode_state

Batch = tuple[list[str], list[int | None], list[tuple[Any, ...]]]
MIN_BATCH = 4
"""Fewer entities than this are folded one by one (numpy's per-call cost outweighs the gain)."""
_SPAN_BITS = 46  # times relative to the oldest query, clipped to [0, 2**46]: ~814 days
_ENTITY_SHIFT = 47
_CHUNK = 1 << (62 - _ENTITY_SHIFT)  # entities per searchsorted key space
_EPS = 2.0**-53
_TOL = 1e-12


def batchable(plan: FoldPlan) -> bool:
    """Whether ``plan``'s view can take :func:`fold_many` (raw tails and functions it knows)."""
    return plan.raw and plan.resolution is None and all(
        o.function in ("count", "sum", "mean", "min", "max", "stddev", "count_distinct", "first", "last")
        for o in plan.outputs)


def fold_rows(plan: FoldPlan, rows: Sequence[Any], now_us: int) -> Batch:
    """Statuses, event times and values of the entities' store rows (None: no row) at ``now_us``."""
    n = len(rows)
    status: list[str] = [NOT_FOUND] * n
    ts: list[int | None] = [None] * n
    vals: list[tuple[Any, ...]] = [plan.empty] * n
    single: list[int] = []
    picked: list[int] = []
    states: list[DecodedState] = []
    if n >= MIN_BATCH and batchable(plan):
        kinds: tuple[int, ...] | None = None
        for i, row in enumerate(rows):
            if row is None:
                continue
            blob, records = row[1]
            if records or blob is None:
                single.append(i)
                continue
            state = decode_state(plan.view, blob)
            if state is None or state.fingerprint != plan.fingerprint or not (
                    state.snapshot_us <= now_us <= state.snapshot_us + state.horizon_us):
                status[i], vals[i] = OUTSIDE_MAX_AGE, plan.nulls
                continue
            k = tuple(e[0] for e in state.tail)
            if kinds is None:
                kinds = k
            if k != kinds or any(x not in (INT_VALUES, FLOAT_VALUES, ONES) for x in k):
                single.append(i)
                continue
            picked.append(i)
            states.append(state)
        for lo in range(0, len(states), _CHUNK):
            done = _fold_states(plan, states[lo:lo + _CHUNK], now_us)
            for j, got in enumerate(done):
                i = picked[lo + j]
                if got is None:
                    single.append(i)
                else:
                    status[i], vals[i], ts[i] = PRESENT, got[0], got[1]
    else:
        single = [i for i, row in enumerate(rows) if row is not None]
    for i in single:
        blob, records = rows[i][1]
        status[i], vals[i], ts[i] = plan.fold(blob, records, now_us)
    return status, ts, vals


def _column(kind: int, parts: list[bytes]) -> Any:
    if kind == ONES:
        return None
    return np.frombuffer(b"".join(parts), dtype="<i8" if kind == INT_VALUES else "<f8")


def _interleave(sl: tuple[Any, Any, Any, Any]) -> Any:
    """``[a0, b0, c0, d0, a1, ...]``: the indices of :func:`_reduce2`."""
    idx = np.empty((len(sl[0]), 4), dtype=np.int64)
    for j, x in enumerate(sl):
        idx[:, j] = x
    return idx.ravel()


def _reduce2(ufunc: Any, values: Any, sl: tuple[Any, Any, Any, Any], idx: Any, fill: Any) -> tuple[Any, Any]:
    """``ufunc`` over each ``values[a[k]:b[k]]`` and each ``values[c[k]:d[k]]`` (``fill`` where empty); ``idx``:
    :func:`_interleave` of the slices. ``values`` may be 2-D (reduced along axis 0)."""
    a, b, c, d = sl
    pad = np.full((1, *values.shape[1:]), fill, dtype=values.dtype)
    out = ufunc.reduceat(np.concatenate((values, pad)), idx)
    r1, r2 = out[0::4], out[2::4]
    if values.ndim == 1:
        return np.where(b > a, r1, fill), np.where(d > c, r2, fill)
    return np.where((b > a)[:, None], r1, fill), np.where((d > c)[:, None], r2, fill)


def _fold_states(plan: FoldPlan, states: list[DecodedState], now_us: int) -> list[Any]:
    """Per state ``(values, newest)``, or None where ``FoldPlan.fold`` must decide (see the module docstring)."""
    k_n = len(states)
    if not k_n:
        return []
    lengths = np.fromiter((len(s.t) // 8 for s in states), dtype=np.int64, count=k_n)
    starts = np.zeros(k_n + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    total = int(starts[-1])
    t = np.frombuffer(b"".join(s.t for s in states), dtype="<i8")
    snap = np.fromiter((s.snapshot_us for s in states), dtype=np.int64, count=k_n)
    end = snap + np.fromiter((s.horizon_us for s in states), dtype=np.int64, count=k_n)
    windows = [w for w in plan.windows if w is not None]
    base = min(now_us - max(windows) if windows else now_us, int(snap.min())) - 1
    if max(now_us, int(end.max())) - base >= 1 << _SPAN_BITS:  # every query must be inside the clipped span
        return [None] * k_n
    ent = np.repeat(np.arange(k_n, dtype=np.int64), lengths)
    keys = (ent << _ENTITY_SHIFT) + np.clip(t - base, 0, 1 << _SPAN_BITS)
    heads = np.arange(k_n, dtype=np.int64) << _ENTITY_SHIFT

    def search(q: Any) -> Any:
        return np.searchsorted(keys, heads + (q - base))

    i_snap = search(snap)
    i_now = search(np.full(k_n, now_us, dtype=np.int64))
    first = starts[:-1]
    slices = []
    for w in plan.windows:
        if w is None:
            slices.append((first, first, i_snap, i_now))
            continue
        a = search(np.full(k_n, now_us - w, dtype=np.int64))
        b = np.minimum(search(end - w), i_snap)
        slices.append((a, np.maximum(b, a), np.maximum(i_snap, a), i_now))
    ok = np.ones(k_n, dtype=bool)
    columns: dict[int, tuple[int, Any, Any]] = {}

    def column(i: int) -> tuple[int, Any, Any]:
        found = columns.get(i)
        if found is None:
            kind = states[0].tail[i][0]
            values = _column(kind, [s.tail[i][1] for s in states])
            valid_parts = [s.tail[i][2] for s in states]
            if all(v is None for v in valid_parts):
                valid = None
                cv = np.arange(total + 1, dtype=np.int64)
            else:
                valid = np.frombuffer(b"".join(v if v is not None else b"\x01" * int(m)
                                               for v, m in zip(valid_parts, lengths.tolist(), strict=True)),
                                      dtype=np.uint8)
                cv = np.zeros(total + 1, dtype=np.int64)
                np.cumsum(valid, out=cv[1:])
            found = columns[i] = (kind, values, (valid, cv))
        return found

    prefix: dict[int, Any] = {}

    def int_prefix(i: int, values: Any) -> Any:
        p = prefix.get(i)
        if p is None:
            big = max(abs(int(values.max())), abs(int(values.min()))) if total else 0
            if big * (total + 1) >= 1 << 62:
                p = prefix[i] = False
            else:
                p = prefix[i] = np.zeros(total + 1, dtype=np.int64)
                np.cumsum(values, out=p[1:])
        return p

    finite: dict[int, Any] = {}

    def nonfinite(i: int, values: Any) -> None:
        if i not in finite:  # entities holding NaN or infinity anywhere in their tail: folded one by one
            bad = np.zeros(total + 1, dtype=np.int64)
            np.cumsum(~np.isfinite(values), out=bad[1:])
            finite[i] = (bad[starts[1:]] - bad[starts[:-1]]) == 0
            np.logical_and(ok, finite[i], out=ok)

    def float_sums(values: Any, a: Any, b: Any, c: Any, d: Any, weights: Any) -> tuple[Any, Any, Any]:
        v = values if weights is None else values * weights
        r1, r2 = _reduce2(np.add, np.column_stack((v, np.abs(v))), (a, b, c, d), index(a, b, c, d), 0.0)
        err = 2 * _EPS * ((b - a) * r1[:, 1] + (d - c) * r2[:, 1])
        return r1[:, 0], r2[:, 0], err

    indices: dict[int, Any] = {}

    def index(a: Any, b: Any, c: Any, d: Any) -> Any:
        found = indices.get(id(a))
        if found is None or found[0] is not a:
            found = indices[id(a)] = (a, _interleave((a, b, c, d)))
        return found[1]

    collapsed = [s.collapsed for s in states]
    counted: dict[tuple[int, int], list[int]] = {}
    out_cols: list[list[Any]] = []
    for pos, code, i, wi, o in plan.program:
        a, b, c, d = slices[wi]
        heads_ir = [coll[pos] for coll in collapsed]
        kind, values, (valid, cv) = column(i)
        n = counted.get((i, wi))
        if n is None:
            n = counted[(i, wi)] = (cv[b] - cv[a] + cv[d] - cv[c]).tolist()
        f = o.function
        if code == _COUNT:
            out_cols.append([h[0] + x if h else x for h, x in zip(heads_ir, n, strict=True)])
        elif code in (_SUM, _MEAN):
            at = 0 if code == _SUM else 1
            if kind == ONES:
                sums: list[Any] = [(h[at] if h else 0) + x for h, x in zip(heads_ir, n, strict=True)]
            elif kind == INT_VALUES:
                p = int_prefix(i, values)
                if p is False:
                    return [None] * k_n
                tail = (p[b] - p[a] + p[d] - p[c]).tolist()
                sums = [(h[at] if h else 0) + x for h, x in zip(heads_ir, tail, strict=True)]
            else:
                nonfinite(i, values)
                s1, s2, err = float_sums(values, a, b, c, d, None)
                head = np.array([h[at] if h else 0.0 for h in heads_ir], dtype=np.float64)
                both = head + s1 + s2  # two more roundings: in the bound
                err = err + 2 * _EPS * (np.abs(head) + np.abs(s1) + np.abs(s2))
                np.logical_and(ok, err <= _TOL * np.abs(both), out=ok)  # NaN: False
                sums = both.tolist()
            if code == _SUM:
                if o.check_range:
                    for value in sums:
                        if not INT64_MIN <= value <= INT64_MAX:
                            return [None] * k_n  # FoldPlan.fold raises the error
                out_cols.append(sums)
            else:
                counts = [(h[0] if h else 0) + x for h, x in zip(heads_ir, n, strict=True)]
                out_cols.append([s / m if m else None for s, m in zip(sums, counts, strict=True)])
        elif code == _TIES:
            if valid is None:
                idx = (a if o.first else d - 1).tolist()
                have = (d > a).tolist()
            else:
                have = (cv[d] > cv[a]).tolist()
                idx = ((np.searchsorted(cv, cv[a] + 1) if o.first else np.searchsorted(cv, cv[d])) - 1).tolist()
            if kind == ONES:
                out_cols.append([1 if h else None for h in have])
            else:
                got = values[np.clip(idx, 0, max(total - 1, 0))].tolist() if total else [None] * k_n
                out_cols.append([g if h else None for g, h in zip(got, have, strict=True)])
        elif f in ("min", "max"):
            if kind == ONES:
                out_cols.append(_extremes(f, heads_ir, [1 if x else None for x in n], [None] * k_n))
                continue
            if kind == FLOAT_VALUES:
                nonfinite(i, values)
            ufunc = np.minimum if f == "min" else np.maximum
            fill = (np.inf if f == "min" else -np.inf) if kind == FLOAT_VALUES else (
                INT64_MAX if f == "min" else INT64_MIN)
            v = values if valid is None else np.where(valid.astype(bool), values, values.dtype.type(fill))
            r1, r2 = _reduce2(ufunc, v, (a, b, c, d), index(a, b, c, d), fill)
            pick = min if f == "min" else max
            col = []
            for h, x, m in zip(heads_ir, ufunc(r1, r2).tolist(), n, strict=True):
                hv = h[0] if h else None
                col.append((pick(hv, x) if m else hv) if hv is not None else x if m else None)
            out_cols.append(col)
        elif f == "stddev":
            sd = _stddev(i, kind, values, valid, cv, heads_ir, (a, b, c, d), n, lengths, ok, int_prefix, nonfinite,
                         float_sums, index(a, b, c, d))
            if sd is None:
                return [None] * k_n
            out_cols.append(sd)
        else:  # count_distinct
            if kind != INT_VALUES:
                out_cols.append(_distinct_python(kind, values, valid, heads_ir, (a, b, c, d)))
            else:
                out_cols.append(_distinct(values, valid, heads_ir, (a, b, c, d), total, ent))
    newest_t = t[np.maximum(i_now - 1, 0)].tolist() if total else [0] * k_n
    has_t = (i_now > first).tolist()
    result: list[Any] = []
    good = ok.tolist()
    for k, (row, s) in enumerate(zip(zip(*out_cols, strict=True), states, strict=True)):
        if not good[k]:
            result.append(None)
            continue
        newest = s.newest_us
        if has_t[k] and (newest is None or newest_t[k] > newest):
            newest = newest_t[k]
        result.append((row, newest))
    return result


def _extremes(f: str, heads: list[Any], m1: list[Any], m2: list[Any]) -> list[Any]:
    pick = min if f == "min" else max
    out = []
    for h, x1, x2 in zip(heads, m1, m2, strict=True):
        found = [x for x in ((h[0],) if h else ()) + (x1, x2) if x is not None]
        out.append(pick(found) if found else None)
    return out


def _stddev(i: int, kind: int, values: Any, valid: Any, cv: Any, heads: list[Any], sl: tuple[Any, Any, Any, Any],
            n: list[int], lengths: Any, ok: Any, int_prefix: Any, nonfinite: Any, float_sums: Any,
            idx: Any) -> list[Any] | None:
    """Chan's merge of the collapsed ``(n, sum, M2)`` and the slices' values (see ``agg_fold._stddev_values``)."""
    a, b, c, d = sl
    if kind == ONES:
        values = np.ones(len(cv) - 1, dtype=np.int64)
        kind = INT_VALUES
    if kind == INT_VALUES:
        p = int_prefix(i, values)
        if p is False:
            return None
        tails: list[Any] = (p[b] - p[a] + p[d] - p[c]).tolist()
    else:
        nonfinite(i, values)
        s1, s2, err = float_sums(values, a, b, c, d, None)
        tails = [math.fsum((x1, x2)) for x1, x2 in zip(s1.tolist(), s2.tolist(), strict=True)]
        for k, (e, x) in enumerate(zip(err.tolist(), tails, strict=True)):
            h = heads[k]
            if not e <= _TOL * abs(math.fsum((h[1], x)) if h else x):
                ok[k] = False
    means: list[float] = []
    for h, x, m in zip(heads, tails, n, strict=True):
        n0 = h[0] if h else 0
        total = n0 + m
        if total < 2:
            means.append(0.0)
            continue
        if kind == INT_VALUES and (not n0 or isinstance(h[1], int)):
            means.append(((h[1] if n0 else 0) + x) / total)
        else:
            means.append((math.fsum((h[1], x)) if n0 else x) / total)
    mean_el = np.repeat(np.asarray(means, dtype=np.float64), lengths)
    dev = (values - mean_el) ** 2
    if valid is not None:
        dev = np.where(valid.astype(bool), dev, 0.0)
    q1, q2 = _reduce2(np.add, dev, sl, idx, 0.0)
    q = (q1 + q2).tolist()
    out: list[Any] = []
    for h, m, mean, qk in zip(heads, n, means, q, strict=True):
        n0 = h[0] if h else 0
        total = n0 + m
        if total < 2:
            out.append(None)
            continue
        parts = (h[2], n0 * (h[1] / n0 - mean) ** 2, qk) if n0 else (qk,)
        out.append(math.sqrt(max(math.fsum(parts), 0.0) / (total - 1)))
    return out


def _in_slices(total: int, sl: tuple[Any, Any, Any, Any]) -> Any:
    a, b, c, d = sl
    marks = np.zeros(total + 1, dtype=np.int64)
    np.add.at(marks, a, 1)
    np.add.at(marks, b, -1)
    np.add.at(marks, c, 1)
    np.add.at(marks, d, -1)
    return np.cumsum(marks[:-1]) > 0


def _distinct(values: Any, valid: Any, heads: list[Any], sl: tuple[Any, Any, Any, Any], total: int,
              owner: Any) -> list[int]:
    """How many distinct integers per entity (``owner``: the entity of each tail position): the collapsed set and
    the slices' values, one Python set per entity (the collapsed sets are Python lists already)."""
    k_n = len(heads)
    mask = _in_slices(total, sl)
    if valid is not None:
        mask &= valid.astype(bool)
    picked = values[mask].tolist()
    ends = np.cumsum(np.bincount(owner[mask], minlength=k_n)).tolist()
    out = []
    lo = 0
    for h, hi in zip(heads, ends, strict=True):
        if h and h[0]:
            seen = set(h[0])
            seen.update(picked[lo:hi])
            out.append(len(seen))
        else:
            out.append(len(set(picked[lo:hi])))
        lo = hi
    return out


def _distinct_python(kind: int, values: Any, valid: Any, heads: list[Any], sl: tuple[Any, Any, Any, Any]) -> list[int]:
    a, b, c, d = (x.tolist() for x in sl)
    out = []
    for k, h in enumerate(heads):
        seen: set[Any] = set(h[0]) if h and h[0] else set()
        for lo, hi in ((a[k], b[k]), (c[k], d[k])):
            if hi > lo:
                if kind == ONES:
                    seen.add(1)  # pragma: no cover - count_distinct takes a column
                    continue
                part = values[lo:hi]
                if valid is not None:
                    part = part[valid[lo:hi].astype(bool)]
                seen.update(part.tolist())
        out.append(len(seen))
    return out
