"""The materialize query of an aggregate view: per entity, what its online state holds at snapshot ``S``.

One GROUP BY of the entity over the view's events (``inputs_relation``) with ``created < S``:

- the COLLAPSED part: the IR components (``featurestore/definitions/agg_ir.py``) of each output over the events
  with ``lo_w(S + H) <= ts < S`` (lifetime: ``ts < S``); the bounds are constants, so each is one aggregate of a
  CASE (outputs sharing input, component and range share it: :func:`~featurestore.definitions.agg_ir.collapsed_columns`);
- the newest event time before ``S``;
- the TAIL: the events with ``ts >= S`` and those before ``S`` some window needs beyond its collapsed part
  (``lo_w(S) <= ts < min(S, lo_w(S + H))``). Without a resolution: the raw events, one list of structs
  ``__fs_tail`` (``t``, then ``c`` and ``o`` when the view has first/last outputs, then ``i{input}``), in no
  particular order (materialize sorts them). With a resolution the events before ``S`` are grouped per
  ``floor(ts / r) * r`` and those after per exact time: ``__fs_t`` and per input and component a list
  ``__fs_g{i}_{comp}`` in time order (a second GROUP BY, joined).

Column contract with ``featurestore/materialize/aggregates.py``: join keys, ``__fs_newest``, the collapsed columns
(integer sums as ``{name}_lo``, BIGINT or null beyond it, and ``{name}_big``, its decimal text then; first/last as a
struct ``{t, c, o, v}``), then the tail. Float sums use ``kahan_sum`` (order-insensitive to ~1 ulp, so runs agree;
DuckDB's parallel ``sum`` does not); ``m2`` is ``var_pop * n`` (Welford).
"""

from __future__ import annotations

from featurestore.definitions.agg_ir import collapsed_columns, input_components, is_int_sum, uses_ties
from featurestore.definitions.aggregate_view import AggregateView
from featurestore.naming import quote
from featurestore.offline.duckdb.agg_inputs import input_name

ORD = "(CAST(__fs_rank AS BIGINT) * 4611686018427387904 + __fs_ord)"  # rank * 2**62 + ord: the PIT tie key
UNIT_KEY = "__fs_unit"  # the one group of a view without entities


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


def aggregate_states_sql(view: AggregateView, relation: str, snapshot_us: int) -> str:
    """The query (see the module docstring) over ``relation`` (``inputs_relation`` of the view)."""
    s = snapshot_us
    keys = [quote(k) for k in view.join_keys] or [UNIT_KEY]
    key_cols = ", ".join(keys)
    unit = f", 0 AS {UNIT_KEY}" if not view.join_keys else ""
    events = f"SELECT *{unit} FROM ({relation}) WHERE __fs_cr < {s}"
    cols = [f"max(CASE WHEN __fs_ev < {s} THEN __fs_ev END) AS __fs_newest"]
    for (i, comp, lo), name in collapsed_columns(view, s).items():
        cond = f"__fs_ev < {s}" if lo is None else f"__fs_ev >= {lo} AND __fs_ev < {s}"
        cols += [f"{sql} AS {name}{suffix}" for suffix, sql in _component(view, i, comp, cond)]
    keep = " OR ".join([f"__fs_ev >= {s}"] + [f"(__fs_ev >= {lo} AND __fs_ev < {hi})"
                                              for lo, hi in tail_ranges(view, s)])
    r = view.resolution_us
    if r is None:  # the raw events
        fields = ["'t': __fs_ev"] + (["'c': __fs_cr", f"'o': {ORD}"] if uses_ties(view) else [])
        fields += [f"'i{i}': {input_name(i)}" for i in range(len(view.inputs))]
        cols.append(f"list({{{', '.join(fields)}}}) FILTER (WHERE {keep}) AS __fs_tail")
        return f"SELECT {key_cols}, {', '.join(cols)} FROM ({events}) GROUP BY {key_cols}"
    collapsed_sql = f"SELECT {key_cols}, {', '.join(cols)} FROM ({events}) GROUP BY {key_cols}"
    bucket = f"(__fs_ev - (((__fs_ev % {r}) + {r}) % {r}))"
    groups, lists = [], ["list(__fs_t ORDER BY __fs_t) AS __fs_t"]
    for i, names in enumerate(input_components(view)):
        for comp in names:
            name = f"__fs_g{i}_{comp}"
            for suffix, sql in _component(view, i, comp, None):
                groups.append(f"{sql} AS {name}{suffix}")
                if suffix == "_big":
                    lists.append(f"CASE WHEN bool_or({name}_lo IS NULL) THEN list({name}_big ORDER BY __fs_t) END "
                                 f"AS {name}_big")
                else:
                    lists.append(f"list({name}{suffix} ORDER BY __fs_t) AS {name}{suffix}")
    tail_events = (f"SELECT *, CASE WHEN __fs_ev >= {s} THEN __fs_ev ELSE {bucket} END AS __fs_t "
                   f"FROM ({events}) WHERE {keep}")
    tail_groups = (f"SELECT {key_cols}, __fs_t, {', '.join(groups)} FROM ({tail_events}) "
                   f"GROUP BY {key_cols}, __fs_t")
    tail_sql = f"SELECT {key_cols}, {', '.join(lists)} FROM ({tail_groups}) GROUP BY {key_cols}"
    join = " AND ".join(f"c.{k} = g.{k}" for k in keys)
    return (f"SELECT c.*, g.* EXCLUDE ({key_cols}) FROM ({collapsed_sql}) c LEFT JOIN ({tail_sql}) g ON {join}")
