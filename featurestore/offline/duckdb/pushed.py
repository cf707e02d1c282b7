"""The inputs of pushed rows of an aggregate view, computed by DuckDB with the SQL of the offline path.

A push to a push source feeding an aggregate view appends each row online as a record holding the row's
event time and its inputs (one value per :attr:`AggregateView.inputs`, null when the row does not count).
They come from :func:`~featurestore.offline.duckdb.agg_inputs.input_sql` over the rows as the offline store
will hold them (cast to the source's types, the source's columns it lacks null), so ``where``, the NaN rule
and the casts cannot differ between the two paths.
"""

from __future__ import annotations

import threading
from typing import Any

import duckdb
import pyarrow as pa

from featurestore.definitions.aggregate_view import AggInput, AggregateView
from featurestore.definitions.sources import batch_of
from featurestore.errors import InputError
from featurestore.naming import quote
from featurestore.offline.duckdb.agg_inputs import input_name, input_sql
from featurestore.offline.duckdb.relations import utc_us

ROW = "__fs_row"
_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection of this thread (one per thread: pushes run in several)."""
    con: duckdb.DuckDBPyConnection | None = getattr(_local, "con", None)
    if con is None:
        con = _local.con = duckdb.connect(config={"threads": 1})
    return con


def with_source_columns(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` plus a null column for each column of ``schema`` it lacks (as the offline read sees them)."""
    for f in schema:
        if f.name not in table.column_names:
            table = table.append_column(f, pa.nulls(table.num_rows, f.type))
    return table


def _describe(inp: AggInput) -> str:
    what = f"column {inp.column!r}" if inp.column is not None else "the row count"
    return what + (f" where {inp.where!r}" if inp.where is not None else "")


def pushed_inputs(view: AggregateView, table: pa.Table) -> tuple[list[int | None], list[tuple[Any, ...]]]:
    """Per row of ``table`` (named like the source, in the offline source's types), in row order: the event
    time in UTC epoch microseconds (None when null) and the tuple of its ``__fs_in{i}`` values.

    An input DuckDB cannot compute (a ``where`` naming no column, a value that does not cast) raises an
    InputError naming the view and the input.
    """
    con = _connection()
    rows = table.append_column(ROW, pa.array(range(table.num_rows), pa.int64()))
    name = f"__fs_pushed_{threading.get_ident()}"
    con.register(name, rows)
    try:
        types = {r[0]: r[1] for r in con.execute(f"DESCRIBE {name}").fetchall()}
        ts = batch_of(view.source).timestamp_field
        cols = [f"{utc_us(quote(ts), types.get(ts, ''))} AS __fs_ev"]
        cols += [f"{input_sql(view, inp)} AS {input_name(i)}" for i, inp in enumerate(view.inputs)]
        try:
            out = con.execute(f"SELECT {', '.join(cols)} FROM {name} ORDER BY {ROW}").fetchall()
        except duckdb.Error as err:
            raise _culprit(con, view, name, err) from None
    finally:
        con.unregister(name)
    return [r[0] for r in out], [tuple(r[1:]) for r in out]


def _culprit(con: duckdb.DuckDBPyConnection, view: AggregateView, name: str, err: duckdb.Error) -> InputError:
    """The error naming the first input DuckDB cannot compute (or the event time when every input can)."""
    where = f"rows pushed for aggregate view {view.name!r}"
    for inp in view.inputs:
        try:
            con.execute(f"SELECT {input_sql(view, inp)} FROM {name}").fetchall()
        except duckdb.Error as one:
            return InputError(f"{where}: {_describe(inp)} cannot be computed: {_first_line(one)}", view=view.name,
                              column=inp.column)
    ts = batch_of(view.source).timestamp_field
    return InputError(f"{where}: event timestamp column {ts!r} cannot be read: {_first_line(err)}",
                      view=view.name, column=ts)


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
