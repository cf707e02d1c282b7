"""How the Spark engine reads a view's source: the rows DuckDB's ``raw_relation`` would read, as a DataFrame.

Parquet files (batch, pushed, a transform's output, an offline feature table) are read by Spark. Their
``__fs_ord`` is built exactly as DuckDB builds it: the file's index in featurestore's own sorted file list times
``FILE_SHIFT`` plus ``_metadata.row_index``. Spark names files by URI, so the index comes from a broadcast map of
normalized paths (never by comparing two engines' path strings); a file missing from the map fails the job.
Other sources (CSV: Spark has no row index for it; DuckDB tables and queries) are read on the driver by DuckDB
and handed to Spark: exact, but bounded by the driver's memory.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from featurestore.definitions.aggregate_view import SourcedView, source_columns
from featurestore.definitions.batch_transform import ORDINAL
from featurestore.definitions.feature_view import FeatureView
from featurestore.definitions.sources import ParquetSource, PushSource, batch_of
from featurestore.offline.duckdb.relations import (
    BATCH_RANK,
    FILE_SHIFT,
    MATERIALIZED_AT,
    PUSHED_RANK,
    SourceContext,
    _expand,
    push_dir,
    raw_relation,
)
from featurestore.offline.duckdb.store import DuckDBOfflineStore
from featurestore.offline.spark.kernel import spark_safe

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass(frozen=True)
class RawInput:
    """A view's raw rows in Spark and the Arrow schema DuckDB reads them with (the kernel casts back to it)."""

    frame: DataFrame
    schema: pa.Schema
    scales: bool
    """Whether Spark reads the files (False: read on the driver by DuckDB)."""


def needed(view: SourcedView, schema: pa.Schema, features: tuple[str, ...] | None) -> pa.Schema:
    """``schema`` pruned to what reading ``features`` of ``view`` needs (all of it for aggregate views)."""
    if not isinstance(view, FeatureView) or features is None:
        return schema
    batch = batch_of(view.source)
    keep = {*source_columns(view, features), batch.timestamp_field, "__fs_rank", "__fs_ord"}
    if batch.created_timestamp_field:
        keep.add(batch.created_timestamp_field)
    return pa.schema([f for f in schema if f.name in keep])


def raw_input(spark: SparkSession, inner: DuckDBOfflineStore, view: SourcedView, ctx: SourceContext,
              features: tuple[str, ...] | None = None) -> RawInput:
    """The raw rows of ``view`` (only the columns reading ``features`` needs; None: all), as ``ctx`` reads them.

    Errors DuckDB finds reading the metadata (a missing file, a column gone) are raised here, on the driver, as the
    DuckDB engine raises them.
    """
    relation = raw_relation(view.source, ctx, view)
    con = inner.connect([view.source], [view])
    try:
        schema = needed(view, con.sql(f"SELECT * FROM ({relation}) LIMIT 0").to_arrow_table().schema, features)
        if not _spark_reads(view, ctx):
            table = con.sql(f"SELECT {_names(schema)} FROM ({relation})").to_arrow_table()
            return RawInput(spark.createDataFrame(spark_safe(table)), schema, False)
    except (duckdb.Error, OSError) as err:
        raise inner._errors(err, [view.source], [view]) from None
    finally:
        con.close()
    return RawInput(_spark_frame(spark, view, ctx, schema), schema, True)


def _names(schema: pa.Schema) -> str:
    return ", ".join('"' + n.replace('"', '""') + '"' for n in schema.names)


def _spark_reads(view: SourcedView, ctx: SourceContext) -> bool:
    if any(name == view.name for name, _ in ctx.tables) or ctx.transformed_file(view) is not None:
        return True
    return isinstance(batch_of(view.source), ParquetSource)


def _spark_frame(spark: SparkSession, view: SourcedView, ctx: SourceContext, schema: pa.Schema) -> DataFrame:
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention

    columns = [n for n in schema.names if n not in ("__fs_rank", "__fs_ord")]
    table = next((files for name, files in ctx.tables if name == view.name), None)
    if table is not None:
        frame = read_files(spark, list(table), BATCH_RANK)
        if ctx.as_of_us is not None:
            frame = frame.where(F.col(MATERIALIZED_AT) <= F.lit(ctx.as_of_us))
        return frame.select(*columns, "__fs_rank", "__fs_ord")
    transformed = ctx.transformed_file(view)
    if transformed is not None:
        ordinal = F.col(ORDINAL)
        return spark.read.parquet(transformed).select(
            *columns, F.shiftright(ordinal, 62).cast("smallint").alias("__fs_rank"),
            (ordinal.bitwiseAND(F.lit((1 << 62) - 1))).alias("__fs_ord"))
    batch = batch_of(view.source)
    assert isinstance(batch, ParquetSource)
    frame = read_files(spark, _expand(ctx.path(batch.path), ".parquet"), BATCH_RANK)
    if isinstance(view.source, PushSource):
        pushed = sorted(glob.glob(str(push_dir(view.source, ctx) / "*.parquet")))
        if pushed:
            frame = frame.unionByName(read_files(spark, pushed, PUSHED_RANK), allowMissingColumns=True)
    return frame.select(*columns, "__fs_rank", "__fs_ord")


def normalized(path: str) -> str:
    """A local file's path as the rank map keys it (absolute, normalized)."""
    return os.path.normpath(os.path.abspath(path))


MAP_FILES = 2048
"""Up to this many files, the path -> index map is a literal map in the plan; beyond, a broadcast join."""


def read_files(spark: SparkSession, files: list[str], rank: int) -> DataFrame:
    """Every column of the Parquet ``files`` plus ``__fs_rank`` = ``rank`` and ``__fs_ord`` = index in ``files`` *
    FILE_SHIFT + row index in the file."""
    from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention

    frame = spark.read.option("mergeSchema", "true").parquet(*files)
    columns = frame.columns
    uri = F.col("_metadata.file_path")
    # file:/a%20b.parquet (Spark's URI) -> /a b.parquet; '+' is literal in a URI path, not a space
    local = F.url_decode(F.replace(F.regexp_replace(uri, r"^file:(//)?", ""), F.lit("+"), F.lit("%2B")))
    frame = frame.select(*columns, local.alias("__fs_npath"), uri.alias("__fs_uri"),
                         F.col("_metadata.row_index").alias("__fs_rix"))
    if len(files) <= MAP_FILES:
        pairs = [item for i, f in enumerate(files) for item in (F.lit(normalized(f)), F.lit(i))]
        frame = frame.withColumn("__fs_fidx", F.create_map(*pairs)[F.col("__fs_npath")])
    else:
        ranks = spark.createDataFrame(
            pa.table({"__fs_npath": [normalized(f) for f in files], "__fs_fidx": list(range(len(files)))}))
        frame = frame.join(F.broadcast(ranks), on="__fs_npath", how="left")
    index = F.when(F.col("__fs_fidx").isNull(),
                   F.raise_error(F.concat(F.lit("file not in featurestore's file list: "), F.col("__fs_uri"))))
    return frame.select(
        *columns, F.lit(rank).cast("smallint").alias("__fs_rank"),
        (index.otherwise(F.col("__fs_fidx")).cast("bigint") * F.lit(FILE_SHIFT) + F.col("__fs_rix")).alias("__fs_ord"))
