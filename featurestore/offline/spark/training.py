"""A training set on Spark: per requested view, one cogroup of entity rows and source rows by bucket, each bucket
joined by the DuckDB engine's own point-in-time SQL (``pit_sql``) in a :class:`~.kernel.Kernel`.

Each view's result is ``__fs_row`` plus its output columns, one row per entity row, in any order; the job restores
input order on the driver (or through Spark when writing Parquet).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa

from featurestore.definitions.aggregate_view import SourcedView
from featurestore.naming import quote
from featurestore.offline.duckdb.pit import pit_sql
from featurestore.offline.duckdb.relations import SourceContext, utc_us
from featurestore.offline.duckdb.store import DuckDBOfflineStore, arrow_time_type
from featurestore.offline.entity_input import EntityInput
from featurestore.offline.spark.buckets import BUCKET, bucketed
from featurestore.offline.spark.kernel import BLOB_SCHEMA, Kernel, cogroup_blob_function, cogroup_function, spark_safe
from featurestore.offline.spark.sources import raw_input
from featurestore.resolution import ResolvedView

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

ENTITY, RAW = "__fs_entity", "__fs_raw"
TIME = "__fs_t"


@dataclass(frozen=True)
class ViewResult:
    """One view's part of a training set: ``frame`` (``__fs_row`` + outputs, Spark types) and the exact Arrow
    ``schema`` the DuckDB engine gives those columns."""

    request: ResolvedView
    frame: DataFrame
    schema: pa.Schema
    blobs: DataFrame
    """The same rows as one Arrow IPC blob per bucket (see :data:`~.kernel.BLOB_SCHEMA`)."""


def entity_table(inner: DuckDBOfflineStore, entity: EntityInput) -> pa.Table:
    """The entity rows as the DuckDB engine's result carries them: the given table, or the Parquet file read."""
    if entity.table is not None:
        return entity.table
    con = inner.connect()
    try:
        return con.sql(f"SELECT * FROM read_parquet({quote_path(str(entity.path))})").to_arrow_table()
    finally:
        con.close()


def quote_path(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def entity_keys(table: pa.Table, entity: EntityInput, requests: list[ResolvedView]) -> pa.Table:
    """What the kernels need of the entity rows: every key column the views join on, ``__fs_row`` (input position)
    and ``__fs_t`` (the entity time as a naive UTC timestamp, read with the DuckDB engine's own ``utc_us``)."""
    keys = sorted({col for r in requests for col, _ in r.keys})
    rows = pa.array(np.arange(table.num_rows, dtype=np.int64))
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("__fs_in", table.select([*keys, entity.timestamp_column]).append_column("__fs_row", rows))
        ts = utc_us(quote(entity.timestamp_column), arrow_time_type(entity.schema.field(entity.timestamp_column).type))
        cols = "".join(f"{quote(k)}, " for k in keys)
        return con.sql(f"SELECT {cols}__fs_row, make_timestamp({ts}) AS {TIME} FROM __fs_in").to_arrow_table()
    finally:
        con.close()


def view_result(spark: SparkSession, inner: DuckDBOfflineStore, ctx: SourceContext, entity: DataFrame,
                entity_schema: pa.Schema, request: ResolvedView, as_of_created: bool, buckets: int,
                settings: tuple[tuple[str, str], ...], index: int = 0) -> ViewResult:
    """The Spark plan of one view's part, the ``index``-th of its request (nothing runs yet but the driver's
    checks)."""
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    view: SourcedView = request.view
    raw = raw_input(spark, inner, view, ctx, request.features)
    keys = [col for col, _ in request.keys]
    e_schema = pa.schema([entity_schema.field(n) for n in [*keys, "__fs_row", TIME]])
    inputs = ((ENTITY, e_schema), (RAW, raw.schema))
    kctx = replace(ctx, registered=((view.name, RAW),))
    types = Kernel(inputs, "SELECT 1").column_types(RAW)
    query = pit_sql(ENTITY, TIME, "TIMESTAMP", None, [request], kctx, {view.name: types}, as_of_created)
    part = query.parts[0]
    kernel = Kernel(inputs, f"WITH {query.entity_cte} {part.best}", query.setup, settings)
    schema = kernel.output_schema()
    spark_schema = from_arrow_schema(schema)
    function = cogroup_function(kernel, to_arrow_schema(spark_schema, timezone="UTC", prefers_large_types=False))
    left = bucketed(entity.select(*keys, "__fs_row", TIME), keys, request.key_types, buckets)
    source_keys = [view.source_column(k) for k in request.join_keys]
    right = bucketed(raw.frame, source_keys, request.key_types, buckets)
    grouped = left.groupBy(BUCKET).cogroup(right.groupBy(BUCKET))
    frame = grouped.applyInArrow(function, spark_schema)
    blobs = grouped.applyInArrow(cogroup_blob_function(kernel, index), BLOB_SCHEMA)
    return ViewResult(request, frame, schema, blobs)


def entity_frame(spark: SparkSession, keys: pa.Table) -> DataFrame:
    """The entity key rows in Spark."""
    return spark.createDataFrame(spark_safe(keys))
