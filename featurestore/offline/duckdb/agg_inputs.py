"""The events of an aggregate view as DuckDB SQL: one value per event and input, shared by every path.

Training sets, materialize and push all read an aggregate view's events through :func:`inputs_relation`, so
the ``where`` predicates, the NaN rule and the type casts are evaluated by one engine in one way. Columns: the
join keys, ``__fs_ev`` and ``__fs_cr`` (UTC epoch microseconds; ``__fs_cr`` is the smallest BIGINT when
unknown), ``__fs_rank`` and ``__fs_ord`` (the tie-break of plain views, see relations.py), then per input
``i`` of :attr:`AggregateView.inputs` a column ``__fs_in{i}``: the event's value (1 for a count of rows),
null when the event does not count for it (``where`` false or null, the value null or NaN). Events without a
join key value or an event time are left out.
"""

from __future__ import annotations

from featurestore import types
from featurestore.definitions.aggregate_view import AggInput, AggregateView
from featurestore.definitions.sources import batch_of
from featurestore.naming import quote
from featurestore.offline.duckdb.drift import check_source_types
from featurestore.offline.duckdb.relations import NO_TIME, SourceContext, cutoff_sql, raw_relation, utc_us

FLOATS = (types.Float32, types.Float64)


def input_name(index: int) -> str:
    """The column of input ``index``: ``__fs_in{index}``."""
    return f"__fs_in{index}"


def input_sql(view: AggregateView, inp: AggInput) -> str:
    """The SQL value of one input over a row of the raw source (see the module docstring)."""
    if inp.column is None:
        value = "1::BIGINT"
    else:
        dtype = view.column_type(inp.column)
        value = f"CAST({quote(inp.column)} AS {dtype.to_duckdb()})"
        if dtype in FLOATS:
            value = f"CASE WHEN isnan({value}) THEN NULL ELSE {value} END"
    if inp.where is None:
        return value
    # a newline before the parenthesis: a line comment in the predicate cannot swallow it
    return f"CASE WHEN (\n{inp.where}\n) THEN {value} END"


def inputs_relation(view: AggregateView, ctx: SourceContext, column_types: dict[str, str]) -> str:
    """SELECT of the view's events (columns: see the module docstring); ``column_types`` from ``DESCRIBE``.

    Raises a DataSourceError when a column the view reads is gone or holds another type (drift.py).
    """
    check_source_types(view, column_types, ())
    batch = batch_of(view.source)
    cols = [f"{quote(view.source_column(k))} AS {quote(k)}" for k in view.join_keys]
    ts = batch.timestamp_field
    cols.append(f"{utc_us(quote(ts), column_types.get(ts, ''))} AS __fs_ev")
    created = batch.created_timestamp_field
    cols.append((f"coalesce({utc_us(quote(created), column_types.get(created, ''))}, {NO_TIME})" if created
                 else str(NO_TIME)) + " AS __fs_cr")
    cols += ["__fs_rank", "__fs_ord"]
    cols += [f"{input_sql(view, inp)} AS {input_name(i)}" for i, inp in enumerate(view.inputs)]
    where = ["__fs_ev IS NOT NULL"] + [f"{quote(view.source_column(k))} IS NOT NULL" for k in view.join_keys]
    return (f"SELECT {', '.join(cols)} FROM ({raw_relation(view.source, ctx, view)}) WHERE {' AND '.join(where)}"
            f"{cutoff_sql(ctx)}")
