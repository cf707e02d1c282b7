"""DuckDBRetrievalJob: a lazily executed DuckDB training-set query, streamed to Arrow or Parquet."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from featurestore.errors import DataSourceError, FeatureStoreError, OfflineStoreError
from featurestore.offline.protocol import BATCH_ROWS


def run_errors(err: duckdb.Error) -> FeatureStoreError:
    """A DuckDB error as a FeatureStoreError, without DuckDB's stack."""
    text = str(err).split("\n")[0]
    if isinstance(err, duckdb.IOException):
        return DataSourceError(f"reading a source failed: {text}")
    return OfflineStoreError(f"offline query failed: {text}")


def in_row_order(table: pa.Table, rows: int) -> pa.Table:
    """``table`` sorted by its first column, which holds each of 0 .. ``rows`` - 1 exactly once (a scatter, no sort)."""
    if table.num_rows != rows:
        raise OfflineStoreError(f"offline query returned {table.num_rows:,} rows for {rows:,} entity rows")
    position = table.column(0).to_numpy()
    take = np.empty(rows, dtype=np.int64)
    take[position] = np.arange(rows, dtype=np.int64)  # take[row] = where that row is in ``table``
    return table.take(take)


class DuckDBRetrievalJob:
    """The DuckDB :class:`~featurestore.offline.protocol.RetrievalJob`; nothing runs until you ask for data.

    In-memory entity frames are joined column-wise with the features (the entity
    columns come back exactly as given); Parquet entity paths stream through DuckDB.
    """

    def __init__(
        self,
        connect: Callable[[], duckdb.DuckDBPyConnection],
        sql: str,
        entity: pa.Table | None,
        feature_columns: list[str],
        setup: Sequence[str] = (),
        unordered: str | None = None,
    ) -> None:
        self._connect = connect
        self._sql = sql
        self._unordered = unordered  # ``sql`` without ORDER BY, its first column ``__fs_row`` (see to_arrow)
        self._setup = tuple(setup)  # statements run before ``sql`` in the same connection (e.g. temp tables)
        self._entity = entity
        self.feature_columns = feature_columns

    @property
    def sql(self) -> str:
        return self._sql

    def _con(self) -> duckdb.DuckDBPyConnection:
        con = self._connect()
        if self._entity is not None:
            rows = pa.array(np.arange(self._entity.num_rows, dtype=np.int64))  # pa.array(range(n)): 0.4 s per 1M
            con.register("__fs_entity", self._entity.append_column("__fs_row", rows))
        try:
            for statement in self._setup:
                con.execute(statement)
        except duckdb.Error as err:
            con.close()
            raise run_errors(err) from None
        return con

    def to_batches(self, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """Stream the training set in input order."""
        con = self._con()
        try:
            reader = con.sql(self._sql).to_arrow_reader(batch_rows)
            offset = 0
            for batch in reader:
                if self._entity is None:
                    yield batch
                    continue
                part = self._entity.slice(offset, batch.num_rows)
                offset += batch.num_rows
                arrays = [c.combine_chunks() for c in part.columns] + [batch.column(i + 1) for i in
                                                                       range(batch.num_columns - 1)]
                names = part.column_names + self.feature_columns
                yield pa.RecordBatch.from_arrays(arrays, names=names)
        except duckdb.Error as err:
            raise run_errors(err) from None
        finally:
            con.close()

    def to_arrow(self) -> pa.Table:
        """The training set as a ``pyarrow.Table``."""
        con = self._con()
        try:
            if self._entity is not None and self._unordered is not None:
                # input order restored here by a positional take, not by a sort in DuckDB
                result = in_row_order(con.sql(self._unordered).to_arrow_table(), self._entity.num_rows)
            else:
                result = con.sql(self._sql).to_arrow_table()
        except duckdb.Error as err:
            raise run_errors(err) from None
        finally:
            con.close()
        if self._entity is None:
            return result
        out = self._entity
        for i, name in enumerate(self.feature_columns):
            out = out.append_column(name, result.column(i + 1))
        return out

    def to_pandas(self) -> Any:
        return self.to_arrow().to_pandas()

    def to_polars(self) -> Any:
        import polars as pl

        return pl.from_arrow(self.to_arrow())

    def to_parquet(self, path: str | Path) -> Path:
        """Write the training set to a Parquet file, streaming (memory stays bounded)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        writer: pq.ParquetWriter | None = None
        try:
            for batch in self.to_batches():
                if writer is None:
                    writer = pq.ParquetWriter(tmp, batch.schema)
                writer.write_batch(batch)
            if writer is None:
                pq.write_table(self.to_arrow(), tmp)
        except BaseException:
            if writer is not None:
                writer.close()
            tmp.unlink(missing_ok=True)
            raise
        if writer is not None:
            writer.close()
        tmp.replace(path)
        return path
