"""An aggregate view's part of a training-set query, as DuckDB SQL.

For every entity row ``(k, T)`` and requested feature (function, window ``w``): the function over the view's
events with join keys ``k``, ``view.window_start(T, w) <= event time < T`` (the end is exclusive, unlike plain
views; a lifetime aggregate has no start), and a counting input value (``agg_inputs.py``: where, null, NaN).
With ``as_of_created`` an event also needs ``created < T``.

Shape (one query per view, never a join on keys plus a time range, which is quadratic on busy keys):

* the distinct ``(keys, T)`` of the entity rows are computed once and joined back to every entity row;
* ``RANGE`` window frames over the union of those spine points and the events, ordered per key by
  ``__fs_z = event time * 2**64 + (rank * 2**62 + ordinal + 1)`` (a spine point at ``T`` is ``T * 2**64``): the
  order is total, so float sums (Kahan, ``fsum``), means and standard deviations come out the same on every
  run, and the frame ``[window_start * 2**64, T * 2**64 - 1]`` is exactly the window. With ``resolution`` the
  frame's start is a per-row offset (``T - window_start(T, w)``).
* ``first`` / ``last``: ``arg_min`` / ``arg_max`` over the tie key ``(event time, created time, rank * 2**62 +
  ordinal)`` of the counting events.

``as_of_created`` (a source with a created column; without one every event passes): a frame cannot filter
``created < T`` per spine point, so events are joined to spine points on the keys and a time bucket (the
largest requested window wide): each spine point reads the events of at most three buckets, which is
proportional to its window, not to the key's history. A lifetime aggregate has no bucket: it joins on the
keys alone, quadratic on busy keys (correct, slower: the documented cost of ``as_of_created`` with lifetime
aggregates).

Entity rows with a null join key or a null time count no event: they get the empty-window values (0 for
``count``, ``count_distinct`` and ``sum``, null for the others), like an entity without events.
A sum of integers outside Int64 fails the query with a :class:`DataSourceError` naming the view and feature.
"""

from __future__ import annotations

import re

from collections.abc import Callable
import duckdb

from featurestore import types
from featurestore.definitions.aggregate_view import AggOutput, AggregateView
from featurestore.definitions.sources import batch_of
from featurestore.errors import DataSourceError
from featurestore.naming import quote, sql_string
from featurestore.offline.duckdb.agg_inputs import input_name, inputs_relation
from featurestore.offline.duckdb.agg_windows import windows_table
from featurestore.offline.duckdb.relations import SourceContext
from featurestore.resolution import ResolvedView

TWO_64 = "18446744073709551616::HUGEINT"
TWO_62 = "4611686018427387904::HUGEINT"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
OVERFLOW = "__fs_agg_overflow"
_SEP = "\x1f"
_COUNTS = ("count", "count_distinct")


def _floor(x: str, r: int) -> str:
    """``x`` rounded down to a multiple of ``r`` (DuckDB's ``//`` truncates toward zero)."""
    return f"(({x}) - ((({x}) % {r}) + {r}) % {r})"


def window_start_sql(view: AggregateView, at: str, window_us: int) -> str:
    """SQL of :meth:`AggregateView.window_start` for a BIGINT expression ``at``."""
    lo = f"({at} - {window_us})"
    r = view.resolution_us
    return lo if r is None else _floor(lo, r)


def is_int_sum(view: AggregateView, out: AggOutput) -> bool:
    return out.function == "sum" and out.dtype == types.Int64


def empty_value(out: AggOutput) -> str | None:
    """The SQL value of an empty window (None: null)."""
    if out.function in _COUNTS:
        return "0::BIGINT"
    if out.function == "sum":
        return "0::BIGINT" if out.dtype == types.Int64 else "0.0::DOUBLE"
    return None


def _final(view: AggregateView, out: AggOutput, feature: str, value: str) -> str:
    """The output value from a raw aggregate ``value`` (null when no spine point matched): empty-window
    value, type, and the Int64 check of integer sums."""
    if is_int_sum(view, out):
        mark = sql_string(_SEP.join([OVERFLOW, view.name, feature, ""]))
        value = (f"CASE WHEN {value} IS NULL THEN 0::BIGINT WHEN {value} BETWEEN {INT64_MIN} AND {INT64_MAX} "
                 f"THEN CAST({value} AS BIGINT) ELSE error({mark} || CAST({value} AS VARCHAR)) END")
        return value
    empty = empty_value(out)
    if empty is not None:
        value = f"coalesce({value}, {empty})"
    return f"CAST({value} AS {out.dtype.to_duckdb()})"


def overflow_error(err: Exception) -> DataSourceError | None:
    """The DataSourceError of an integer sum leaving Int64, when ``err`` is one (see :func:`_final`)."""
    text = str(err)
    if OVERFLOW + _SEP not in text:
        return None
    parts = text[text.index(OVERFLOW):].split(_SEP)
    if len(parts) < 4:
        return None
    _, view, feature, value = parts[:4]
    value = re.split(r"[\s\n]", value.strip(), maxsplit=1)[0] if value.strip() else value
    return DataSourceError(f"aggregate view {view!r}: feature {feature!r}, a sum of integers, is {value}, outside "
                           "Int64 (declare the column Float64 to sum it as floats)", view=view, column=feature)


def _aggregate(out: AggOutput, over: str, filt: str = "") -> str:
    """The SQL aggregate of one output over the input column (``over``: `` OVER w`` or empty; ``filt``: a
    FILTER clause for the grouped shape)."""
    x = input_name(out.input)
    tie = f"CASE WHEN {x} IS NOT NULL THEN __fs_tie END"
    f = out.function
    if f == "count":
        return f"count({x}){filt}{over}"
    if f == "sum":
        return f"{'sum' if out.dtype == types.Int64 else 'fsum'}({x}){filt}{over}"
    if f == "mean":
        return f"fsum({x}){filt}{over} / nullif(count({x}){filt}{over}, 0)"
    if f in ("min", "max"):
        return f"{f}({x}){filt}{over}"
    if f == "stddev":
        return f"stddev_samp({x}){filt}{over}"
    if f == "count_distinct":
        return f"count(DISTINCT {x}){filt}{over}"
    if f == "last":
        return f"arg_max({x}, {tie}){filt}{over}"
    if f == "first":
        return f"arg_min({x}, {tie}){filt}{over}"
    raise ValueError(f"unknown function {f!r}")


def _ordered(out: AggOutput, filt: str) -> str:
    """:func:`_aggregate` for the grouped shape, float sums and deviations in the total order (deterministic)."""
    x = input_name(out.input)
    order = " ORDER BY __fs_z"
    if out.function == "sum" and out.dtype != types.Int64:
        return f"fsum({x}{order}){filt}"
    if out.function == "mean":
        return f"fsum({x}{order}){filt} / nullif(count({x}){filt}, 0)"
    if out.function == "stddev":
        return f"stddev_samp({x}{order}){filt}"
    return _aggregate(out, "", filt)


Step = Callable[[duckdb.DuckDBPyConnection], None]
"""A statement run in Python before the training-set query, in its connection."""


def aggregate_sql(req: ResolvedView, ctx: SourceContext, column_types: dict[str, str], as_of_created: bool,
                  entity_cte: str, index: int) -> tuple[str, Step | None]:
    """The view's part: ``__fs_row`` and the requested outputs (``req.out_names``), one row per entity row of
    ``__fs_e`` (the entity CTE of pit.py: entity columns, ``__fs_row``, ``__fs_ts``), in any order; and the
    step to run first (it registers the values per spine point as table ``__fs_agg{index}``), if any."""
    view = req.view
    assert isinstance(view, AggregateView)
    by_name = {o.name: o for o in view.outputs}
    wanted = [(by_name[f], f, o) for f, o in zip(req.features, req.out_names, strict=True)]
    keys = [f"__fs_k{n}" for n in range(len(req.keys))]
    spine_keys = "".join(f"{quote(col)} AS {k}, " for (col, _), k in zip(req.keys, keys, strict=True))
    not_null = "".join(f" AND {quote(col)} IS NOT NULL" for col, _ in req.keys)
    spine = f"SELECT DISTINCT {spine_keys}__fs_ts AS __fs_t FROM __fs_e WHERE __fs_ts IS NOT NULL{not_null}"
    event_keys = "".join(f"{quote(key)} AS {k}, " for (_, key), k in zip(req.keys, keys, strict=True))
    used = sorted({o.input for o, _, _ in wanted})
    ins = "".join(f", {input_name(i)}" for i in used)
    events = (f"SELECT {event_keys}__fs_ev, __fs_cr, __fs_rank, __fs_ord{ins} "
              f"FROM ({inputs_relation(view, ctx, column_types)})")
    cols = ", ".join(f"{_final(view, o, f, f'r.__fs_v{j}')} AS {quote(name)}" for j, (o, f, name) in enumerate(wanted))
    on = "".join(f"r.{k} = e.{quote(col)} AND " for k, (col, _) in zip(keys, req.keys, strict=True))
    head = f"SELECT e.__fs_row, {cols} FROM __fs_e e LEFT JOIN "
    tail = f" r ON {on}r.__fs_t = e.__fs_ts"
    if as_of_created and batch_of(view.source).created_timestamp_field is not None:
        tie = "{'t': __fs_ev, 'c': __fs_cr, 'o': __fs_rank::BIGINT * 4611686018427387904 + __fs_ord}"
        timed = (f"SELECT *, __fs_ev::HUGEINT * {TWO_64} + (__fs_rank::HUGEINT * {TWO_62} + __fs_ord + 1) AS __fs_z, "
                 f"{tie} AS __fs_tie FROM ({events})")
        if keys:  # only the keys the entity rows ask for
            timed = f"SELECT * FROM ({timed}) SEMI JOIN (SELECT DISTINCT {', '.join(keys)} FROM __fs_u) USING ({', '.join(keys)})"
        values = _grouped(view, wanted, keys)
        return f"{head}(WITH __fs_u AS ({spine}), __fs_x AS ({timed}) {values}){tail}", None
    table = f"__fs_agg{index}"

    def step(con: duckdb.DuckDBPyConnection) -> None:
        con.register(table, windows_table(con, view, wanted, keys, f"WITH {entity_cte} {spine}", events, index))

    return f"{head}{table}{tail}", step


def _grouped(view: AggregateView, wanted: list[tuple[AggOutput, str, str]], keys: list[str]) -> str:
    """The outputs per spine point with ``created < T``: events joined to spine points on the keys (and a time
    bucket when every window is finite), grouped per spine point."""
    head = "".join(f"u.{k}, " for k in keys)
    on = [f"x.{k} = u.{k}" for k in keys] + ["x.__fs_ev < u.__fs_t", "x.__fs_cr < u.__fs_t"]
    finite = [o.window_us for o, _, _ in wanted if o.window_us is not None]
    spine = "__fs_u"
    events = "__fs_x"
    if len(finite) == len(wanted):
        widest = max(finite)
        lo = window_start_sql(view, "__fs_t", widest)
        r = view.resolution_us or 1
        size = widest + r  # a window spans at most w + r - 1 µs: at most three buckets
        first, last = _floor(lo, size), _floor("__fs_t - 1", size)
        spine = (f"(SELECT *, unnest(range({first} // {size}, {last} // {size} + 1)) AS __fs_b FROM __fs_u)")
        events = f"(SELECT *, {_floor('__fs_ev', size)} // {size} AS __fs_b FROM __fs_x)"
        on += ["x.__fs_b = u.__fs_b", f"x.__fs_ev >= {window_start_sql(view, 'u.__fs_t', widest)}"]
    aggs = []
    for j, (o, _, _) in enumerate(wanted):
        filt = ("" if o.window_us is None else
                f" FILTER (WHERE x.__fs_ev >= {window_start_sql(view, 'u.__fs_t', o.window_us)})")
        aggs.append(f"{_ordered(o, filt)} AS __fs_v{j}")
    group = ", ".join([f"u.{k}" for k in keys] + ["u.__fs_t"])
    return (f"SELECT {head}u.__fs_t, {', '.join(aggs)} FROM {spine} u LEFT JOIN {events} x ON {' AND '.join(on)} "
            f"GROUP BY {group}")
