"""DuckDBRetrievalJob: a lazily executed DuckDB training-set query, streamed to Arrow or Parquet."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from featurestore.errors import FeatureStoreError, OfflineStoreError
from featurestore.offline.duckdb.failures import describe_error
from featurestore.offline.duckdb.pit import PitQuery
from featurestore.offline.job_outputs import JobOutputs
from featurestore.offline.protocol import BATCH_ROWS


def run_errors(err: Exception) -> FeatureStoreError:
    """A DuckDB error as a FeatureStoreError, without DuckDB's stack (no source known: see failures.py)."""
    return describe_error(err)


def in_row_order(table: pa.Table, rows: int) -> pa.Table:
    """``table`` sorted by its first column, which holds each of 0 .. ``rows`` - 1 exactly once (a scatter, no sort)."""
    if table.num_rows != rows:
        raise OfflineStoreError(f"offline query returned {table.num_rows:,} rows for {rows:,} entity rows")
    position = table.column(0).to_numpy()
    take = None
    columns = []
    for column in table.columns:
        scattered = _scatter(column, position, rows)
        if scattered is None:  # not fixed-width: a gather (pyarrow's take), slower on this random order
            if take is None:
                take = np.empty(rows, dtype=np.int64)
                take[position] = np.arange(rows, dtype=np.int64)  # take[row] = where that row is in ``table``
            scattered = column.take(take).combine_chunks()
        columns.append(scattered)
    return pa.Table.from_arrays(columns, schema=table.schema)


def _scatter(column: pa.ChunkedArray, position: np.ndarray, rows: int) -> pa.Array | None:
    """``out[position[i]] = column[i]`` for fixed-width types (numbers, times), values and validity; else None."""
    t = column.type
    if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_temporal(t)) or rows == 0:
        return None
    if t.bit_width not in (8, 16, 32, 64):
        return None
    arr = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    n, offset, width = len(arr), arr.offset, t.bit_width // 8
    validity, data = arr.buffers()[:2]
    values = np.empty(rows, dtype=f"u{width}")
    values[position] = np.frombuffer(data, dtype=f"u{width}", count=offset + n)[offset:]
    mask = None
    if arr.null_count and validity is not None:
        valid = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")[offset:offset + n]
        scattered = np.empty(rows, dtype=np.uint8)
        scattered[position] = valid
        mask = pa.py_buffer(np.packbits(scattered, bitorder="little"))
    return pa.Array.from_buffers(t, rows, [mask, pa.py_buffer(values)], null_count=arr.null_count)


def best_of_ties(table: pa.Table, rows: int, keep_tie_columns: bool = False) -> pa.Table:
    """Per ``__fs_row``, the row with the greatest (``__fs_cr``, ``__fs_ro``), without those two columns.

    ``table`` has each ``__fs_row`` of 0 .. ``rows`` - 1 at least once (rows without a match once, with both
    null), so with exactly ``rows`` rows there is no tie to resolve.
    """
    drop = [] if keep_tie_columns else ["__fs_cr", "__fs_ro"]
    if table.num_rows == rows:
        return table.drop_columns(drop)
    row = table.column("__fs_row").to_numpy()
    created = pc.fill_null(table.column("__fs_cr"), np.iinfo(np.int64).min).to_numpy()
    ro = pc.fill_null(table.column("__fs_ro"), np.iinfo(np.int64).min).to_numpy()
    order = np.lexsort((ro, created, row))  # by row, then created, then (rank, ordinal): the best is last
    ordered = row[order]
    last = np.append(ordered[1:] != ordered[:-1], True)
    return table.take(order[last]).drop_columns(drop)


def fetch_best_of_ties(reader: pa.RecordBatchReader, rows: int) -> pa.Table:
    """Read a part with ties (see ``pit.ViewPart``), resolving them whenever more than 2 x ``rows`` rows are held.

    Every row tied on event time comes back for each entity row that matched it: memory stays bounded
    however many ties the source has.
    """
    held: list[pa.RecordBatch] = []
    count = 0
    for batch in reader:
        held.append(batch)
        count += batch.num_rows
        if count > 2 * rows:
            table = best_of_ties(pa.Table.from_batches(held, reader.schema), -1, keep_tie_columns=True)
            held, count = table.to_batches(), table.num_rows
    return best_of_ties(pa.Table.from_batches(held, reader.schema), rows)


class DuckDBRetrievalJob(JobOutputs):
    """The DuckDB :class:`~featurestore.offline.protocol.RetrievalJob`; nothing runs until you ask for data.

    In-memory entity frames are joined column-wise with the features (the entity
    columns come back exactly as given); Parquet entity paths stream through DuckDB.
    """

    def __init__(
        self,
        connect: Callable[[], duckdb.DuckDBPyConnection],
        query: PitQuery,
        entity: pa.Table | None,
        feature_columns: list[str],
        errors: Callable[[Exception], FeatureStoreError] = run_errors,
    ) -> None:
        self._connect = connect
        self._errors = errors  # a DuckDB error as a featurestore error naming the view and source at fault
        self._query = query
        self._sql = query.sql
        self._setup = query.setup  # statements run before ``sql`` in the same connection (e.g. temp tables)
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
                if isinstance(statement, str):
                    con.execute(statement)
                else:
                    statement(con)
        except (duckdb.Error, OSError) as err:
            con.close()
            raise self._errors(err) from None
        except BaseException:
            con.close()
            raise
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
        except (duckdb.Error, OSError) as err:  # streamed through Arrow, DuckDB's errors are OSErrors
            raise self._errors(err) from None
        finally:
            con.close()

    def to_arrow(self) -> pa.Table:
        """The training set as a ``pyarrow.Table``."""
        con = self._con()
        try:
            if self._entity is None:
                return con.sql(self._sql).to_arrow_table()
            # each view on its own, rows in any order; ties resolved and input order restored here, without
            # a sort in DuckDB
            out, names = self._entity, iter(self.feature_columns)
            for part in self._query.parts:
                if part.ties:
                    result = fetch_best_of_ties(con.sql(self._query.part_sql(part)).to_arrow_reader(BATCH_ROWS),
                                                out.num_rows)
                else:
                    result = con.sql(self._query.part_sql(part)).to_arrow_table()
                result = in_row_order(result, out.num_rows)
                for column in result.columns[1:]:
                    out = out.append_column(next(names), column)
            return out
        except (duckdb.Error, OSError) as err:  # streamed through Arrow, DuckDB's errors are OSErrors
            raise self._errors(err) from None
        finally:
            con.close()
