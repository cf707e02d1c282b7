"""The narrow interface an offline engine implements, and the job a training-set query returns.

Everything crossing it is engine-neutral: definitions (:class:`FeatureView`, sources),
:class:`ResolvedView`, :class:`EntityInput`, datetimes and Arrow tables / record batches. Times
inside record batches are UTC epoch microseconds (:mod:`featurestore.utc`). DuckDB implements it
in :class:`~featurestore.offline.duckdb.store.DuckDBOfflineStore`; an engine is built from the
config by :func:`featurestore.offline.factory.open_offline_store`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

from featurestore.definitions.aggregate_view import AggregateView, SourcedView
from featurestore.definitions.expect import Expectation
from featurestore.definitions.feature_view import FeatureView
from featurestore.definitions.sources import BatchSource, PushSource
from featurestore.offline.entity_input import EntityInput
from featurestore.quality.checks import RowFilter
from featurestore.quality.report import Evaluation
from featurestore.resolution import ResolvedView

BATCH_ROWS = 256 * 1024
"""Default rows per record batch of :meth:`RetrievalJob.to_batches`."""


@runtime_checkable
class RetrievalJob(Protocol):
    """The result of ``get_historical_features``; nothing runs until you ask for data.

    Rows come back in the entity frame's order, with its columns as given, then the
    requested features.
    """

    def to_batches(self, batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """Stream the training set in input order (memory stays bounded)."""
        ...

    def to_arrow(self) -> pa.Table:
        """The training set as a ``pyarrow.Table``."""
        ...

    def to_pandas(self) -> Any:
        """The training set as a pandas DataFrame."""
        ...

    def to_polars(self) -> Any:
        """The training set as a polars DataFrame."""
        ...

    def to_parquet(self, path: str | Path) -> Path:
        """Write the training set to one Parquet file, atomically; returns its path."""
        ...


@runtime_checkable
class OfflineStore(Protocol):
    """An offline engine: reads the batch (and pushed) sources of feature views where they are.

    Errors are :class:`~featurestore.errors.FeatureStoreError` subclasses
    (:class:`~featurestore.errors.DataSourceError` for a source that cannot be read), never
    the engine's own exceptions.
    """

    def source_schema(self, source: BatchSource | PushSource, view: FeatureView | None = None) -> pa.Schema:
        """The Arrow schema of a source's columns, as stored (before ``field_mapping``).

        With ``view``, the source is read as for that view (columns the view declares read as declared where the
        format has no types of its own, as in CSV) and errors name the view.
        """
        ...

    def historical(self, entity: EntityInput, requests: list[ResolvedView],
                   as_of_created: bool = False, as_of: datetime | None = None) -> RetrievalJob:
        """The point-in-time join of ``requests`` onto the entity rows (rules: see the README), lazily.

        ``as_of`` (aware UTC): a global cutoff, only the rows known then are read (event time and, when the source
        has one, created time at or before it), so rows landing later never change the result.
        """
        ...

    def spine(self, views: Sequence[SourcedView], start: datetime, end: datetime,
              as_of: datetime | None = None) -> pa.Table:
        """Every distinct (join keys, event time) of the views' sources in ``[start, end]``, ordered by time
        (``as_of``: only rows known then, as for :meth:`historical`).

        Columns: the (shared) join keys, then ``event_timestamp`` (UTC). ``start``/``end`` are aware UTC.
        """
        ...

    def latest_rows(
        self, view: FeatureView, start: datetime | None, end: datetime, batch_rows: int = 65536,
        exclude: RowFilter | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Per entity, the latest row with event time in ``[start, end]`` (rows without a key are skipped).

        Columns: join keys, features, ``__fs_ev`` and ``__fs_cr`` (epoch µs;
        ``__fs_cr`` is :data:`featurestore.utc.MIN_US` when unknown). Ties: latest
        created time, then the row read last (pushed rows after batch rows). ``exclude``: rows failing its
        row-level checks are left out before the pick (each entity gets its latest good row).
        """
        ...

    def view_rows(self, view: FeatureView, start: datetime | None, end: datetime | None,
                  features: Sequence[str], sample_rows: int | None = None,
                  batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """The ``features`` (cast as declared) of the view's source rows with event time in ``[start, end]``
        (either open), in no particular order: what statistics are computed over.

        With ``sample_rows``, a deterministic sample of at most that many of those rows (every row when there
        are fewer), spread over the whole range.
        """
        ...

    def check_rows(self, view: FeatureView, start: datetime | None, end: datetime | None,
                   expectations: Sequence[Expectation], now: datetime) -> Evaluation:
        """``expectations`` evaluated over the rows :meth:`latest_rows` would read in ``[start, end]`` (None:
        unbounded), as the view names its columns; ``now`` is the time of ``not_future``. All checks in one
        query (see :mod:`featurestore.quality.checks`)."""
        ...

    def bad_rows(self, view: FeatureView, start: datetime | None, end: datetime | None,
                 expectations: Sequence[Expectation], now: datetime) -> pa.Table:
        """The rows of :meth:`check_rows` failing a row-level check: join keys, features, ``__fs_ev`` and
        ``__fs_reason`` (the failed checks' labels joined by ``"; "``)."""
        ...

    def aggregate_states(self, view: AggregateView, snapshot: datetime,
                         page_entities: int = 16384) -> Iterator[tuple[pa.Table, pa.Table]]:
        """Per entity of an aggregate view, the parts of its online state at ``snapshot`` (S), page by page.

        Reads the view's events with created time before S. Yields per page of at most ``page_entities`` entities
        ``(entities, tail)``: one row per entity (``__fs_e``, its number, then join keys, newest event time before
        S and its collapsed IRs) and the page's tail rows ordered by ``__fs_e`` then time. Columns: see
        ``featurestore/offline/duckdb/agg_states.py`` (the DuckDB engine's queries).
        """
        ...

    def view_files(self, view: SourcedView, tables: bool = True) -> list[str]:
        """The files a training set reads for ``view`` now, in read order: its source's files then its pushed
        files (an offline feature table's files instead when training reads the view from one, unless ``tables``
        is False); none for a DuckDB table or query source. What a training set's manifest fingerprints."""
        ...

    def write_feature_table(self, view: FeatureView, start: datetime | None, end: datetime,
                            materialized_at: datetime) -> int:
        """Append ``view``'s rows with event time in ``[start, end]`` (``start`` None: from the first), after its
        batch transform, to its offline feature table as one new immutable file stamped ``materialized_at``;
        returns the rows written."""
        ...

    def write_push(self, push: PushSource, table: pa.Table) -> None:
        """Append rows (named and typed like the source's columns) to a push source's offline data, atomically."""
        ...

    def close(self) -> None:
        """Release the engine's resources; the store is not used afterwards."""
        ...


PartitionWriter = Callable[[Iterator[pa.RecordBatch]], Iterator[tuple[int, int]]]
"""Writes one partition of rows where it is (a Spark executor), yielding ``(rows given, rows written)`` as it goes;
must be picklable (it is shipped to the executors)."""


@runtime_checkable
class WritesFromExecutors(Protocol):
    """An optional capability of distributed engines: materialize's rows written by the workers that computed them,
    never gathered on the driver (the Spark engine has it; materialize checks for it)."""

    def write_latest_rows(self, view: FeatureView, start: datetime | None, end: datetime, writer: PartitionWriter,
                          exclude: RowFilter | None = None) -> tuple[int, int]:
        """Run ``writer`` over :meth:`OfflineStore.latest_rows`'s rows partition by partition on the workers;
        returns the totals ``(rows given, rows written)``."""
        ...


__all__ = ["BATCH_ROWS", "OfflineStore", "PartitionWriter", "RetrievalJob", "WritesFromExecutors"]
