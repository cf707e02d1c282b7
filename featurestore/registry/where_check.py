"""``apply``'s check of an aggregation's ``where``: DuckDB parses and binds it over no rows of the source.

The predicate is evaluated offline, at materialize and at push as ``CASE WHEN (<where>) THEN ... END`` over the
raw source columns (``offline/duckdb/agg_inputs.py``); here the same text is bound, in that form and alone, over
an empty relation of the source's Arrow schema, so a syntax error, an unknown column, a value that is not a
boolean or a second statement is refused when the view is applied, never at the first training set.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

RELATION = "__fs_where_source"
"""The name of the empty relation the predicate is bound over."""


def where_error(where: str, schema: pa.Schema) -> str | None:
    """Why ``where`` is not a boolean DuckDB predicate over a row of a source with ``schema`` (None: it is).

    >>> schema = pa.schema([("status", pa.string()), ("amount", pa.float64())])
    >>> where_error("status = 'declined' AND amount > 10", schema) is None
    True
    >>> where_error("amount + 1", schema)
    'it is of type DOUBLE, not a boolean'
    """
    lone = f"SELECT (\n{where}\n) AS __fs_where FROM {RELATION}"
    # as the engines use it, beside the other columns (an aggregate function cannot bind there)
    used = f"SELECT *, CASE WHEN (\n{where}\n) THEN 1 END AS __fs_value FROM {RELATION}"
    con = duckdb.connect()
    try:
        con.register(RELATION, pa.Table.from_batches([], schema=_plain(schema)))
        for sql in (lone, used):
            try:
                statements = duckdb.extract_statements(sql)
            except duckdb.Error as err:
                return _message(err)
            if len(statements) != 1:
                return "it is more than one SQL statement (a predicate is one expression)"
            try:
                types = con.sql(sql).types
            except duckdb.Error as err:
                return _message(err)
            if sql is lone and str(types[0]) != "BOOLEAN":
                return f"it is of type {types[0]}, not a boolean"
        return None
    finally:
        con.close()


def _plain(schema: pa.Schema) -> pa.Schema:
    """The schema without metadata (a pandas or extension note would not change what binds)."""
    return pa.schema([pa.field(f.name, f.type) for f in schema])


def _message(err: duckdb.Error) -> str:
    """DuckDB's message, on one line, without the SQL this module wrapped around the predicate (DuckDB quotes
    the line in error after a blank line: ``LINE 3: ...``)."""
    text = " ".join(str(err).split("\n\nLINE ")[0].split())
    return text.replace(RELATION, "the source")
