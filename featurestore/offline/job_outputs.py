"""What every training-set job gives from its Arrow forms: pandas, Polars and a Parquet file.

A job class defines ``to_arrow()``, ``to_batches()`` and ``feature_columns``; :class:`JobOutputs` adds
the rest of :class:`~featurestore.offline.protocol.RetrievalJob`, the same for every job.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from featurestore.frames import to_pandas
from featurestore.offline.protocol import BATCH_ROWS


class JobOutputs:
    """``to_pandas``, ``to_polars`` and ``to_parquet`` from ``to_arrow`` and ``to_batches``."""

    feature_columns: list[str]

    def to_arrow(self) -> pa.Table:
        raise NotImplementedError

    def to_batches(self, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def to_pandas(self) -> Any:
        """As a pandas DataFrame; integer and bool features use pandas' nullable dtypes (``Int64``, ``boolean``), so
        values round-trip exactly with nulls (no float64)."""
        return to_pandas(self.to_arrow(), self.feature_columns)

    def to_polars(self) -> Any:
        """As a Polars DataFrame (from the Arrow table, without copying where Polars can)."""
        import polars as pl

        return pl.from_arrow(self.to_arrow())

    def to_parquet(self, path: str | Path) -> Path:
        """Write the training set to a Parquet file, streaming (memory stays bounded), atomically (a ``.tmp``
        file renamed at the end; nothing is left behind on an error)."""
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
