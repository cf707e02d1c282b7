"""The partial aggregates (IR components) of aggregate views: what materialize computes and the online state keeps.

An IR of one function over some events is a tuple of COMPONENTS (see :data:`FUNCTION_COMPONENTS`):

- ``n``: how many values count (int); ``s``: their sum (int, exact, for integer columns; float otherwise);
- ``m2``: the sum of squared deviations from their mean (float; stddev merges with Chan's formula);
- ``min``, ``max``: the least / greatest value (None: no value);
- ``set``: the distinct values (a list);
- ``first``, ``last``: the value with the least / greatest tie key ``(event us, created us, ordinal)``, as
  ``(ts, created, ordinal, value)`` (None: no value).

Offline (the materialize query) and online (the state and its fold) derive the components they need from
the view with :func:`input_components`, so both sides agree on one list.
"""

from __future__ import annotations

from featurestore import types
from featurestore.definitions.aggregate_view import AggregateView

COMPONENTS = ("n", "s", "m2", "min", "max", "set", "first", "last")
"""Every component, in their canonical order."""

FUNCTION_COMPONENTS: dict[str, tuple[str, ...]] = {
    "count": ("n",),
    "sum": ("s",),
    "mean": ("n", "s"),
    "stddev": ("n", "s", "m2"),
    "min": ("min",),
    "max": ("max",),
    "count_distinct": ("set",),
    "first": ("first",),
    "last": ("last",),
}
"""The components of each function's IR, in canonical order."""


def input_components(view: AggregateView) -> tuple[tuple[str, ...], ...]:
    """Per input of the view, the components its functions need (canonical order).

    >>> from featurestore import Aggregation, Entity, ParquetSource
    >>> from featurestore.types import Float64
    >>> from featurestore.definitions.field import Field
    >>> v = AggregateView(name="v", entities=[Entity(name="e", join_keys=["k"])], source=ParquetSource(path="x"),
    ...                   aggregations=[Aggregation(function="count", windows=["1h"]),
    ...                                 Aggregation(column="a", function="mean", windows=["1d"]),
    ...                                 Aggregation(column="a", function="max")],
    ...                   schema=[Field(name="a", dtype=Float64)])
    >>> input_components(v)
    (('n',), ('n', 's', 'max'))
    """
    needs: list[set[str]] = [set() for _ in view.inputs]
    for out in view.outputs:
        needs[out.input].update(FUNCTION_COMPONENTS[out.function])
    return tuple(tuple(c for c in COMPONENTS if c in need) for need in needs)


def is_int_sum(view: AggregateView, input_index: int) -> bool:
    """Whether sums of input ``input_index`` are integers (exact; the input of a count of rows too)."""
    column = view.inputs[input_index].column
    return column is None or view.column_type(column) in (types.Int32, types.Int64)


Bound = int | None
"""The start of a collapsed range ``[start, S)`` (None: lifetime, everything before S)."""


def collapsed_bounds(view: AggregateView, snapshot_us: int) -> tuple[Bound | bool, ...]:
    """Per output, the start of its collapsed range at snapshot ``S``: ``lo_w(S + H)`` (None for a lifetime
    output), or False when the range is empty (``lo_w(S + H) >= S``: no event stays in the window all along)."""
    out: list[Bound | bool] = []
    for o in view.outputs:
        if o.window_us is None:
            out.append(None)
            continue
        lo = view.window_start(snapshot_us + view.serving_horizon_us, o.window_us)
        out.append(lo if lo < snapshot_us else False)
    return tuple(out)


def collapsed_columns(view: AggregateView, snapshot_us: int) -> dict[tuple[int, str, Bound], str]:
    """The distinct collapsed aggregates the outputs need: (input, component, range start) -> column name
    (outputs sharing an input, a component and a range share one column)."""
    names: dict[tuple[int, str, Bound], str] = {}
    for o, bound in zip(view.outputs, collapsed_bounds(view, snapshot_us), strict=True):
        if bound is False:
            continue
        for comp in FUNCTION_COMPONENTS[o.function]:
            key = (o.input, comp, None if bound is None or bound is True else int(bound))
            names.setdefault(key, f"__fs_c{len(names)}")
    return names


def uses_ties(view: AggregateView) -> bool:
    """Whether some output is a first or last (the tail then keeps each event's created time and ordinal)."""
    return any(o.function in ("first", "last") for o in view.outputs)
