"""Polars batch transforms in the DuckDB engine: a view's source rows, transformed, as a temporary Parquet file.

DuckDB reads the source as for any view (every format, pushed rows appended) with each row's tie-break
rank as one column, ``__fs_ordinal`` = ``__fs_rank * 2**62 + __fs_ord`` (see relations.py). The rows
stream into Polars as record batches (a Polars IO source: only the columns the plan needs are read),
the view's transform runs lazily on them, and Polars' streaming engine writes the view's columns
(join keys, features, time columns and ``__fs_ordinal``) to a Parquet file: memory stays bounded
whatever the source's size. DuckDB then reads that file as the view's source (relations.py), with
the usual time normalization and read-time type checks applied to the transform's output.

Files live in a folder of the store's own (removed on close) and are reused while the cache key is
unchanged: the view's registry form (so its transform's fingerprint), and the path, size and mtime of
every file the source reads (and of a DuckDB source's database file). A DuckDB query source is read
afresh every time (what it reads is not known).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import duckdb

from featurestore.definitions.batch_transform import ORDINAL, checked, failed, live_function
from featurestore.definitions.feature_view import FeatureView
from featurestore.definitions.sources import DuckDBSource, ParquetSource, PushSource, batch_of
from featurestore.errors import DataSourceError, FeatureStoreError
from featurestore.offline.duckdb.relations import SourceContext, raw_relation, source_files

if TYPE_CHECKING:
    import polars as pl

BATCH_ROWS = 128 * 1024
"""Rows per record batch DuckDB hands Polars (sources Polars does not read itself)."""
COMPRESSION: Final = "uncompressed"
KEEP = 2
"""Files kept per view: the newest and the one before (a query planned a moment ago may still read it)."""


def _stat(path: str | Path) -> list[Any]:
    try:
        st = os.stat(path)
    except OSError:
        return [str(path), None]
    return [str(path), st.st_size, st.st_mtime_ns, st.st_ino]


def cache_key(view: FeatureView, ctx: SourceContext) -> str | None:
    """What the transformed file of ``view`` depends on, hashed; None when it cannot be known (a query)."""
    batch = batch_of(view.source)
    parts: list[Any] = [view.to_dict()]
    if isinstance(batch, DuckDBSource):
        if batch.query is not None:
            return None
        db = ctx.path(batch.database) if batch.database else ctx.database
        parts.append(_stat(db) if db is not None else None)
    parts += [_stat(f) for f in source_files(view.source, ctx)]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:32]


def view_columns(view: FeatureView) -> list[str]:
    """The source columns the engine reads from a view's transformed rows."""
    batch = batch_of(view.source)
    cols = [view.source_column(k) for k in view.join_keys] + [view.source_column(f) for f in view.feature_names]
    cols += [batch.timestamp_field] + ([batch.created_timestamp_field] if batch.created_timestamp_field else [])
    return list(dict.fromkeys([*cols, ORDINAL]))


class TransformFiles:
    """The transformed-rows files of one offline store (a folder of its own, removed by :meth:`close`)."""

    def __init__(self, temp_directory: Path | None = None) -> None:
        self._parent = temp_directory
        self._dir: Path | None = None
        self._lock = threading.Lock()
        self._files: dict[str, list[Path]] = {}  # view name -> its files, newest last
        self._finalizer: weakref.finalize[..., Any] | None = None

    def _folder(self) -> Path:
        if self._dir is None:
            if self._parent is not None:
                self._parent.mkdir(parents=True, exist_ok=True)
            self._dir = Path(tempfile.mkdtemp(prefix="featurestore-transforms-",
                                              dir=str(self._parent) if self._parent else None))
            self._finalizer = weakref.finalize(self, shutil.rmtree, str(self._dir), True)
        return self._dir

    def context(self, views: list[FeatureView], ctx: SourceContext,
                connect: Callable[[FeatureView], duckdb.DuckDBPyConnection],
                errors: Callable[[Exception, FeatureView], FeatureStoreError]) -> SourceContext:
        """``ctx`` naming the transformed file of each view with a transform (built now unless cached)."""
        built = [(v.name, str(self.file(v, ctx, connect, errors))) for v in views if v.has_transform]
        if not built:
            return ctx
        known = dict(ctx.transformed)
        known.update(built)
        return replace(ctx, transformed=tuple(known.items()))

    def file(self, view: FeatureView, ctx: SourceContext, connect: Callable[[FeatureView], duckdb.DuckDBPyConnection],
             errors: Callable[[Exception, FeatureView], FeatureStoreError]) -> Path:
        """The Parquet file of ``view``'s transformed rows (CodeMismatchError without the live function, even
        when a file built by it is at hand: a view whose code is not the applied one is never read)."""
        live_function(view)
        key = cache_key(view, ctx)
        with self._lock:  # one build at a time per store: a second reader of the same view waits for the first
            folder = self._folder()
            name = f"{view.name}-{key}.parquet" if key else None
            if name is not None and (folder / name).exists():
                return folder / name
            target = folder / (name or f"{view.name}-{os.urandom(8).hex()}.parquet")
            tmp = folder / f".{target.name}.tmp"
            try:
                build(view, ctx, connect, errors, tmp)
                tmp.replace(target)
            finally:
                tmp.unlink(missing_ok=True)
            files = [f for f in self._files.get(view.name, []) if f != target] + [target]
            for old in files[:-KEEP]:
                old.unlink(missing_ok=True)
            self._files[view.name] = files[-KEEP:]
            return target

    def close(self) -> None:
        """Remove the folder and its files."""
        with self._lock:
            if self._finalizer is not None:
                self._finalizer()
            self._dir, self._finalizer, self._files = None, None, {}


def source_sql(view: FeatureView, ctx: SourceContext) -> str:
    """DuckDB's SELECT of the view's source rows: every source column plus :data:`ORDINAL`."""
    return (f"SELECT * EXCLUDE (__fs_ord, __fs_rank), __fs_rank::BIGINT * {1 << 62} + __fs_ord AS {ORDINAL} "
            f"FROM ({raw_relation(view.source, ctx, view)})")


def _duckdb_schema(view: FeatureView, ctx: SourceContext, sql: str,
                   connect: Callable[[FeatureView], duckdb.DuckDBPyConnection],
                   errors: Callable[[Exception, FeatureView], FeatureStoreError]) -> pl.Schema:
    """The Polars schema of the source rows as DuckDB reads them (no rows read)."""
    import polars as pl

    con = connect(view)
    try:
        empty = con.sql(f"SELECT * FROM ({sql}) LIMIT 0").to_arrow_table()
    except duckdb.Error as err:
        raise errors(err, view) from None
    finally:
        con.close()
    frame = pl.from_arrow(empty)
    assert isinstance(frame, pl.DataFrame)
    return frame.schema


def parquet_scan(view: FeatureView, ctx: SourceContext, want: pl.Schema) -> pl.LazyFrame | None:
    """The source rows read by Polars itself, when that gives what DuckDB gives (``want``), else None.

    Only for a Parquet source without pushed rows. Its files are read in DuckDB's order (``_expand``:
    paths sorted as text) and ``__fs_ordinal`` is the row's position in that read: the same order as
    DuckDB's (file index, row in file), so the same row wins a tie (the same values for one file). The
    columns and types must be DuckDB's, up to the name of an aware timestamp's time zone (a label: the
    instants are the same; DuckDB's is used); anything else (a column only some files have, hive
    partitions) is DuckDB's to read.
    """
    import polars as pl

    source = view.source
    batch = batch_of(source)
    if not isinstance(batch, ParquetSource):
        return None
    if isinstance(source, PushSource) and source_files(source, ctx) != source_files(batch, ctx):
        return None
    files = source_files(batch, ctx)
    if not files:
        return None
    try:
        scan = pl.scan_parquet(files, row_index_name=ORDINAL, glob=False, hive_partitioning=False,
                               missing_columns="insert")
        found = scan.collect_schema()
    except Exception:  # a file Polars cannot read: DuckDB reads it (and names what is wrong)
        return None
    if set(found) != set(want):
        return None
    fixes = []
    for name, dtype in want.items():
        have = found[name]
        if name == ORDINAL:
            fixes.append(pl.col(ORDINAL).cast(pl.Int64))
        elif have != dtype:
            if not (isinstance(have, pl.Datetime) and isinstance(dtype, pl.Datetime) and have.time_zone
                    and dtype.time_zone and have.time_unit == dtype.time_unit):
                return None
            fixes.append(pl.col(name).dt.convert_time_zone(dtype.time_zone))
    return scan.with_columns(fixes).select(list(want))


def duckdb_scan(view: FeatureView, sql: str, schema: pl.Schema,
                connect: Callable[[FeatureView], duckdb.DuckDBPyConnection],
                raised: list[BaseException]) -> pl.LazyFrame:
    """The source rows of ``sql``, read by DuckDB and streamed into Polars as record batches (only the columns
    the plan needs); DuckDB's errors are appended to ``raised``."""
    import polars as pl
    from polars.io.plugins import register_io_source

    def rows(with_columns: list[str] | None, predicate: pl.Expr | None, n_rows: int | None,
             batch_size: int | None) -> Iterator[pl.DataFrame]:
        cols = ", ".join('"' + c.replace('"', '""') + '"' for c in with_columns) if with_columns else "*"
        limit = f" LIMIT {int(n_rows)}" if n_rows is not None else ""
        reader_con = connect(view)
        try:
            query = reader_con.sql(f"SELECT {cols} FROM ({sql}){limit}")
            reader = query.to_arrow_reader(min(batch_size or BATCH_ROWS, BATCH_ROWS))
            for batch in reader:
                out = pl.from_arrow(batch)
                assert isinstance(out, pl.DataFrame)
                yield out.filter(predicate) if predicate is not None else out
        except (duckdb.Error, OSError) as err:  # streamed through Arrow, DuckDB's errors are OSErrors
            raised.append(err)
            raise
        finally:
            reader_con.close()

    return register_io_source(rows, schema=schema)


def _planned(view: FeatureView, rows: pl.LazyFrame) -> pl.LazyFrame:
    """The view's transform over ``rows``, the view's columns selected; errors name the view."""
    out, schema = checked(view, rows)
    cols = view_columns(view)
    missing = [c for c in cols if c not in schema]
    if missing:
        raise DataSourceError(f"feature view {view.name!r}: the output of its transform has no column {missing[0]!r} "
                              f"(it has {list(schema)})", view=view.name, column=missing[0],
                              source=batch_of(view.source).describe())
    return out.select(cols)


def _sink(plan: pl.LazyFrame, path: Path) -> None:
    # uncompressed: the file lives for a few queries, and compressing it costs more than reading the larger file
    plan.sink_parquet(path, compression=COMPRESSION, maintain_order=False, statistics=False)


def build(view: FeatureView, ctx: SourceContext, connect: Callable[[FeatureView], duckdb.DuckDBPyConnection],
          errors: Callable[[Exception, FeatureView], FeatureStoreError], path: Path) -> None:
    """Run ``view``'s transform over its source rows, streaming, into the Parquet file ``path``.

    A Parquet source is read by Polars directly (:func:`parquet_scan`) when it reads the rows as DuckDB
    does; should that run fail, or in any other case, DuckDB reads the source (every format, pushed rows)
    and streams it into Polars (:func:`duckdb_scan`), and its errors are the ones raised.
    """
    sql = source_sql(view, ctx)
    schema = _duckdb_schema(view, ctx, sql, connect, errors)
    direct = parquet_scan(view, ctx, schema)
    if direct is not None:
        plan = _planned(view, direct)
        try:
            _sink(plan, path)
            return
        except Exception:  # files Polars reads otherwise than DuckDB (types differing between files, more than
            pass  # 2**32 rows) or the transform failing on the data: DuckDB's route says which
    raised: list[BaseException] = []  # the source's own errors, raised as ours after Polars gives up
    plan = _planned(view, duckdb_scan(view, sql, schema, connect, raised))
    try:
        _sink(plan, path)
    except Exception as err:  # the transform's computation failed, or the source did
        if raised and isinstance(raised[0], (duckdb.Error, OSError)):
            raise errors(raised[0], view) from None
        raise failed(view, err) from None


__all__ = ["TransformFiles", "build", "cache_key", "duckdb_scan", "parquet_scan", "source_sql",
           "view_columns"]
