"""SparkOfflineStore: training sets, spines and materialize's reads computed by Spark, one DuckDB kernel per bucket.

Heavy methods run on the cluster: :meth:`~SparkOfflineStore.historical` (training sets, see training.py),
:meth:`~SparkOfflineStore.spine`, :meth:`~SparkOfflineStore.latest_rows`,
:meth:`~SparkOfflineStore.write_latest_rows` (materialize writing to the online store from the executors),
:meth:`~SparkOfflineStore.write_feature_table` (``materialize-offline``, tables.py) and
:meth:`~SparkOfflineStore.aggregate_states` (aggregate views' online states, agg_states.py).
The others delegate to a DuckDB engine on the driver, reading the same sources: ``source_schema``,
``view_files``, ``write_push``, ``view_rows``, ``check_rows`` and ``bad_rows``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from featurestore.config import SparkOfflineConfig, resolve
from featurestore.definitions.aggregate_view import AggregateView, SourcedView
from featurestore.definitions.expect import Expectation
from featurestore.definitions.feature_view import FeatureView
from featurestore.definitions.sources import BatchSource, PushSource
from featurestore.naming import quote
from featurestore.offline.duckdb.latest import latest_sql
from featurestore.offline.duckdb.store import DuckDBOfflineStore, events_relation
from featurestore.offline.entity_input import EntityInput
from featurestore.offline.protocol import PartitionWriter
from featurestore.offline.spark.buckets import BUCKET, bucketed
from featurestore.offline.spark.errors import run, translated
from featurestore.offline.spark.job import SparkRetrievalJob
from featurestore.offline.spark.kernel import Kernel, conform, group_function, kernel_settings, partition_writes
from featurestore.offline.spark.session import open_session
from featurestore.offline.spark.sources import raw_input
from featurestore.offline.spark.training import entity_frame, entity_keys, entity_table, view_result
from featurestore.quality.checks import RowFilter
from featurestore.quality.report import Evaluation
from featurestore.resolution import ResolvedView
from featurestore.utc import epoch_us

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

RAW = "__fs_raw"


class SparkOfflineStore:
    """The Spark :class:`~featurestore.offline.protocol.OfflineStore` (see the module docstring).

    The session is opened when first needed (``session``); ``buckets`` (None: 3 x the default parallelism) is how
    many independent parts a join is cut into by entity key.
    """

    def __init__(self, config: SparkOfflineConfig, repo_path: Path, feature_tables: Path | None = None,
                 train_from_tables: bool = True) -> None:
        self.config = config
        temp = resolve(repo_path, config.temp_directory) if config.temp_directory else None
        self.inner = DuckDBOfflineStore(repo_path, memory_limit=config.memory_limit, temp_directory=temp,
                                        feature_tables=feature_tables, train_from_tables=train_from_tables)
        """The DuckDB engine on the driver: metadata, checks, and the methods delegated to it."""
        self.feature_tables = feature_tables
        self.kernel_settings = kernel_settings(config)
        """The DuckDB settings of every bucket's kernel."""
        self._spark: SparkSession | None = None

    @property
    def session(self) -> SparkSession:
        """The SparkSession (started on first use)."""
        if self._spark is None:
            self._spark = open_session(self.config)
        return self._spark

    @property
    def buckets(self) -> int:
        if self.config.buckets is not None:
            return self.config.buckets
        try:
            parallelism = int(self.session.sparkContext.defaultParallelism)
        except Exception:  # Spark Connect has no SparkContext
            parallelism = 4
        return max(1, 3 * parallelism)

    # -- on Spark ---------------------------------------------------------------------------------------------

    def historical(self, entity: EntityInput, requests: list[ResolvedView], as_of_created: bool = False,
                   as_of: datetime | None = None) -> SparkRetrievalJob:
        """The training set as a lazy job (plans are built and checked now, run when data is asked for)."""
        views = [r.view for r in requests]
        ctx = self.inner.training_context(views, as_of)
        table = entity_table(self.inner, entity)
        keys = entity_keys(table, entity, requests)
        spark = self.session
        frame = run(views, lambda: entity_frame(spark, keys))
        parts = []
        for i, r in enumerate(requests):
            with translated([r.view]):
                parts.append(view_result(spark, self.inner, ctx, frame, keys.schema, r, as_of_created, self.buckets,
                                         self.kernel_settings, i))
        return SparkRetrievalJob(spark, table, parts)

    def per_bucket(self, view: SourcedView, raw_frame: DataFrame, kernel: Kernel) -> tuple[DataFrame, pa.Schema]:
        """``kernel`` over the view's rows, bucket by bucket: the Spark frame and the exact Arrow schema."""
        from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

        schema = kernel.output_schema()
        spark_schema = from_arrow_schema(schema)
        function = group_function(kernel, to_arrow_schema(spark_schema, timezone="UTC", prefers_large_types=False))
        keys = [view.source_column(k.name) for k in view.key_fields]
        frame = bucketed(raw_frame, keys, [k.dtype for k in view.key_fields], self.buckets)
        return frame.groupBy(BUCKET).applyInArrow(function, spark_schema), schema

    def latest_frame(self, view: FeatureView, start: datetime | None, end: datetime,
                     exclude: RowFilter | None = None) -> tuple[DataFrame, pa.Schema]:
        """What :meth:`latest_rows` yields, as a Spark DataFrame (Spark types) and its exact Arrow schema: for
        writing from the executors (materialize)."""
        ctx = self.inner.context([view])
        raw = raw_input(self.session, self.inner, view, ctx)
        inputs = ((RAW, raw.schema),)
        kctx = replace(ctx, registered=((view.name, RAW),))
        sql = latest_sql(view, kctx, Kernel(inputs, "SELECT 1").column_types(RAW), start, end, exclude)
        return self.per_bucket(view, raw.frame, Kernel(inputs, sql, (), self.kernel_settings))

    def latest_rows(self, view: FeatureView, start: datetime | None, end: datetime, batch_rows: int = 65536,
                    exclude: RowFilter | None = None) -> Iterator[pa.RecordBatch]:
        """Per entity, the latest row in [start, end] (see the protocol); collected through Arrow, any order."""
        frame, schema = run([view], lambda: self.latest_frame(view, start, end, exclude))
        table = conform(run([view], frame.toArrow), schema)
        yield from table.to_batches(batch_rows)

    def write_latest_rows(self, view: FeatureView, start: datetime | None, end: datetime, writer: PartitionWriter,
                          exclude: RowFilter | None = None) -> tuple[int, int]:
        """:meth:`latest_rows`'s rows handed to ``writer`` on the executors, partition by partition (cast to their
        exact Arrow types first); returns the totals (rows given, rows written)."""
        frame, schema = run([view], lambda: self.latest_frame(view, start, end, exclude))
        counts = frame.mapInArrow(partition_writes(writer, schema), "rows long, written long")
        totals = run([view], lambda: counts.groupBy().sum("rows", "written").collect())
        return (int(totals[0][0] or 0), int(totals[0][1] or 0)) if totals else (0, 0)

    def spine(self, views: Sequence[SourcedView], start: datetime, end: datetime,
              as_of: datetime | None = None) -> pa.Table:
        """Distinct (keys, event time) per view on Spark; their union ordered on the driver by the DuckDB engine's
        own final query."""
        ctx = self.inner.training_context(views, as_of)
        cols = "".join(f"{quote(k)}, " for k in views[0].join_keys)
        parts = []
        for view in views:
            with translated([view]):
                raw = raw_input(self.session, self.inner, view, ctx)
                inputs = ((RAW, raw.schema),)
                kctx = replace(ctx, registered=((view.name, RAW),))
                rel = events_relation(view, kctx, Kernel(inputs, "SELECT 1").column_types(RAW))
                sql = (f"SELECT DISTINCT {cols}__fs_ev FROM ({rel}) "
                       f"WHERE __fs_ev BETWEEN {epoch_us(start)} AND {epoch_us(end)}")
                frame, schema = self.per_bucket(view, raw.frame, Kernel(inputs, sql, (), self.kernel_settings))
                parts.append(conform(frame.toArrow(), schema))
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            names = []
            for i, part in enumerate(parts):
                con.register(f"__fs_p{i}", part)
                names.append(f"SELECT {cols}__fs_ev FROM __fs_p{i}")
            return con.sql(
                f"SELECT {cols}CAST(make_timestamp(__fs_ev) AS TIMESTAMPTZ) AS event_timestamp FROM "
                f"(SELECT DISTINCT {cols}__fs_ev FROM ({' UNION ALL '.join(names)})) ORDER BY __fs_ev, {cols}1"
            ).to_arrow_table()
        finally:
            con.close()

    def write_feature_table(self, view: FeatureView, start: datetime | None, end: datetime,
                            materialized_at: datetime) -> int:
        """Append a run of ``view``'s rows to its offline feature table, computed and sorted by Spark (tables.py)."""
        from featurestore.offline.spark.tables import write_feature_table

        return write_feature_table(self, view, start, end, materialized_at)

    def aggregate_states(self, view: AggregateView, snapshot: datetime,
                         page_entities: int = 16384) -> Iterator[tuple[pa.Table, pa.Table]]:
        """Per page of entities of an aggregate view, the parts of their online states, computed per bucket by the
        DuckDB engine's own queries on Spark (agg_states.py)."""
        from featurestore.offline.spark.agg_states import aggregate_states

        return aggregate_states(self, view, snapshot, page_entities)

    # -- on the driver (DuckDB) -------------------------------------------------------------------------------

    def source_schema(self, source: BatchSource | PushSource, view: FeatureView | None = None) -> pa.Schema:
        return self.inner.source_schema(source, view)

    def view_files(self, view: SourcedView, tables: bool = True) -> list[str]:
        return self.inner.view_files(view, tables)

    def write_push(self, push: PushSource, table: pa.Table) -> None:
        self.inner.write_push(push, table)

    def view_rows(self, view: FeatureView, start: datetime | None, end: datetime | None,
                  features: Sequence[str], sample_rows: int | None = None,
                  batch_rows: int = 256 * 1024) -> Iterator[pa.RecordBatch]:
        return self.inner.view_rows(view, start, end, features, sample_rows, batch_rows)

    def check_rows(self, view: FeatureView, start: datetime | None, end: datetime | None,
                   expectations: Sequence[Expectation], now: datetime) -> Evaluation:
        return self.inner.check_rows(view, start, end, expectations, now)

    def bad_rows(self, view: FeatureView, start: datetime | None, end: datetime | None,
                 expectations: Sequence[Expectation], now: datetime) -> pa.Table:
        return self.inner.bad_rows(view, start, end, expectations, now)




    def close(self) -> None:
        """Close the driver's DuckDB engine; the SparkSession stays (one per process, shared)."""
        self.inner.close()


__all__ = ["SparkOfflineStore"]
