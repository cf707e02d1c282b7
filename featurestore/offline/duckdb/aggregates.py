"""An aggregate view's part of a training-set query.

For every entity row ``(k, T)`` and requested feature (function, window ``w``): the function over the view's
events with join keys ``k``, ``view.window_start(T, w) <= event time < T`` (the end is exclusive, unlike plain
views, which include ``T``; a lifetime aggregate has no start) and a counting input value (``agg_inputs.py``:
``where``, nulls, NaN). With ``as_of_created`` an event also needs ``created < T``.

The values are computed once per distinct ``(keys, T)`` of the entity rows (a spine point) by a step run
before the query (agg_windows.py: DuckDB reads and joins, numpy aggregates ranges of the sorted events; no
join on keys plus a time range, so a key holding half of the events costs what any other key costs), and
registered as a table that the part joins back to every entity row on (keys, T).

Entity rows with a null join key or a null time count no event: they get the empty-window values (0 for
``count``, ``count_distinct`` and ``sum``, null for the others), like an entity without events. A sum of
integers outside Int64 fails with a :class:`DataSourceError` naming the view and the feature.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from featurestore import types
from featurestore.definitions.aggregate_view import AggOutput, AggregateView
from featurestore.definitions.sources import batch_of
from featurestore.errors import FeatureStoreError
from featurestore.naming import quote
from featurestore.offline.duckdb.agg_inputs import input_name, inputs_relation
from featurestore.offline.duckdb.agg_windows import windows_table
from featurestore.offline.duckdb.failures import describe_error
from featurestore.offline.duckdb.relations import SourceContext
from featurestore.resolution import ResolvedView

Step = Callable[[duckdb.DuckDBPyConnection], None]
"""A statement run in Python before the training-set query, in its connection."""


def empty_value(out: AggOutput) -> str | None:
    """The SQL value of an empty window (None: null)."""
    if out.function in ("count", "count_distinct"):
        return "0::BIGINT"
    if out.function == "sum":
        return "0::BIGINT" if out.dtype == types.Int64 else "0.0::DOUBLE"
    return None


def _final(out: AggOutput, value: str) -> str:
    """The output from its value per spine point (null when the entity row matched no spine point)."""
    empty = empty_value(out)
    if empty is not None:
        value = f"coalesce({value}, {empty})"
    return f"CAST({value} AS {out.dtype.to_duckdb()})"


def _named(err: Exception, view: AggregateView) -> FeatureStoreError:
    """A DuckDB error of the view's events query, naming the view (and its where predicates, which run there)."""
    found = describe_error(err, [(view, view.source)])
    wheres = list(dict.fromkeys(a.where for a in view.aggregations if a.where))
    if not wheres:
        return found
    shown = "; ".join(repr(w) for w in wheres)
    return type(found)(f"{found.message} (the view's where predicates run in this query: {shown})", **found.fields)


def aggregate_sql(req: ResolvedView, ctx: SourceContext, column_types: dict[str, str], as_of_created: bool,
                  entity_cte: str, index: int) -> tuple[str, Step]:
    """The view's part: ``__fs_row`` and the requested outputs (``req.out_names``), one row per entity row of
    ``__fs_e`` (the entity CTE of pit.py: entity columns, ``__fs_row``, ``__fs_ts``), in any order; and the
    step to run first (it registers the values per spine point as table ``__fs_agg{index}``)."""
    view = req.view
    assert isinstance(view, AggregateView)
    by_name = {o.name: o for o in view.outputs}
    wanted = [(by_name[f], f, o) for f, o in zip(req.features, req.out_names, strict=True)]
    keys = [f"__fs_k{n}" for n in range(len(req.keys))]
    spine_keys = "".join(f"{quote(col)} AS {k}, " for (col, _), k in zip(req.keys, keys, strict=True))
    not_null = "".join(f" AND {quote(col)} IS NOT NULL" for col, _ in req.keys)
    spine = (f"WITH {entity_cte} SELECT DISTINCT {spine_keys}__fs_ts AS __fs_t FROM __fs_e "
             f"WHERE __fs_ts IS NOT NULL{not_null}")
    event_keys = "".join(f"{quote(key)} AS {k}, " for (_, key), k in zip(req.keys, keys, strict=True))
    ins = "".join(f", {input_name(i)}" for i in sorted({o.input for o, _, _ in wanted}))
    events = (f"SELECT {event_keys}__fs_ev, __fs_cr, __fs_rank::BIGINT * 4611686018427387904 + __fs_ord AS __fs_ro"
              f"{ins} FROM ({inputs_relation(view, ctx, column_types)})")
    # without a created column every event was created "before" any T: as_of_created changes nothing
    timed = as_of_created and batch_of(view.source).created_timestamp_field is not None
    table = f"__fs_agg{index}"

    def step(con: duckdb.DuckDBPyConnection) -> None:
        try:
            con.register(table, windows_table(con, view, wanted, keys, spine, events, index, timed))
        except (duckdb.Error, OSError) as err:  # the view's own reads: the error is this view's
            raise _named(err, view) from None

    cols = ", ".join(f"{_final(o, f'r.__fs_v{j}')} AS {quote(name)}" for j, (o, _, name) in enumerate(wanted))
    on = "".join(f"r.{k} = e.{quote(col)} AND " for k, (col, _) in zip(keys, req.keys, strict=True))
    return f"SELECT e.__fs_row, {cols} FROM __fs_e e LEFT JOIN {table} r ON {on}r.__fs_t = e.__fs_ts", step
