"""SparkRetrievalJob: a training set planned in Spark, computed when data is asked for.

``to_arrow`` (and ``to_batches``, ``to_pandas``, ``to_polars``) collect each view's part through Arrow and restore
input order on the driver: for results that fit the driver's memory. ``to_parquet`` writes through Spark to a
temporary folder next to the target and streams it into one Parquet file (the protocol's contract, with the exact
types of ``to_arrow``); :meth:`SparkRetrievalJob.write_folder` writes a Spark-partitioned folder (any Hadoop URL).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from featurestore.definitions.aggregate_view import SourcedView
from featurestore.offline.duckdb.job import in_row_order
from featurestore.offline.job_outputs import JobOutputs
from featurestore.offline.protocol import BATCH_ROWS
from featurestore.offline.spark.errors import run
from featurestore.offline.spark.kernel import conform, from_ipc, spark_safe
from featurestore.offline.spark.training import ViewResult

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


class SparkRetrievalJob(JobOutputs):
    """The Spark :class:`~featurestore.offline.protocol.RetrievalJob`: the entity rows as given, then each view's
    features, in input order; the same Arrow table as the DuckDB engine's job."""

    def __init__(self, spark: SparkSession, entity: pa.Table, parts: list[ViewResult]) -> None:
        self._spark = spark
        self._entity = entity
        self._parts = parts
        self.feature_columns = [o for p in parts for o in p.request.out_names]

    def _views(self) -> list[SourcedView]:
        return [p.request.view for p in self._parts]

    def to_arrow(self) -> pa.Table:
        """Collect every view's part in one Spark job (Arrow IPC blobs per bucket, the kernels' exact types) and put
        it in input order on the driver."""
        if not self._parts:
            return self._entity
        blobs = self._parts[0].blobs
        for part in self._parts[1:]:
            blobs = blobs.unionByName(part.blobs)
        collected = run(self._views(), blobs.toArrow)
        index = collected.column("__fs_v").to_pylist()
        data = collected.column("__fs_ipc").to_pylist()
        out = self._entity
        names = iter(self.feature_columns)
        for i, part in enumerate(self._parts):
            pieces = [from_ipc(d) for v, d in zip(index, data, strict=True) if v == i]
            table = pa.concat_tables([part.schema.empty_table(), *(p.cast(part.schema) for p in pieces)])
            table = in_row_order(table, out.num_rows)
            for column in table.columns[1:]:
                out = out.append_column(next(names), column)
        return out

    def to_batches(self, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """The training set in input order, ``batch_rows`` at a time (collected first: see the module doc)."""
        yield from self.to_arrow().to_batches(batch_rows)

    def frame(self) -> DataFrame:
        """The whole training set as one Spark DataFrame (entity columns, features, ``__fs_row``), not ordered."""
        out = self._spark.createDataFrame(spark_safe(self._entity.append_column(
            "__fs_row", pa.array(np.arange(self._entity.num_rows, dtype=np.int64)))))
        for part in self._parts:
            out = out.join(part.frame, on="__fs_row", how="left")
        return out

    def schema(self) -> pa.Schema:
        """The exact Arrow schema of :meth:`to_arrow`."""
        fields = list(self._entity.schema)
        names = iter(self.feature_columns)
        for part in self._parts:
            fields += [pa.field(next(names), f.type) for f in list(part.schema)[1:]]
        return pa.schema(fields)

    def write_folder(self, url: str, mode: str = "error") -> str:
        """Write the training set as a Spark-partitioned Parquet folder at ``url`` (local path or any Hadoop URL),
        rows ordered by input position across the part files; Spark's types (``mode``: Spark's save mode)."""
        ordered = self.frame().orderBy("__fs_row").drop("__fs_row")
        run(self._views(), lambda: ordered.write.mode(mode).parquet(url))
        return url

    def to_parquet(self, path: str | Path) -> Path:
        """Write through Spark to a temporary folder beside ``path``, then stream its part files, in order and cast to
        :meth:`schema`, into one Parquet file renamed into place (nothing is left behind on an error)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        folder = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.parts"
        tmp = path.with_name(path.name + ".tmp")
        schema = self.schema()
        try:
            self.write_folder(str(folder.resolve()), "overwrite")
            with pq.ParquetWriter(tmp, schema) as writer:
                for part in sorted(folder.glob("part-*.parquet")):
                    for batch in pq.ParquetFile(part).iter_batches(BATCH_ROWS):
                        writer.write_table(conform(pa.Table.from_batches([batch]), schema))
            tmp.replace(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return path
