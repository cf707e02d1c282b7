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
