"""A raw tail (an aggregate state's events without a resolution, see agg_state.py), read with C-level calls.

Each input column is decoded on first use into an ``array`` (int64 / float64; 0 where the event does not count)
or a list, with its validity bytes; counts are ``bytes.count``, sums ``sum`` / ``math.fsum`` over array slices,
so a fold touches few Python objects.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Sequence
from itertools import chain, compress
from typing import Any

from featurestore.online.agg_state import FLOAT_VALUES, INT_VALUES, LIST_VALUES, ONES, DecodedState

_SWAP = sys.byteorder != "little"  # the arrays are stored little-endian


def int64s(data: bytes) -> array[int]:
    """A little-endian int64 array's values."""
    out = array("q", data)
    if _SWAP:
        out.byteswap()
    return out


def _float64s(data: bytes) -> array[float]:
    out = array("d", data)
    if _SWAP:
        out.byteswap()
    return out


class RawTail:
    """A raw tail's times (``t``) and input columns, decoded on first use."""

    __slots__ = ("columns", "entries", "t")

    def __init__(self, state: DecodedState) -> None:
        self.t = int64s(state.t)
        self.entries = state.tail
        self.columns: dict[int, tuple[int, Sequence[Any], bytes | None]] = {}

    def column(self, i: int) -> tuple[int, Sequence[Any], bytes | None]:
        """Input ``i``'s kind, values and validity."""
        found = self.columns.get(i)
        if found is None:
            kind, data, valid = self.entries[i]
            values: Sequence[Any] = (int64s(data) if kind == INT_VALUES else _float64s(data)
                                     if kind == FLOAT_VALUES else data if kind == LIST_VALUES else ())
            found = self.columns[i] = (kind, values, valid)
        return found

    def decoded(self) -> list[tuple[int, Sequence[Any], bytes | None]]:
        """Every input column (see :meth:`column`)."""
        return [self.column(i) for i in range(len(self.entries))]

    def count(self, i: int, a: int, b: int, c: int, d: int) -> int:
        """How many events count in slices [a, b) and [c, d)."""
        kind, values, valid = self.column(i)
        if valid is not None:
            return valid.count(1, a, b) + valid.count(1, c, d)
        if kind == LIST_VALUES:
            return sum(v is not None for v in chain(values[a:b], values[c:d]))
        return (b - a) + (d - c)

    def total(self, i: int, a: int, b: int, c: int, d: int, head: Any, extra: list[Any]) -> Any:
        """``head`` plus the sum of the values in the slices plus ``extra``: exact for integers, fsum for floats."""
        kind, values, _ = self.column(i)
        if kind == ONES:
            return head + self.count(i, a, b, c, d) + sum(extra)
        if kind == INT_VALUES:  # 0 where an event does not count
            return head + sum(values[a:b]) + sum(values[c:d]) + sum(extra)
        return math.fsum(chain((head,), values[a:b], values[c:d], extra))

    def values(self, i: int, a: int, b: int, c: int, d: int) -> list[Any]:
        """The values that count in slices [a, b) and [c, d)."""
        kind, values, valid = self.column(i)
        if kind == ONES:
            return [1] * self.count(i, a, b, c, d)
        if valid is not None:
            return [*compress(values[a:b], valid[a:b]), *compress(values[c:d], valid[c:d])]
        if kind == LIST_VALUES:
            return [v for v in chain(values[a:b], values[c:d]) if v is not None]
        return [*values[a:b], *values[c:d]]

    def extreme(self, i: int, a: int, d: int, first: bool, below: int) -> list[list[Any]]:
        """The first (or last) counted event of [a, d) as ``[(ts, below, 0, value)]`` (empty: none): the tail is
        in tie-key order, and a batch event's key ranks below every pushed record's at the same time (its created
        time is ``< S``; ``below`` is ``S - 1``)."""
        kind, values, valid = self.column(i)
        for k in (range(a, d) if first else range(d - 1, a - 1, -1)):
            if valid[k] if valid is not None else kind != LIST_VALUES or values[k] is not None:
                return [[self.t[k], below, 0, 1 if kind == ONES else values[k]]]
        return []
