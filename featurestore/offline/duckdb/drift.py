"""Source schema drift: a source's column types, read on every query, against the view's declared types.

``apply`` checks a view's columns once; a file added later may hold other types (2.4 in an Int64 feature,
text in a Float64 one). Every read checks the ``DESCRIBE`` types again with the rule ``apply`` uses
(:meth:`~featurestore.types.ValueType.accepts` on the Arrow type DuckDB gives the column), so a value is
never rounded, parsed or overflowed into a declared type silently.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import duckdb
import pyarrow as pa

from featurestore import types
from featurestore.definitions.aggregate_view import SourcedView, source_columns, view_label
from featurestore.definitions.sources import batch_of
from featurestore.errors import DataSourceError

_lock = threading.Lock()

KNOWN: dict[str, pa.DataType] = {
    "BOOLEAN": pa.bool_(), "TINYINT": pa.int8(), "SMALLINT": pa.int16(), "INTEGER": pa.int32(),
    "BIGINT": pa.int64(), "UTINYINT": pa.uint8(), "USMALLINT": pa.uint16(), "UINTEGER": pa.uint32(),
    "UBIGINT": pa.uint64(), "FLOAT": pa.float32(), "DOUBLE": pa.float64(), "VARCHAR": pa.string(),
    "BLOB": pa.binary(), "DATE": pa.date32(), "TIMESTAMP": pa.timestamp("us"),
    "TIMESTAMP WITH TIME ZONE": pa.timestamp("us", tz="UTC"), "TIMESTAMP_S": pa.timestamp("s"),
    "TIMESTAMP_MS": pa.timestamp("ms"), "TIMESTAMP_NS": pa.timestamp("ns"),
    "TIMESTAMPTZ_NS": pa.timestamp("ns", tz="UTC"),
}
"""The common type names, and their lists (``T[]``), without asking DuckDB: asking costs a connection
(~17 ms) per name and process. ``tests/offline/test_source_drift.py`` checks each against DuckDB's answer."""


def arrow_type(duckdb_type: str) -> pa.DataType | None:
    """The Arrow type DuckDB gives a column of ``duckdb_type`` (a ``DESCRIBE`` type name); None if unknown.

    >>> arrow_type("BIGINT"), arrow_type("DOUBLE[]")
    (DataType(int64), ListType(list<l: double>))
    """
    known = KNOWN.get(duckdb_type)
    if known is not None:
        return known
    if duckdb_type.endswith("[]") and duckdb_type[:-2] in KNOWN:
        return pa.list_(pa.field("l", KNOWN[duckdb_type[:-2]]))
    return duckdb_arrow_type(duckdb_type)


@lru_cache(maxsize=256)
def duckdb_arrow_type(duckdb_type: str) -> pa.DataType | None:
    """:func:`arrow_type` computed by DuckDB itself (the type ``apply`` saw through ``source_schema``)."""
    with _lock:
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            return con.sql(f"SELECT CAST(NULL AS {duckdb_type}) AS c LIMIT 0").to_arrow_table().schema.field(0).type
        except duckdb.Error:
            return None
        finally:
            con.close()


def check_source_types(view: SourcedView, column_types: dict[str, str], features: tuple[str, ...],
                       names_only: bool = False) -> None:
    """Raise a :class:`DataSourceError` if a source column of ``features``, a join key or a time column is
    missing or now holds a type its declared type does not accept (``column_types``: the source's ``DESCRIBE``).

    Time columns follow apply's rule: a timestamp (any unit, naive or aware) or a date. ``names_only``: check
    that the columns are there, not their types.
    """
    batch = batch_of(view.source)
    declared = source_columns(view, features)
    times = [batch.timestamp_field, *([batch.created_timestamp_field] if batch.created_timestamp_field else [])]
    declared.update({col: types.Timestamp for col in times})  # apply's rule for time columns: timestamp or date
    where = f"{view_label(view)} {view.name!r}: source {batch.describe()}"
    for col, dtype in declared.items():
        found = column_types.get(col)
        if found is None:
            raise DataSourceError(f"{where} has no column {col!r} any more (it has {sorted(column_types)})",
                                  view=view.name, column=col, source=batch.describe())
        t = None if names_only else arrow_type(found)
        if t is not None and not dtype.accepts(t):
            raise DataSourceError(
                f"{where}: column {col!r} is declared {dtype.name} but the source now holds {found} ({t}); "
                "values are never rounded or converted: fix the data or the view's schema",
                view=view.name, column=col, source=batch.describe())


__all__ = ["arrow_type", "check_source_types"]
