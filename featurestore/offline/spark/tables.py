"""Offline feature tables on Spark (``materialize-offline``): a run's rows selected by the DuckDB engine's own SQL in
each bucket, sorted by Spark in the tie-break order, written by Spark, then streamed into the run's one file.

The rows of a run are what :func:`featurestore.offline.duckdb.feature_tables.rows_parts` selects (the view's raw
rows with event time in the range, the columns the view reads, the run's time), computed per bucket by a
:class:`~.kernel.Kernel` with the sort terms as extra columns; Spark sorts them all in that order (join keys, event
time, created time with nulls first, rank, ordinal: the order DuckDB's ``ORDER BY`` gives) and writes a temporary
folder; the driver streams its part files, in order and cast to the kernel's exact types, into the table's next
file, renamed into place as the DuckDB engine does. The file equals the DuckDB engine's (tested).
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from featurestore.definitions.feature_view import FeatureView
from featurestore.errors import InputError
from featurestore.naming import quote
from featurestore.offline.duckdb import feature_tables
from featurestore.offline.spark.errors import run, translated
from featurestore.offline.spark.kernel import Kernel, conform
from featurestore.offline.spark.sources import raw_input
from featurestore.utc import epoch_us

if TYPE_CHECKING:
    from featurestore.offline.spark.store import SparkOfflineStore

RAW = "__fs_raw"
BATCH_ROWS = 256 * 1024


def _through_spark(f: pa.Field) -> str:
    """A column of the file as Spark can carry it exactly: nanosecond times as epoch nanoseconds, unsigned integers
    widened (cast back by :func:`~.kernel.conform` on the driver)."""
    name = quote(f.name)
    if pa.types.is_timestamp(f.type) and f.type.unit == "ns":
        return f"epoch_ns({name})"
    if pa.types.is_unsigned_integer(f.type):
        return f"CAST({name} AS {'BIGINT' if f.type.bit_width < 64 else 'DECIMAL(20, 0)'})"
    return name


def write_feature_table(store: SparkOfflineStore, view: FeatureView, start: datetime | None, end: datetime,
                        materialized_at: datetime) -> int:
    """Append ``view``'s rows with event time in ``[start, end]`` to its feature table as one new file (see the
    module docstring); the rows written (no file when none)."""
    if store.feature_tables is None:
        raise InputError("this offline store has no feature tables folder (feature_tables.path)")
    mat_us = epoch_us(materialized_at)
    with translated([view]):
        ctx = store.inner.context([view])
        raw = raw_input(store.session, store.inner, view, ctx)
        inputs = ((RAW, raw.schema),)
        kctx = replace(ctx, registered=((view.name, RAW),))
        types = Kernel(inputs, "SELECT 1").column_types(RAW)
        cols, source, order = feature_tables.rows_parts(view, kctx, types, epoch_us(start) if start else None,
                                                        epoch_us(end), mat_us)
        sort = [f"__fs_s{i}" for i in range(len(order))]
        written = Kernel(inputs, f"SELECT {cols} {source}").output_schema()  # the DuckDB engine's file's types
        terms = [f"CAST({expr} AS INTEGER)" if expr == "__fs_rank" else expr for expr, _ in order]  # no UTINYINT
        carried = ", ".join(f"{_through_spark(f)} AS {quote(f.name)}" for f in written)
        sql = f"SELECT {carried}, " + ", ".join(f"{t} AS {s}" for t, s in zip(terms, sort, strict=True))
        kernel = Kernel(inputs, f"{sql} FROM (SELECT *, {cols} {source})", (), store.kernel_settings)
        frame, _ = store.per_bucket(view, raw.frame, kernel)
    from pyspark.sql import functions as F  # noqa: N812 - pyspark's own spelling

    spark_terms = [F.col(s).asc_nulls_first() if first else F.col(s).asc_nulls_last()
                   for s, (_, first) in zip(sort, order, strict=True)]
    ordered = frame.orderBy(*spark_terms).drop(*sort)
    tmp, final = feature_tables.new_file(store.feature_tables, view, mat_us)
    folder = tmp.with_name(f"{tmp.name}.{uuid.uuid4().hex[:8]}.parts")
    rows = 0
    try:
        run([view], lambda: ordered.write.mode("overwrite").parquet(str(folder.resolve())))
        with pq.ParquetWriter(tmp, written, compression="snappy") as out:
            for part in sorted(folder.glob("part-*.parquet")):
                for batch in pq.ParquetFile(part).iter_batches(BATCH_ROWS):
                    table = conform(pa.Table.from_batches([batch]), written)
                    out.write_table(table)
                    rows += table.num_rows
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if rows == 0:
        tmp.unlink()
        return 0
    feature_tables.publish(tmp, final)
    return rows
