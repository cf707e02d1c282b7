"""The materialize queries of an aggregate view: per entity, what its online state holds at snapshot ``S``.

Over the view's events (``inputs_relation``) with ``created < S``:

1. one GROUP BY of the entity (one row per entity, numbered ``__fs_e``, registered for step 2): the
   newest event time before ``S`` (``__fs_newest``) and the COLLAPSED part: the IR components
   (``featurestore/definitions/agg_ir.py``) of each output over the events with ``lo_w(S + H) <= ts < S``
   (lifetime: ``ts < S``). The bounds are constants, so each is one aggregate of a CASE, shared by the outputs with
   the same input, component and range (``collapsed_columns`` in agg_ir.py). Without a
   resolution, first/last outputs get no collapsed IR but the time of their extreme event (``__fs_m{output}``):
   the events at that time join the tail, which is all the fold needs of them;
2. per page of entities (``__fs_e`` ranges), the page's rows of that table, and its TAIL rows: the events with
   ``ts >= S``, those before ``S`` some window needs beyond its collapsed part
   (``lo_w(S) <= ts < min(S, lo_w(S + H))``) and the first/last candidates. Without a resolution the rows are the
   raw events (``__fs_e``, ``__fs_t``, then ``__fs_in{i}``), sorted here with numpy by (``__fs_e``, time, created,
   ordinal) (faster than DuckDB's ORDER BY on 2 cores; the order is all the fold needs of the tie keys); with a
   resolution they are groups per entity and time (the events before ``S`` per ``floor(ts / r) * r``, the later
   ones per exact time) with, per input and component, a column ``__fs_g{i}_{comp}``, in (``__fs_e``, time) order.

Integer sums come as ``{name}_lo`` (BIGINT, null beyond it) and ``{name}_big`` (the decimal text then); first/last
IRs (with a resolution) as structs ``{t, c, o, v}``. Float sums use ``kahan_sum`` (order-insensitive to ~1 ulp, so
runs agree; DuckDB's parallel ``sum`` does not); ``m2`` is ``var_pop * n`` (Welford).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa

from featurestore.definitions.agg_ir import (
    collapsed_bounds,
    collapsed_columns,
    input_components,
    is_int_sum,
    uses_ties,
)
from featurestore.definitions.aggregate_view import AggregateView
from featurestore.naming import quote
from featurestore.offline.duckdb.agg_inputs import input_name

ORD = "(CAST(__fs_rank AS BIGINT) * 4611686018427387904 + __fs_ord)"  # rank * 2**62 + ord: the PIT tie key
UNIT_KEY = "__fs_unit"  # the one group of a view without entities
Run = Callable[[str], pa.Table]
"""Runs a statement and returns its result (the connection of one materialize)."""


def _component(view: AggregateView, i: int, comp: str, cond: str | None) -> list[tuple[str, str]]:
    """(suffix, SQL aggregate) pairs of one component of input ``i`` over the rows where ``cond`` holds."""
    x = input_name(i)
    v = f"CASE WHEN {cond} THEN {x} END" if cond else x
    if comp == "n":
        return [("", f"count({v})")]
    if comp == "s":
        if is_int_sum(view, i):
            total = f"coalesce(sum({v}), 0)"
            return [("_lo", f"TRY_CAST({total} AS BIGINT)"),
                    ("_big", f"CASE WHEN TRY_CAST({total} AS BIGINT) IS NULL THEN CAST({total} AS VARCHAR) END")]
        return [("", f"coalesce(kahan_sum(CAST({v} AS DOUBLE)), 0.0)")]
    if comp == "m2":
        return [("", f"coalesce(var_pop(CAST({v} AS DOUBLE)) * count({v}), 0.0)")]
    if comp in ("min", "max"):
        return [("", f"{comp}({v})")]
    if comp == "set":
        return [("", f"coalesce(list_distinct(list({x}){f' FILTER (WHERE {cond})' if cond else ''}), [])")]
    pick = "min" if comp == "first" else "max"
    hold = f"{cond} AND {x} IS NOT NULL" if cond else f"{x} IS NOT NULL"
    return [("", f"{pick}(CASE WHEN {hold} THEN {{'t': __fs_ev, 'c': __fs_cr, 'o': {ORD}, 'v': {x}}} END)")]


def tail_ranges(view: AggregateView, snapshot_us: int) -> list[tuple[int, int]]:
    """The merged ranges ``[lo_w(S), min(S, lo_w(S + H)))`` of the windows (events before S the tail keeps)."""
    horizon = view.serving_horizon_us
    ranges = sorted({(view.window_start(snapshot_us, o.window_us),
                      min(snapshot_us, view.window_start(snapshot_us + horizon, o.window_us)))
                     for o in view.outputs if o.window_us is not None})
    merged: list[tuple[int, int]] = []
    for lo, hi in ranges:
        if lo >= hi:
            continue
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _range(lo: int | None, snapshot_us: int) -> str:
    return f"__fs_ev < {snapshot_us}" if lo is None else f"__fs_ev >= {lo} AND __fs_ev < {snapshot_us}"


def tie_outputs(view: AggregateView, snapshot_us: int) -> list[tuple[int, int, bool, int | None]]:
    """Without a resolution: (output, input, first?, range start) of the first/last outputs with a collapsed range
    (their extreme event there joins the tail)."""
    if view.resolution_us is not None:
        return []
    return [(o, out.input, out.function == "first", None if bound is None else int(bound))
            for o, (out, bound) in enumerate(zip(view.outputs, collapsed_bounds(view, snapshot_us), strict=True))
            if out.function in ("first", "last") and bound is not False]


def entities_sql(view: AggregateView, relation: str, snapshot_us: int) -> str:
    """The per-entity rows of step 1 (see the module docstring; ``__fs_e`` is added by :func:`aggregate_pages`)."""
    s = snapshot_us
    keys = ", ".join([quote(k) for k in view.join_keys] or [UNIT_KEY])
    unit = f", 0 AS {UNIT_KEY}" if not view.join_keys else ""
    raw = view.resolution_us is None
    cols = [f"max(CASE WHEN __fs_ev < {s} THEN __fs_ev END) AS __fs_newest"]
    for (i, comp, lo), name in collapsed_columns(view, s).items():
        if raw and comp in ("first", "last"):
            continue
        cols += [f"{sql} AS {name}{suffix}" for suffix, sql in _component(view, i, comp, _range(lo, s))]
    for o, i, first, lo in tie_outputs(view, s):
        cols.append(f"{'min' if first else 'max'}(CASE WHEN {_range(lo, s)} AND {input_name(i)} IS NOT NULL "
                    f"THEN __fs_ev END) AS __fs_m{o}")
    return f"SELECT {keys}, {', '.join(cols)} FROM (SELECT *{unit} FROM ({relation}) WHERE __fs_cr < {s}) " \
           f"GROUP BY {keys}"


def tail_sql(view: AggregateView, relation: str, snapshot_us: int, table: str, first: int, last: int) -> str:
    """The tail rows of the entities ``first <= __fs_e < last`` (step 2, see the module docstring)."""
    s = snapshot_us
    keys = ", ".join([quote(k) for k in view.join_keys] or [UNIT_KEY])
    unit = f", 0 AS {UNIT_KEY}" if not view.join_keys else ""
    keep = [f"__fs_ev >= {s}"] + [f"(__fs_ev >= {lo} AND __fs_ev < {hi})" for lo, hi in tail_ranges(view, s)]
    keep += [f"(__fs_ev = __fs_m{o} AND {input_name(i)} IS NOT NULL)" for o, i, _, _ in tie_outputs(view, s)]
    events = (f"SELECT * FROM (SELECT *{unit} FROM ({relation}) WHERE __fs_cr < {s}) JOIN {table} USING ({keys}) "
              f"WHERE __fs_e >= {first} AND __fs_e < {last} AND ({' OR '.join(keep)})")
    r = view.resolution_us
    if r is None:  # unordered: sort_tail orders them
        cols = ["__fs_e", "__fs_ev AS __fs_t"] + (["__fs_cr AS __fs_tc", f"{ORD} AS __fs_to"] if uses_ties(view)
                                                  else [])
        return f"SELECT {', '.join(cols + [input_name(i) for i in range(len(view.inputs))])} FROM ({events})"
    bucket = f"(__fs_ev - (((__fs_ev % {r}) + {r}) % {r}))"
    groups = []
    for i, names in enumerate(input_components(view)):
        for comp in names:
            groups += [f"{sql} AS __fs_g{i}_{comp}{suffix}" for suffix, sql in _component(view, i, comp, None)]
    timed = f"SELECT *, CASE WHEN __fs_ev >= {s} THEN __fs_ev ELSE {bucket} END AS __fs_t FROM ({events})"
    return (f"SELECT __fs_e, __fs_t, {', '.join(groups)} FROM ({timed}) GROUP BY __fs_e, __fs_t "
            f"ORDER BY __fs_e, __fs_t")


def sort_tail(tail: pa.Table) -> pa.Table:
    """Raw tail rows in (``__fs_e``, time, created, ordinal) order, without the created and ordinal columns."""
    if not tail.num_rows:
        return tail.drop_columns([c for c in ("__fs_tc", "__fs_to") if c in tail.column_names])
    owner = tail.column("__fs_e").to_numpy()
    t = tail.column("__fs_t").to_numpy()
    low, span = int(t.min()), int(t.max()) - int(t.min()) + 1
    if span.bit_length() + int(owner.max()).bit_length() < 63:
        key = owner.astype(np.int64) * span + (t - low)  # one int64 key: a faster sort
        keys: tuple[np.ndarray, ...] = (key,)
    else:
        keys = (t, owner)
    if "__fs_tc" in tail.column_names:  # first/last: ties at one time by (created, ordinal)
        keys = (tail.column("__fs_to").to_numpy(), tail.column("__fs_tc").to_numpy(), *keys)
        tail = tail.drop_columns(["__fs_tc", "__fs_to"])
        order = np.lexsort(keys)
    else:
        order = np.argsort(keys[0], kind="stable") if len(keys) == 1 else np.lexsort(keys)
    return tail.take(pa.array(order))


def aggregate_pages(view: AggregateView, relation: str, snapshot_us: int, table: str, run: Run,
                    register: Callable[[str, pa.Table], None], page_entities: int
                    ) -> Iterator[tuple[pa.Table, pa.Table]]:
    """Per page of at most ``page_entities`` entities: (its rows of the entity table, its tail rows)."""
    entities = run(entities_sql(view, relation, snapshot_us))
    entities = entities.add_column(0, "__fs_e", pa.array(np.arange(entities.num_rows, dtype=np.int64)))
    register(table, entities)
    for first in range(0, entities.num_rows, page_entities):
        tail = run(tail_sql(view, relation, snapshot_us, table, first, first + page_entities))
        if view.resolution_us is None:
            tail = sort_tail(tail)
        yield entities.slice(first, page_entities), tail
