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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from featurestore.definitions.batch_transform import ORDINAL, checked, failed, live_function
from featurestore.definitions.feature_view import FeatureView
from featurestore.definitions.sources import DuckDBSource, batch_of
from featurestore.errors import DataSourceError, FeatureStoreError
from featurestore.offline.duckdb.relations import SourceContext, raw_relation, source_files

if TYPE_CHECKING:
    import polars as pl

BATCH_ROWS = 128 * 1024
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
        return SourceContext(ctx.repo_path, ctx.database, tuple(known.items()))

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


def build(view: FeatureView, ctx: SourceContext, connect: Callable[[FeatureView], duckdb.DuckDBPyConnection],
          errors: Callable[[Exception, FeatureView], FeatureStoreError], path: Path) -> None:
    """Run ``view``'s transform over its source rows, streaming, into the Parquet file ``path``."""
    import polars as pl
    from polars.io.plugins import register_io_source

    sql = (f"SELECT * EXCLUDE (__fs_ord, __fs_rank), __fs_rank::BIGINT * {1 << 62} + __fs_ord AS {ORDINAL} "
           f"FROM ({raw_relation(view.source, ctx, view)})")
    con = connect(view)
    try:
        empty = con.sql(f"SELECT * FROM ({sql}) LIMIT 0").to_arrow_table()
    except duckdb.Error as err:
        raise errors(err, view) from None
    finally:
        con.close()
    frame = pl.from_arrow(empty)
    assert isinstance(frame, pl.DataFrame)
    raised: list[BaseException] = []  # the source's own errors, raised as ours after Polars gives up

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

    source = register_io_source(rows, schema=frame.schema)
    out, schema = checked(view, source)
    cols = view_columns(view)
    missing = [c for c in cols if c not in schema]
    if missing:
        raise DataSourceError(f"feature view {view.name!r}: the output of its transform has no column {missing[0]!r} "
                              f"(it has {list(schema)})", view=view.name, column=missing[0],
                              source=batch_of(view.source).describe())
    try:
        out.select(cols).sink_parquet(path, compression="lz4", maintain_order=False, statistics=False)
    except Exception as err:  # the transform's computation failed, or the source did
        if raised and isinstance(raised[0], (duckdb.Error, OSError)):
            raise errors(raised[0], view) from None
        raise failed(view, err) from None


__all__ = ["TransformFiles", "build", "cache_key", "view_columns"]
