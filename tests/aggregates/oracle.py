"""Brute-force reference of aggregate views in plain Python: the rules, one event at a time.

Every path (training sets, materialize + lookups, pushes) is tested against :func:`oracle` on randomized data.
Times are integer epoch microseconds; windows and resolutions too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

INT64_MAX = 2**63 - 1

Event = dict[str, Any]
"""``key`` (tuple of join-key values), ``ts``, ``created`` (µs), ``ord`` (tie ordinal: rank * 2**62 + row order),
and source columns."""


def ok(v: Any) -> bool:
    """Whether a value counts: not null, not NaN."""
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def window_start(at: int, window: int | None, resolution: int | None) -> float:
    """``at - w`` (minus infinity for a lifetime aggregate), floored to a multiple of ``resolution``."""
    if window is None:
        return -math.inf
    lo = at - window
    return (lo // resolution) * resolution if resolution else lo


def oracle(events: Sequence[Event], spine: Sequence[tuple[tuple[Any, ...], int]], function: str,
           column: str | None = None, window: int | None = None,
           where: Callable[[Event], bool | None] | None = None, resolution: int | None = None,
           as_of_created: bool = False) -> list[Any]:
    """One aggregation; one value per spine row ``(key, T)``, in spine order.

    ``where``: the Python twin of the SQL predicate, returning True, False or None (None = excluded).
    Raises OverflowError when a sum of integers leaves Int64.
    """
    out: list[Any] = []
    for key, at in spine:
        lo = window_start(at, window, resolution)
        rows = [e for e in events
                if e["key"] == key and lo <= e["ts"] < at
                and (not as_of_created or e["created"] < at)
                and (where is None or where(e) is True)]
        out.append(finalize(function, rows, column))
    return out


def finalize(function: str, rows: Sequence[Event], column: str | None) -> Any:
    """The value of ``function`` over the events that count (before the null/NaN rule)."""
    if column is None:  # count() without a column counts rows
        return len(rows)
    kept = [e for e in rows if ok(e[column])]
    vals = [e[column] for e in kept]
    n = len(vals)
    if function == "count":
        return n
    if function == "sum":
        if all(isinstance(v, int) for v in vals):
            r = sum(vals)
            if abs(r) > INT64_MAX:
                raise OverflowError("sum of integers overflows Int64")
            return r
        return math.fsum(vals)  # exactly rounded
    if function == "count_distinct":
        return len(set(vals))
    if function == "mean":
        return math.fsum(vals) / n if n else None
    if function in ("min", "max"):
        return (min if function == "min" else max)(vals) if n else None
    if function == "stddev":  # sample (n - 1); null below 2 values
        if n < 2:
            return None
        m = math.fsum(vals) / n
        return math.sqrt(math.fsum((v - m) ** 2 for v in vals) / (n - 1))
    if function in ("last", "first"):
        ordered = sorted(kept, key=lambda e: (e["ts"], e["created"], e["ord"]))
        return (ordered[-1] if function == "last" else ordered[0])[column] if ordered else None
    raise ValueError(f"unknown function {function!r}")


def same(a: Any, b: Any) -> bool:
    """Equal, floats within 1e-9 relative (1e-12 absolute); integers and the rest exactly."""
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b) and type(a) is type(b) if a is None or b is None else bool(a == b)
