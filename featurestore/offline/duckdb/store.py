"""The DuckDB offline store: sources read in place, joins computed by DuckDB."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from featurestore.definitions.aggregate_view import AggregateView, SourcedView
from featurestore.definitions.expect import Expectation
from featurestore.definitions.feature_view import FeatureView
from featurestore.definitions.sources import BatchSource, CsvSource, PushSource, batch_of
from featurestore.errors import DataSourceError, FeatureStoreError, InputError
from featurestore.naming import quote, sql_string
from featurestore.offline.duckdb import quality
from featurestore.offline.duckdb.agg_inputs import inputs_relation
from featurestore.offline.duckdb.agg_states import aggregate_pages
from featurestore.offline.duckdb.drift import check_source_types
from featurestore.offline.duckdb.failures import describe_error
from featurestore.offline.duckdb.job import DuckDBRetrievalJob
from featurestore.offline.duckdb.latest import latest_sql
from featurestore.offline.duckdb.pit import pit_sql
from featurestore.offline.duckdb.relations import (
    Attachments,
    SourceContext,
    attach_alias,
    attachments,
    push_dir,
    raw_relation,
    source_files,
    view_relation,
)
from featurestore.offline.duckdb.store_tables import FeatureTableMethods
from featurestore.offline.duckdb.transformed import TransformFiles
from featurestore.offline.entity_input import EntityInput
from featurestore.quality.checks import RowFilter
from featurestore.quality.report import Evaluation
from featurestore.resolution import ResolvedView
from featurestore.utc import epoch_us, now


def arrow_time_type(t: pa.DataType) -> str:
    """The DuckDB type name an Arrow time column arrives as (for ``utc_us``), for every unit and time zone."""
    if pa.types.is_timestamp(t):
        if t.unit == "ns":
            return "TIMESTAMPTZ_NS" if t.tz is not None else "TIMESTAMP_NS"
        if t.tz is not None:
            return "TIMESTAMP WITH TIME ZONE"
        return "TIMESTAMP" if t.unit == "us" else f"TIMESTAMP_{t.unit.upper()}"
    return "DATE" if pa.types.is_date(t) else str(t)


def events_relation(view: SourcedView, ctx: SourceContext, column_types: dict[str, str]) -> str:
    """A view's events with join keys and ``__fs_ev`` (and more): its relation, or an aggregate view's inputs."""
    if isinstance(view, AggregateView):
        return inputs_relation(view, ctx, column_types)
    return view_relation(view, ctx, column_types, ())


def _check_unambiguous(con: duckdb.DuckDBPyConnection, plan: Attachments) -> None:
    """With queries of several databases in one connection, each table a query names with a schema (``main.t``;
    names without one are qualified with the query's database) must be in its own database only: the search
    path would otherwise give it another database's table of that name."""
    held: dict[str, set[str]] = {}
    for db, name in con.sql("SELECT database_name, table_name FROM duckdb_tables() UNION ALL "
                            "SELECT database_name, view_name FROM duckdb_views() WHERE NOT internal").fetchall():
        held.setdefault(name, set()).add(db)
    aliases = {attach_alias(db) for db in plan.search}
    for where, db, tables in plan.queries:
        for table in (t for t in tables if "." in t):
            owners = held.get(table.split(".")[-1], set()) & aliases
            if owners - {attach_alias(db)}:
                raise DataSourceError(
                    f"{where} reads table {table!r}, which another database read in the same request also has; "
                    "name the table without its schema (it is then read from the query's own database)", source=str(db))


class DuckDBOfflineStore(FeatureTableMethods):
    """The DuckDB :class:`~featurestore.offline.protocol.OfflineStore`: Parquet, CSV and DuckDB sources.

    ``memory_limit``, ``threads`` and ``temp_directory`` are DuckDB settings; unset, DuckDB's
    own defaults apply (its memory limit follows the container's cgroup limit).

    >>> store = DuckDBOfflineStore(Path("."), memory_limit="1GB")
    >>> store.connect().sql("SELECT 1").fetchall()
    [(1,)]
    """

    def __init__(
        self,
        repo_path: Path,
        database: Path | None = None,
        memory_limit: str | None = None,
        threads: int | None = None,
        temp_directory: Path | None = None,
        feature_tables: Path | None = None,
        train_from_tables: bool = True,
    ) -> None:
        self.ctx = SourceContext(Path(repo_path).resolve(), database)
        self.feature_tables = feature_tables
        """Where ``materialize-offline`` appends feature tables (None: nowhere)."""
        self.train_from_tables = train_from_tables
        """Whether training sets read a view from its feature table when it has one for its definition."""
        self._config: dict[str, str | int] = {}
        if memory_limit:
            self._config["memory_limit"] = memory_limit
        if threads:
            self._config["threads"] = threads
        if temp_directory:
            self._config["temp_directory"] = str(temp_directory)
        self._lock = threading.Lock()
        self._shared: duckdb.DuckDBPyConnection | None = None  # opened on first use, see connect()
        self._transforms = TransformFiles(temp_directory)  # views with a Polars transform: their output files

    def connect(self, sources: list[BatchSource | PushSource] | None = None,
                views: Sequence[SourcedView | None] | None = None) -> duckdb.DuckDBPyConnection:
        """A connection in UTC, with the DuckDB databases ``sources`` read attached read-only; close it after use.

        Relative file paths in queries are the repo's. Without DuckDB databases to attach it is a cursor of one
        DuckDB instance the store keeps (opening an instance costs 20-60 ms a call); temp tables and
        registrations stay private to each cursor. With them, a private instance, so a database file rewritten
        between calls is read afresh; queries naming tables without a catalog read their own database's
        (``views``, when given, are the views ``sources`` are read for: errors name them).
        """
        sources = list(sources or [])
        plan = attachments(sources, self.ctx, views)
        try:
            if plan.attach:
                con = self._open()
                for db in plan.attach:
                    if not db.exists():
                        con.close()
                        reader = next((v for v, src in zip(views or [None] * len(sources), sources, strict=True)
                                       if db in attachments([src], self.ctx).attach), None)
                        where = f"feature view {reader.name!r}: " if reader is not None else ""
                        raise DataSourceError(f"{where}duckdb database {str(db)!r} does not exist", source=str(db),
                                              view=reader.name if reader is not None else None)
                    con.execute(f"ATTACH {sql_string(str(db))} AS {attach_alias(db)} (READ_ONLY)")
                if plan.search:
                    path = ",".join(attach_alias(db) for db in plan.search)
                    con.execute(f"SET search_path = {sql_string(path)}")
                    if len(plan.search) > 1:
                        try:
                            _check_unambiguous(con, plan)
                        except DataSourceError:
                            con.close()
                            raise
            else:
                with self._lock:
                    if self._shared is None:
                        self._shared = self._open()
                    con = self._shared.cursor()
                con.execute("SET TimeZone = 'UTC'")  # session settings: per cursor
            con.execute(f"SET file_search_path = {sql_string(str(self.ctx.repo_path))}")
            return con
        except duckdb.Error as err:
            raise self._errors(err, sources, views) from None

    def _errors(self, err: Exception, sources: list[BatchSource | PushSource],
                views: Sequence[SourcedView | None] | None = None) -> FeatureStoreError:
        """``err`` naming the view and source at fault (see failures.py)."""
        reads = list(zip(views or [None] * len(sources), sources, strict=True))
        return describe_error(err, reads, lambda source: source_files(source, self.ctx))

    def _open(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(config=dict(self._config))
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")  # it would print to the caller's stdout
        return con

    def source_schema(self, source: BatchSource | PushSource, view: FeatureView | None = None) -> pa.Schema:
        """The Arrow schema of a source's columns (reads metadata only where the format allows).

        With ``view``, the columns it declares are read as declared where the format has no types of its own
        (CSV: sniffing never decides them), and errors name the view.
        """
        con = self.connect([source], [view])
        try:
            sql = f"SELECT * EXCLUDE (__fs_ord, __fs_rank) FROM ({raw_relation(source, self.ctx, view)}) LIMIT 0"
            return con.sql(sql).to_arrow_table().schema
        except duckdb.Error as err:
            raise self._missing_column(view, source) or self._errors(err, [source], [view]) from None
        finally:
            con.close()

    def _missing_column(self, view: SourcedView | None, source: BatchSource | PushSource) -> FeatureStoreError | None:
        """Why a CSV read with the view's declared types fails, when a column is gone: read as sniffed, the
        drift check names the column (DuckDB would only say a typed column is not in the file)."""
        if view is None or not isinstance(batch_of(source), CsvSource):
            return None
        con = self.connect([source])
        try:
            described = {row[0]: row[1] for row in con.sql(f"DESCRIBE {raw_relation(source, self.ctx)}").fetchall()}
            check_source_types(view, described, view.feature_names, names_only=True)
        except FeatureStoreError as err:
            return err
        except duckdb.Error:
            return None
        finally:
            con.close()
        return None

    def context(self, views: Sequence[SourcedView]) -> SourceContext:
        """The source context for reading ``views``: the transform of each view that has one is run first (its
        output written to a temporary Parquet file, reused while the source files and code are unchanged)."""
        if not any(v.has_transform for v in views):
            return self.ctx
        return self._transforms.context(
            [v for v in views if isinstance(v, FeatureView)], self.ctx, lambda v: self.connect([v.source], [v]),
            lambda err, v: self._errors(err, [v.source], [v]))

    def column_types(self, views: Sequence[SourcedView], ctx: SourceContext | None = None) -> list[dict[str, str]]:
        """Column name -> DuckDB type of each view's source, read as the view declares (``DESCRIBE``, metadata only).

        For a view with a transform, its output's (``ctx`` from :meth:`context`, else built now).
        """
        ctx = ctx if ctx is not None else self.context(views)
        sources = [v.source for v in views]
        con = self.connect(sources, list(views))
        try:
            out = []
            for view in views:
                try:
                    rows = con.sql(f"DESCRIBE {raw_relation(view.source, ctx, view)}").fetchall()
                except duckdb.Error as err:
                    raise self._missing_column(view, view.source) or self._errors(err, [view.source], [view]) \
                        from None
                out.append({row[0]: row[1] for row in rows})
            return out
        finally:
            con.close()

    def historical(
        self,
        entity: EntityInput,
        requests: list[ResolvedView],
        as_of_created: bool = False,
        as_of: datetime | None = None,
    ) -> DuckDBRetrievalJob:
        sources = [r.view.source for r in requests]
        views: list[SourcedView | None] = [r.view for r in requests]
        ctx = self.training_context([r.view for r in requests], as_of)
        types = {r.view.name: t for r, t in
                 zip(requests, self.column_types([r.view for r in requests], ctx), strict=True)}
        ts_type = arrow_time_type(entity.schema.field(entity.timestamp_column).type)
        out_cols = [o for r in requests for o in r.out_names]

        def connect() -> duckdb.DuckDBPyConnection:
            return self.connect(sources, views)

        def errors(err: Exception) -> FeatureStoreError:
            return self._errors(err, sources, views)

        if entity.table is not None:
            query = pit_sql("__fs_entity", entity.timestamp_column, ts_type, None, requests, ctx, types,
                            as_of_created)
            return DuckDBRetrievalJob(connect, query, entity.table, out_cols, errors)
        rel = (
            f"(SELECT *, file_row_number AS __fs_row FROM read_parquet({sql_string(str(entity.path))}, "
            "file_row_number=true))"
        )
        if entity.path is not None and entity.path.is_dir():
            raise InputError("entity_df path must be a single Parquet file", path=str(entity.path))
        query = pit_sql(rel, entity.timestamp_column, ts_type, list(entity.schema.names), requests, ctx, types,
                        as_of_created)
        return DuckDBRetrievalJob(connect, query, None, out_cols, errors)

    def spine(self, views: Sequence[SourcedView], start: datetime, end: datetime,
              as_of: datetime | None = None) -> pa.Table:
        """Every distinct (join keys, event time) of the views' sources in [start, end], as an entity frame."""
        cols = "".join(f"{quote(k)}, " for k in views[0].join_keys)  # none for views without entities
        ctx = self.training_context(views, as_of)
        types = self.column_types(views, ctx)
        parts = [
            f"SELECT {cols}__fs_ev FROM ({events_relation(v, ctx, t)}) "
            f"WHERE __fs_ev BETWEEN {epoch_us(start)} AND {epoch_us(end)}"
            for v, t in zip(views, types, strict=True)
        ]
        sql = (
            f"SELECT {cols}CAST(make_timestamp(__fs_ev) AS TIMESTAMPTZ) AS event_timestamp FROM "
            f"(SELECT DISTINCT {cols}__fs_ev FROM ({' UNION ALL '.join(parts)})) ORDER BY __fs_ev, {cols}1"
        )
        con = self.connect([v.source for v in views], list(views))
        try:
            return con.sql(sql).to_arrow_table()
        except duckdb.Error as err:
            raise self._errors(err, [v.source for v in views], list(views)) from None
        finally:
            con.close()

    def latest_rows(
        self, view: FeatureView, start: datetime | None, end: datetime, batch_rows: int = 65536,
        exclude: RowFilter | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Per entity, the latest row with event time in [start, end]: keys, features, __fs_ev, __fs_cr.

        ``__fs_ev`` and ``__fs_cr`` are UTC epoch microseconds (``__fs_cr`` is the smallest BIGINT when unknown).
        ``exclude``: rows failing its checks are left out (each entity gets its latest good row).
        """
        ctx = self.context([view])
        sql = latest_sql(view, ctx, self.column_types([view], ctx)[0], start, end, exclude)
        con = self.connect([view.source], [view])
        try:
            yield from con.sql(sql).to_arrow_reader(batch_rows)
        except (duckdb.Error, OSError) as err:  # streamed through Arrow, DuckDB's errors are OSErrors
            raise self._errors(err, [view.source], [view]) from None
        finally:
            con.close()

    def view_rows(self, view: FeatureView, start: datetime | None, end: datetime | None,
                  features: Sequence[str], sample_rows: int | None = None,
                  batch_rows: int = 256 * 1024) -> Iterator[pa.RecordBatch]:
        """The features of the view's rows with event time in [start, end], streamed; with ``sample_rows``, the
        rows whose ``hash(rank, ordinal)`` is 0 modulo ``ceil(rows / sample_rows)`` (at most ``sample_rows``)."""
        where = ([f"__fs_ev >= {epoch_us(start)}"] if start else []) + ([f"__fs_ev <= {epoch_us(end)}"] if end else [])
        ctx = self.context([view])
        types = self.column_types([view], ctx)[0]
        rel = view_relation(view, ctx, types, tuple(features))
        cond = f" WHERE {' AND '.join(where)}" if where else ""
        con = self.connect([view.source], [view])
        try:
            sql = f"SELECT {', '.join(quote(f) for f in features)} FROM ({rel}){cond}"
            if sample_rows is not None:
                rows = con.sql(f"SELECT count(*) FROM ({view_relation(view, ctx, types, ())}){cond}").fetchall()[0][0]
                step = max(1, -(-int(rows) // sample_rows))
                if step > 1:
                    sql = (f"SELECT {', '.join(quote(f) for f in features)} FROM ({rel}){cond or ' WHERE true'} "
                           f"AND hash(__fs_rank, __fs_ord) % {step} = 0 LIMIT {sample_rows}")
            yield from con.sql(sql).to_arrow_reader(batch_rows)
        except (duckdb.Error, OSError) as err:  # streamed through Arrow, DuckDB's errors are OSErrors
            raise self._errors(err, [view.source], [view]) from None
        finally:
            con.close()

    def _on_view(self, view: FeatureView, work: Callable[[duckdb.DuckDBPyConnection, str], Any]) -> Any:
        """``work(connection, view relation)`` with the engine's errors translated."""
        ctx = self.context([view])
        relation = view_relation(view, ctx, self.column_types([view], ctx)[0])
        con = self.connect([view.source], [view])
        try:
            return work(con, relation)
        except (duckdb.Error, OSError) as err:
            raise self._errors(err, [view.source], [view]) from None
        finally:
            con.close()

    def check_rows(self, view: FeatureView, start: datetime | None, end: datetime | None,
                   expectations: Sequence[Expectation], now: datetime) -> Evaluation:
        """``expectations`` evaluated over the view's rows with event time in [start, end] (see quality.py)."""
        result: Evaluation = self._on_view(view, lambda con, rel: quality.check(con, view, rel, start, end,
                                                                               expectations, now))
        return result

    def bad_rows(self, view: FeatureView, start: datetime | None, end: datetime | None,
                 expectations: Sequence[Expectation], now: datetime) -> pa.Table:
        """The rows in [start, end] failing a row-level check, with ``__fs_reason`` (see quality.py)."""
        result: pa.Table = self._on_view(view, lambda con, rel: quality.bad_rows(con, view, rel, start, end,
                                                                                 expectations, now))
        return result

    def aggregate_states(self, view: AggregateView, snapshot: datetime,
                         page_entities: int = 16384) -> Iterator[tuple[pa.Table, pa.Table]]:
        """Per page of entities, the parts of their online states at ``snapshot`` (see agg_states.py)."""
        ctx = self.context([view])
        types = self.column_types([view], ctx)[0]
        relation = inputs_relation(view, ctx, types)
        con = self.connect([view.source], [view])
        table = f"__fs_agg_{uuid.uuid4().hex[:12]}"

        def run(sql: str) -> pa.Table:
            return con.sql(sql).to_arrow_table()

        def register(name: str, data: pa.Table) -> None:
            con.register(name, data)

        try:
            yield from aggregate_pages(view, relation, epoch_us(snapshot), table, run, register, page_entities)
        except (duckdb.Error, OSError) as err:  # streamed through Arrow, DuckDB's errors are OSErrors
            raise self._errors(err, [view.source], [view]) from None
        finally:
            con.close()

    def write_push(self, push: PushSource, table: pa.Table) -> None:
        """Append rows to a push source's offline data: one new Parquet file, written atomically."""
        folder = push_dir(push, self.ctx)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = now().strftime("%Y%m%dT%H%M%S%f")
        final = folder / f"part-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = folder / f".{final.name}.tmp"
        pq.write_table(table, tmp)
        tmp.replace(final)

    def close(self) -> None:
        """Close the DuckDB instance the store keeps (the next call opens a new one) and remove the
        transformed-rows files of views with a transform."""
        with self._lock:
            if self._shared is not None:
                self._shared.close()
                self._shared = None
        self._transforms.close()


__all__ = ["DuckDBOfflineStore", "arrow_time_type"]
