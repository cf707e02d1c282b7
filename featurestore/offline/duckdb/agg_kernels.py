"""Aggregates over ranges of sorted events, vectorized with numpy: the windows of aggregate views.

The events of one input (its counting values, in the order (keys, event time, created time, rank, ordinal))
form an array ``v`` of length ``m``; a window is a range ``[a, b)`` of it (events of one key are contiguous,
so a range never spans two keys). Every query is answered for all windows at once, in time linear in ``m``
plus ``log m`` per window, whatever the skew of the keys:

* ``count``: ``b - a``;
* ``sum`` of integers: exact prefix sums of two 32-bit limbs (an overflow of Int64 is reported, never wrapped);
* ``sum`` / ``mean`` of floats: a prefix sum with its rounding errors carried exactly (TwoSum, error-free) in
  a second prefix sum, so a window's sum keeps ~1e-16 relative accuracy even when its key's history is 1e9
  times larger (a plain prefix difference would cancel: design notes section 5); numpy's cumulative sum is
  sequential, so results are identical run to run;
* ``min``, ``max``, ``stddev``: a segment tree (``stddev``: count, mean and M2 merged with Chan's formula);
* ``first``, ``last``: the ends of the range (the event order is the tie rule; agg_windows.py);
* ``count_distinct``: ``#{j in [a, b): prev(j) < a}`` (``prev``: the previous event with the same value), a
  dominance count over a merge-sort tree of ``prev``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Int = np.ndarray[Any, np.dtype[np.int64]]
Float = np.ndarray[Any, np.dtype[np.float64]]
INT64_MAX = 2**63 - 1


class Input:
    """The counting events of one input: ``values`` (no nulls) and where they are among all events."""

    def __init__(self, column: pa.Array) -> None:
        m = len(column)
        self.before: Int = np.empty(m + 1, np.int64)
        """``before[p]``: counting events among the first ``p`` events."""
        self.before[0] = 0
        if column.null_count:
            valid = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
            np.cumsum(valid, out=self.before[1:])
            self.values: pa.Array = column.filter(pa.array(valid))
        else:
            self.before[1:] = np.arange(1, m + 1, dtype=np.int64)
            self.values = column
        self._cache: dict[str, Any] = {}

    def ranges(self, lo: Int, hi: Int) -> tuple[Int, Int]:
        """Event ranges ``[lo, hi)`` as ranges of :attr:`values`."""
        return self.before[lo], self.before[hi]

    def cached(self, name: str, build: Callable[[], Any]) -> Any:
        if name not in self._cache:
            self._cache[name] = build()
        return self._cache[name]

    def floats(self) -> Float:
        out: Float = self.cached("floats", lambda: np.asarray(self.values.to_numpy(zero_copy_only=False), np.float64))
        return out

    def ranks(self) -> Int:
        """Dense ranks of the values (equal values, equal ranks), from 0."""
        out: Int = self.cached("ranks", lambda: np.asarray(pc.rank(self.values, sort_keys="ascending",
                                                                   tiebreaker="dense").to_numpy(), np.int64) - 1)
        return out


def float_sums(inp: Input, a: Int, b: Int) -> Float:
    """Sums of the float values in ``[a, b)`` (0.0 when empty), ~1e-16 relative (see the module docstring)."""

    def build() -> tuple[Float, Float]:
        x = inp.floats()
        s = np.zeros(len(x) + 1)
        np.cumsum(x, out=s[1:])
        prev, cur = s[:-1], s[1:]
        bb = cur - prev
        err = (prev - (cur - bb)) + (x - bb)  # TwoSum: prev + x == cur + err exactly
        e = np.zeros(len(x) + 1)
        np.cumsum(err, out=e[1:])
        return s, e

    s, e = inp.cached("prefix", build)
    hi, lo = s[b], s[a]
    d = hi - lo
    bb = d - hi
    de = (hi - (d - bb)) + (-lo - bb)  # TwoSum: hi - lo == d + de exactly
    out: Float = d + (de + (e[b] - e[a]))
    return out


def int_limbs(inp: Input, a: Int, b: Int) -> tuple[Int, Int]:
    """The sums of the integer values in ``[a, b)`` as two exact limbs ``(high, low)``: ``high * 2**32 + low``."""

    def build() -> tuple[Int, Int]:
        x = np.asarray(inp.values.to_numpy(zero_copy_only=False), np.int64)
        high, low = x >> 32, x & 0xFFFFFFFF  # x == high * 2**32 + low, |high| < 2**31, 0 <= low < 2**32
        return (np.concatenate([[0], np.cumsum(high)]).astype(np.int64),
                np.concatenate([[0], np.cumsum(low)]).astype(np.int64))

    ph, pl = inp.cached("limbs", build)
    return ph[b] - ph[a], pl[b] - pl[a]


def int_totals(high: Int, low: Int) -> tuple[Int, list[tuple[int, int]]]:
    """``high * 2**32 + low`` exactly, and the (index, value) of those outside Int64."""
    near = np.flatnonzero(np.abs(high.astype(np.float64) * 2.0**32 + low.astype(np.float64)) > 2.0**62)
    out = np.zeros(len(high), np.int64)
    safe = np.ones(len(high), bool)
    safe[near] = False
    out[safe] = high[safe] * 2**32 + low[safe]
    bad = []
    for i in near.tolist():
        total = int(high[i]) * 2**32 + int(low[i])
        if abs(total) > INT64_MAX or total == -(2**63):
            bad.append((i, total))
        else:
            out[i] = total
    return out, bad


Node = tuple[np.ndarray, ...]


def _levels(leaves: Node, combine: Callable[[Node, Node], Node], identity: Node) -> list[Node]:
    levels = [leaves]
    while len(levels[-1][0]) > 1:
        cur = levels[-1]
        if len(cur[0]) % 2:
            cur = tuple(np.concatenate([c, i]) for c, i in zip(cur, identity, strict=True))
        levels.append(combine(tuple(c[0::2] for c in cur), tuple(c[1::2] for c in cur)))
    return levels


def tree_query(levels: list[Node], combine: Callable[[Node, Node], Node], identity: Node, a: Int, b: Int) -> Node:
    """Combine of each range ``[a, b)`` over a segment tree's ``levels`` (left to right)."""
    q = len(a)
    left = tuple(np.repeat(i, q) for i in identity)
    right = tuple(np.repeat(i, q) for i in identity)
    a, b = a.copy(), b.copy()
    for level in levels:
        todo = a < b
        if not todo.any():
            break
        take = np.flatnonzero(todo & (a & 1 == 1))
        if len(take):
            node = tuple(c[a[take]] for c in level)
            merged = combine(tuple(x[take] for x in left), node)
            left = tuple(_put(x, take, m) for x, m in zip(left, merged, strict=True))
            a[take] += 1
        take = np.flatnonzero(todo & (b & 1 == 1))
        if len(take):
            b[take] -= 1
            node = tuple(c[b[take]] for c in level)
            merged = combine(node, tuple(x[take] for x in right))
            right = tuple(_put(x, take, m) for x, m in zip(right, merged, strict=True))
        a >>= 1
        b >>= 1
    return combine(left, right)


def _put(x: np.ndarray, at: Int, values: np.ndarray) -> np.ndarray:
    x[at] = values
    return x


def extremes(inp: Input, a: Int, b: Int, largest: bool) -> np.ndarray:
    """min (or max) of each range: the value for numbers (:func:`is_numeric`), else its rank (see
    :func:`from_ranks`); an empty range gives the identity (+-inf, the extreme integer, -1 for ranks)."""
    x = _comparable(inp)
    fill = _identity(x, largest)
    op = np.maximum if largest else np.minimum

    def combine(p: Node, q: Node) -> Node:
        return (op(p[0], q[0]),)

    identity = (np.array([fill], dtype=x.dtype),)
    levels = inp.cached(f"tree-{largest}", lambda: _levels((x,), combine, identity))
    (found,) = tree_query(levels, combine, identity, a, b)
    return found


def is_numeric(inp: Input) -> bool:
    t = inp.values.type
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t))


def _comparable(inp: Input) -> np.ndarray:
    """The values as numpy numbers that order like them: floats, integers, else dense ranks."""
    t = inp.values.type
    if not is_numeric(inp):
        return inp.ranks()
    x = np.asarray(inp.values.to_numpy(zero_copy_only=False))
    return x.astype(np.float64) if pa.types.is_floating(t) else x.astype(np.int64)


def _identity(x: np.ndarray, largest: bool) -> Any:
    if x.dtype == np.float64:
        return -np.inf if largest else np.inf
    return np.iinfo(np.int64).min if largest else np.iinfo(np.int64).max


def extremes_array(inp: Input, found: np.ndarray, empty: np.ndarray) -> pa.Array:
    """:func:`extremes` results as values of the input's type, null where ``empty``."""
    if is_numeric(inp):
        return pa.array(np.where(empty, 0, found), mask=empty).cast(inp.values.type)
    ranks = inp.ranks()
    first_of_rank = np.zeros(int(ranks.max(initial=-1)) + 1, np.int64)
    first_of_rank[ranks] = np.arange(len(ranks))
    index = first_of_rank[np.where(empty, 0, found)] if len(ranks) else np.zeros(len(found), np.int64)
    return inp.values.take(pa.array(index, mask=empty))


def _chan(p: Node, q: Node) -> Node:
    """(count, mean, M2) of two parts merged (Chan et al.)."""
    n1, m1, s1 = p
    n2, m2, s2 = q
    n = n1 + n2
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = m2 - m1
        share = np.where(n > 0, n2 / np.where(n > 0, n, 1), 0.0)
        mean = np.where(n1 == 0, m2, np.where(n2 == 0, m1, m1 + delta * share))
        m2_ = np.where(n1 == 0, s2, np.where(n2 == 0, s1, s1 + s2 + delta * delta * n1 * share))
    return n, mean, m2_


def moments(inp: Input, a: Int, b: Int) -> Node:
    """(count, mean, M2) of each range (a segment tree merging with Chan's formula: no cancellation)."""
    x = inp.floats()
    identity = (np.array([0.0]), np.array([0.0]), np.array([0.0]))
    levels = inp.cached("chan", lambda: _levels((np.ones(len(x)), x, np.zeros(len(x))), _chan, identity))
    return tree_query(levels, _chan, identity, a, b)


def merge_moments(p: Node, q: Node) -> Node:
    return _chan(p, q)


def stddev_array(n: np.ndarray, m2: np.ndarray) -> pa.Array:
    """Sample standard deviations from counts and M2 (null below two values)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.sqrt(np.maximum(m2, 0.0) / (n - 1))
    return pa.array(out, mask=n < 2)


def distinct_counts(inp: Input, a: Int, b: Int) -> Int:
    """Distinct values in each range: ``#{j < b: prev(j) < a} - a`` over a merge-sort tree of ``prev``."""

    def build() -> list[Int]:
        ranks = inp.ranks()
        m = len(ranks)
        order = np.argsort(ranks, kind="stable")
        prev = np.full(m, -1, np.int64)
        same = ranks[order[1:]] == ranks[order[:-1]]
        prev[order[1:][same]] = order[:-1][same]
        # level L: prev + 1 (in [0, m]) sorted within blocks of 2**L, block t offset by t * (m + 1) so the
        # whole level is sorted; each level merges the sorted halves of the one below (timsort: two runs)
        idx = np.arange(m, dtype=np.int64)
        levels = [prev + 1 + idx * (m + 1)]
        level = 1
        while (1 << (level - 1)) < m:
            shift = ((idx >> (level - 1)) - (idx >> level)) * (m + 1)
            levels.append(np.sort(levels[-1] - shift, kind="stable"))
            level += 1
        return levels

    levels = inp.cached("distinct", build)
    m = len(inp.values)
    total = np.zeros(len(a), np.int64)
    for level, arr in enumerate(levels):
        has = np.flatnonzero((b >> level) & 1 == 1)
        if not len(has):
            continue
        block = (b[has] >> level) - 1
        start = block << level
        found = np.searchsorted(arr, a[has] + 1 + block * (m + 1), side="left") - start
        total[has] += found
    out: Int = total - a
    return out


def vanished(inp: Input, points: int, hole_point: Int, hole: Int, a: Int, b: Int) -> Int:
    """Per point, the distinct values of its range ``[a, b)`` that occur only at its holes (``hole_point``,
    ``hole``: the point and value index of each hole, inside the point's range)."""
    ranks = inp.ranks()
    m = len(ranks)
    v = ranks[hole]
    order = np.lexsort((v, hole_point))
    hp, v = hole_point[order], v[order]
    new = np.ones(len(hp), bool)
    new[1:] = (hp[1:] != hp[:-1]) | (v[1:] != v[:-1])
    start = np.flatnonzero(new)
    held = np.diff(np.append(start, len(hp)))  # holes per (point, value)
    gp, gv = hp[start], v[start]
    occurrences = inp.cached("occurrences", lambda: np.sort(ranks * (m + 1) + np.arange(m, dtype=np.int64)))
    inside = (np.searchsorted(occurrences, gv * (m + 1) + b[gp]) - np.searchsorted(occurrences, gv * (m + 1) + a[gp]))
    gone = inside == held
    out: Int = np.bincount(gp[gone], minlength=points).astype(np.int64)
    return out
