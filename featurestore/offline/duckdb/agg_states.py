"""The materialize query of an aggregate view: per entity, what its online state holds at snapshot ``S``.

One query over the view's events (``inputs_relation``) with ``created < S``; two GROUP BYs of the entity, joined:

- the COLLAPSED part: per output, its IR components (see ``featurestore/definitions/agg_ir.py``) over the
  events with ``lo_w(S + H) <= ts < S`` (lifetime: ``ts < S``), with FILTER clauses (the bounds are constants),
  and the newest event time before ``S``;
- the TAIL: the events with ``ts >= S`` (per exact time) and those before ``S`` some window needs beyond its
  collapsed part (``lo_w(S) <= ts < min(S, lo_w(S + H))``, per ``floor(ts / resolution) * resolution``), grouped
  per (entity, time) and listed per entity in time order, one list per input and component.

Output columns (the contract with ``featurestore/materialize/aggregates.py``): the join keys, ``__fs_newest``
(BIGINT or null), per output ``o`` and component ``c`` of its function ``__fs_c{o}_{c}`` (a null column when the
output's collapsed range is empty), ``__fs_t`` (list of BIGINT, null without tail entries), per input ``i`` and
component ``c`` ``__fs_g{i}_{c}`` (a list aligned with ``__fs_t``). Integer sums come as ``_lo`` (BIGINT, null when
beyond it) and ``_big`` (the exact decimal text, only when some value is beyond BIGINT); ``first`` / ``last`` as
four lists ``_t``, ``_c``, ``_o``, ``_v``. Float sums use ``kahan_sum`` (order-insensitive to ~1 ulp, so runs
agree; DuckDB's parallel ``sum`` does not); ``m2`` is ``var_pop * n`` (Welford).
"""

from __future__ import annotations

from featurestore.definitions.agg_ir import FUNCTION_COMPONENTS, input_components, is_int_sum
from featurestore.definitions.aggregate_view import AggregateView
from featurestore.naming import quote
from featurestore.offline.duckdb.agg_inputs import input_name

ORD = "(CAST(__fs_rank AS BIGINT) * 4611686018427387904 + __fs_ord)"  # rank * 2**62 + ord: the PIT tie key
UNIT_KEY = "__fs_unit"  # the one group of a view without entities


def _component(view: AggregateView, i: int, comp: str, cond: str | None) -> list[tuple[str, str]]:
    """(suffix, SQL aggregate) pairs of one component of input ``i`` over the rows where ``cond`` holds."""
    x = input_name(i)
    f = f" FILTER (WHERE {cond})" if cond else ""
    fv = f" FILTER (WHERE {cond + ' AND ' if cond else ''}{x} IS NOT NULL)"
    if comp == "n":
        return [("", f"count({x}){f}")]
    if comp == "s":
        if is_int_sum(view, i):
            total = f"coalesce(sum({x}){f}, 0)"
            return [("_lo", f"TRY_CAST({total} AS BIGINT)"),
                    ("_big", f"CASE WHEN TRY_CAST({total} AS BIGINT) IS NULL THEN CAST({total} AS VARCHAR) END")]
        return [("", f"coalesce(kahan_sum(CAST({x} AS DOUBLE)){f}, 0.0)")]
    if comp == "m2":
        return [("", f"coalesce(var_pop(CAST({x} AS DOUBLE)){f} * count({x}){f}, 0.0)")]
    if comp in ("min", "max"):
        return [("", f"{comp}({x}){f}")]
    if comp == "set":
        return [("", f"coalesce(list(DISTINCT {x}){fv}, [])")]
    pick = "min" if comp == "first" else "max"
    return [("", f"{pick}({{'t': __fs_ev, 'c': __fs_cr, 'o': {ORD}, 'v': {x}}}){fv}")]


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
    horizon = view.serving_horizon_us
    keys = [quote(k) for k in view.join_keys] or [UNIT_KEY]
    key_cols = ", ".join(keys)
    unit = f", 0 AS {UNIT_KEY}" if not view.join_keys else ""
    events = f"SELECT *{unit} FROM ({relation}) WHERE __fs_cr < {s}"
    comps = input_components(view)

    collapsed = [f"max(__fs_ev) FILTER (WHERE __fs_ev < {s}) AS __fs_newest"]
    for o, out in enumerate(view.outputs):
        if out.window_us is None:
            cond: str | None = f"__fs_ev < {s}"
        else:
            lo = view.window_start(s + horizon, out.window_us)
            cond = f"__fs_ev >= {lo} AND __fs_ev < {s}" if lo < s else None
        for comp in FUNCTION_COMPONENTS[out.function]:
            for suffix, sql in _component(view, out.input, comp, cond or "false"):
                collapsed.append(f"{'NULL' if cond is None else sql} AS __fs_c{o}_{comp}{suffix}")
    collapsed_sql = f"SELECT {key_cols}, {', '.join(collapsed)} FROM ({events}) GROUP BY {key_cols}"

    ranges = tail_ranges(view, s)
    keep = " OR ".join([f"__fs_ev >= {s}"] + [f"(__fs_ev >= {lo} AND __fs_ev < {hi})" for lo, hi in ranges])
    r = view.resolution_us
    bucket = "__fs_ev" if r is None else f"(__fs_ev - (((__fs_ev % {r}) + {r}) % {r}))"
    groups, lists = [], ["list(__fs_t ORDER BY __fs_t) AS __fs_t"]
    for i, names in enumerate(comps):
        for comp in names:
            name = f"__fs_g{i}_{comp}"
            for suffix, sql in _component(view, i, comp, None):
                groups.append(f"{sql} AS {name}{suffix}")
                if comp in ("first", "last"):
                    lists += [f"list({name}.{f} ORDER BY __fs_t) AS {name}_{f}" for f in "tcov"]
                elif suffix == "_big":
                    lists.append(f"CASE WHEN bool_or({name}_lo IS NULL) THEN list({name}_big ORDER BY __fs_t) END "
                                 f"AS {name}_big")
                else:
                    lists.append(f"list({name}{suffix} ORDER BY __fs_t) AS {name}{suffix}")
    tail_events = (f"SELECT *, CASE WHEN __fs_ev >= {s} THEN __fs_ev ELSE {bucket} END AS __fs_t "
                   f"FROM ({events}) WHERE {keep}")
    group_cols = ", ".join(groups)
    tail_groups = f"SELECT {key_cols}, __fs_t{', ' + group_cols if group_cols else ''} FROM ({tail_events}) " \
                  f"GROUP BY {key_cols}, __fs_t"
    tail_sql = f"SELECT {key_cols}, {', '.join(lists)} FROM ({tail_groups}) GROUP BY {key_cols}"
    out_cols = ", ".join(f"c.{k}" for k in keys) if view.join_keys else ""
    join = " AND ".join(f"c.{k} = g.{k}" for k in keys)
    return (f"SELECT {out_cols + ', ' if out_cols else ''}c.* EXCLUDE ({key_cols}), g.* EXCLUDE ({key_cols}) "
            f"FROM ({collapsed_sql}) c LEFT JOIN ({tail_sql}) g ON {join}")
