"""How a source becomes a DuckDB relation.

``view_relation`` gives, for one feature view, a SELECT with columns: the join
keys and features (after ``field_mapping``, features cast to their declared
types), ``__fs_ev`` (event time, UTC microseconds since the epoch, BIGINT),
``__fs_cr`` (created time, the smallest BIGINT when unknown), ``__fs_rank`` (0 for
batch rows, 1 for pushed rows) and ``__fs_ord`` (the row's position within its
rank: later files (in the lexicographic order of their paths: ``part-10`` before ``part-2``) and later rows
have larger values; unique per rank, ``>= 0`` and
``< 2**62``, so pit.py can pack rank and ordinal into one BIGINT). The four
make the tie-break key: latest event time, then latest created time, then pushed
over batch, then the row read last.

A view with a Polars batch transform is read from the transform's output, a Parquet file
(transformed.py) whose ``__fs_ordinal`` column carries ``__fs_rank * 2**62 + __fs_ord`` of each
source row through the transform; the context (:attr:`SourceContext.transformed`) names the file.
"""

from __future__ import annotations

import glob
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from featurestore import types
from featurestore.definitions.aggregate_view import SourcedView, source_columns, view_label
from featurestore.definitions.batch_transform import ORDINAL
from featurestore.definitions.feature_view import FeatureView
from featurestore.definitions.sources import BatchSource, CsvSource, DuckDBSource, ParquetSource, PushSource, batch_of
from featurestore.errors import DataSourceError
from featurestore.naming import quote, sql_string
from featurestore.offline.duckdb.drift import check_source_types
from featurestore.offline.duckdb.failures import exact_integer
from featurestore.offline.duckdb.queries import prepare
from featurestore.utc import MIN_US

# ordinal = file index * FILE_SHIFT + row number in that file: unique and below 2**63 for fewer than
# MAX_FILES files of fewer than 2**40 (10**12) rows each
FILE_SHIFT = 1 << 40
MAX_FILES = 1 << 22
BATCH_RANK, PUSHED_RANK = 0, 1  # __fs_rank: pushed rows come after batch rows in the tie-break


@dataclass(frozen=True)
class SourceContext:
    """Where relative source paths and the default DuckDB database live."""

    repo_path: Path
    database: Path | None = None
    transformed: tuple[tuple[str, str], ...] = ()
    """(view name, Parquet file of its transform's output) of the views with a batch transform."""
    tables: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(view name, files of its offline feature table) of the views a training set reads from their table."""
    registered: tuple[tuple[str, str], ...] = ()
    """(view name, registered table) of views whose raw rows another engine has already read (the Spark engine's
    per-bucket kernel): the table holds exactly what :func:`raw_relation` would read for the view, every source
    column plus ``__fs_rank`` and ``__fs_ord`` (feature table cutoff applied, transform ordinals split)."""
    as_of_us: int | None = None
    """A training set's global cutoff (``as_of``, UTC epoch µs): only rows known by then are read, i.e. with event
    time and created time (when the source has one) at or before it (see :func:`cutoff_sql`)."""

    def transformed_file(self, view: SourcedView | None) -> str | None:
        """The file holding ``view``'s transformed rows, when it has a transform (and the file is built)."""
        if view is None or not view.has_transform:
            return None
        return next((f for name, f in self.transformed if name == view.name), None)

    def path(self, p: str) -> Path:
        q = Path(p).expanduser()
        return q if q.is_absolute() else self.repo_path / q


NO_TIME = MIN_US  # BIGINT minimum: an unknown created time sorts lowest


def utc_us(expr: str, column_type: str) -> str:
    """SQL for a time value as UTC epoch microseconds: naive values are UTC, aware ones instants.

    ``column_type`` is the DuckDB type name (``DESCRIBE``). Integer arithmetic only for
    timestamps and dates of every unit, naive or aware (ICU time-zone conversion per row costs
    more than the join itself: casting an aware value to a naive TIMESTAMP would do that):
    nanoseconds are floored to the microsecond, seconds and milliseconds widened exactly.
    Anything else (text) is parsed as TIMESTAMPTZ.
    """
    t = column_type.upper()
    if t in ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ", "DATE", "TIMESTAMP_NS"):
        return f"epoch_us({expr})"  # floors nanoseconds
    if t in ("TIMESTAMP_S", "TIMESTAMP_MS"):
        return f"epoch_us(CAST({expr} AS TIMESTAMP))"  # naive to naive: an exact multiplication
    if t in ("TIMESTAMPTZ_NS", "TIMESTAMP_NS WITH TIME ZONE"):
        # no epoch_us for it, and a cast to TIMESTAMP would go through ICU: floor epoch_ns / 1000
        # (DuckDB's integer division truncates toward zero)
        return f"(epoch_ns({expr}) // 1000 - (epoch_ns({expr}) % 1000 < 0)::BIGINT)"
    return f"epoch_us(CAST({expr} AS TIMESTAMPTZ))"


def push_dir(push: PushSource, ctx: SourceContext) -> Path:
    """Folder of the Parquet files ``push(..., to="offline")`` appends, next to the batch source."""
    src = push.batch_source
    if isinstance(src, (ParquetSource, CsvSource)):
        path = ctx.path(src.path)
        while any(ch in str(path) for ch in "*?["):  # a glob: from its first glob-free folder
            path = path.parent
        return path.parent / "_push" / push.name  # beside the file or folder, never inside it
    return ctx.repo_path / "data" / "_push" / push.name


def _expand(path: Path, suffix: str) -> list[str]:
    """The files of a file, folder or glob, sorted by path as text (``part-10`` before ``part-2``): the order of
    the tie-break's "later file"."""
    text = str(path)
    if path.is_dir():
        files = sorted(glob.glob(os.path.join(text, "**", f"*{suffix}"), recursive=True))
    elif any(ch in text for ch in "*?["):
        files = sorted(glob.glob(text, recursive=True))
    else:
        files = [text] if path.exists() else []
    return files


def _files_sql(reader: str, files: list[str], source: str, options: str = "", replace: str = "") -> str:
    """Every column of ``files`` plus ``__fs_ord``: file index (in ``files``) * FILE_SHIFT + row in that file."""
    if len(files) >= MAX_FILES:
        raise DataSourceError(f"source {source!r} has {len(files):,} files, more than {MAX_FILES:,}", source=source)
    listing = "[" + ", ".join(sql_string(f) for f in files) + "]"
    if reader == "read_parquet":
        return (
            f"SELECT * EXCLUDE (file_row_number), CAST(file_index AS BIGINT) * {FILE_SHIFT} + file_row_number "
            f"AS __fs_ord FROM read_parquet({listing}, file_row_number=true, union_by_name=true)"
        )
    # CSV has no file_row_number: a row number over the whole read (in file order) is unique too
    return (
        f"SELECT *{replace}, CAST(file_index AS BIGINT) * {FILE_SHIFT} + row_number() OVER () AS __fs_ord "
        f"FROM read_csv({listing}, union_by_name=true{options})"
    )


def cutoff_sql(ctx: SourceContext) -> str:
    """The ``as_of`` cutoff as extra conditions on a normalized relation (``__fs_ev``, ``__fs_cr``), or "".

    A row is read when it was known at ``as_of``: its created time is at or before it, and so is its event time
    (a row cannot be known before the time it describes; for sources without a created column, the only bound).
    """
    if ctx.as_of_us is None:
        return ""
    return f" AND __fs_ev <= {ctx.as_of_us} AND __fs_cr <= {ctx.as_of_us}"


MATERIALIZED_AT = "__fs_materialized_at"
"""The column of an offline feature table holding its run's time (UTC epoch µs): the table's created time."""


def table_relation(files: list[str], ctx: SourceContext) -> str:
    """The feature table read as a raw relation (see the module docstring): source-named columns, ``__fs_rank``
    and ``__fs_ord``; rows of runs after the ``as_of`` cutoff left out."""
    listing = "[" + ", ".join(sql_string(f) for f in files) + "]"
    cutoff = f" WHERE {MATERIALIZED_AT} <= {ctx.as_of_us}" if ctx.as_of_us is not None else ""
    return (f"SELECT * EXCLUDE (file_row_number, {MATERIALIZED_AT}), 0::UTINYINT AS __fs_rank, "
            f"CAST(file_index AS BIGINT) * {FILE_SHIFT} + file_row_number AS __fs_ord FROM read_parquet({listing}, "
            f"file_row_number=true){cutoff}")


def where_of(source: BatchSource | PushSource, view: SourcedView | None) -> str:
    """How errors name a source: ``feature view 'v': source parquet:data/x.parquet`` (the view when known)."""
    described = f"source {batch_of(source).describe()}"
    return f"{view_label(view)} {view.name!r}: {described}" if view is not None else described


def declared_columns(view: SourcedView) -> dict[str, types.ValueType]:
    """Source column -> declared type of the view's join keys and features (after ``field_mapping``), or of an
    aggregate view's join keys and aggregated columns."""
    return source_columns(view)


def _csv_sql(batch: CsvSource, files: list[str], view: SourcedView | None) -> str:
    """A CSV read with the time columns as instants and, with ``view``, its columns as declared.

    Sniffing never decides a declared column's type: whole numbers feed a Float64 feature. Integer columns
    are read as text and converted exactly (DuckDB would round ``2.4`` to 2), a value that is not a whole
    number of the type failing with the view, file, column and value (see failures.py).
    """
    times = [c for c in (batch.timestamp_field, batch.created_timestamp_field) if c]
    typed = {c: "TIMESTAMPTZ" for c in times}  # instants, never a sniffed TIMESTAMP (it drops a late offset)
    exact: dict[str, types.ValueType] = {}
    for col, dtype in (declared_columns(view) if view is not None else {}).items():
        if col in typed or dtype.element is not None:  # arrays: DuckDB's text for lists, as sniffed
            continue
        if dtype in (types.Int32, types.Int64):
            typed[col], exact[col] = "VARCHAR", dtype
        else:
            typed[col] = dtype.to_duckdb()
    options = ", ".join(f"{sql_string(c)}: {sql_string(t)}" for c, t in typed.items())
    options = f", header=true, delim={sql_string(batch.delimiter)}, types={{{options}}}"
    replace = ", ".join(f"{exact_integer(quote(c), c, t, view.name if view else '')} AS {quote(c)}"
                        for c, t in exact.items())
    return _files_sql("read_csv", files, batch.path, options, f" REPLACE ({replace})" if replace else "")


def raw_relation(source: BatchSource | PushSource, ctx: SourceContext, view: SourcedView | None = None) -> str:
    """SELECT of every source column plus ``__fs_ord`` and ``__fs_rank``; pushed rows are appended for push sources.

    ``__fs_rank`` is 0 for batch rows and 1 for pushed rows: it ranks above ``__fs_ord`` in the
    tie-break, so pushed rows win ties against batch rows whatever their ordinals. With ``view``, formats
    without types of their own (CSV) read the view's columns as it declares them, and errors name the view.
    """
    registered = next((t for name, t in ctx.registered if view is not None and name == view.name), None)
    if registered is not None:
        return f"SELECT * FROM {quote(registered)}"
    table = next((files for name, files in ctx.tables if view is not None and name == view.name), None)
    if table is not None:
        return table_relation(list(table), ctx)
    transformed = ctx.transformed_file(view)
    if transformed is not None:
        return (f"SELECT * EXCLUDE ({ORDINAL}), ({ORDINAL} >> 62)::UTINYINT AS __fs_rank, "
                f"{ORDINAL} & {(1 << 62) - 1} AS __fs_ord FROM read_parquet({sql_string(transformed)})")
    batch = batch_of(source)
    if isinstance(batch, ParquetSource):
        files = _expand(ctx.path(batch.path), ".parquet")
        if not files:
            raise DataSourceError(f"{where_of(source, view)}: no such file", source=batch.path,
                                  view=view.name if view else None)
        sql = _files_sql("read_parquet", files, batch.path)
    elif isinstance(batch, CsvSource):
        files = _expand(ctx.path(batch.path), ".csv")
        if not files:
            raise DataSourceError(f"{where_of(source, view)}: no such file", source=batch.path,
                                  view=view.name if view else None)
        # a transform's input is the CSV as sniffed (its view declares the transform's output columns)
        sql = _csv_sql(batch, files, None if view is not None and view.has_transform else view)
    else:
        sql = _duckdb_relation(batch, ctx, view)
    sql = f"SELECT *, {BATCH_RANK}::UTINYINT AS __fs_rank FROM ({sql})"
    if isinstance(source, PushSource):
        pushed = sorted(glob.glob(str(push_dir(source, ctx) / "*.parquet")))
        if pushed:
            rows = _files_sql("read_parquet", pushed, source.name)
            sql = f"{sql} UNION ALL BY NAME SELECT *, {PUSHED_RANK}::UTINYINT AS __fs_rank FROM ({rows})"
    return sql


def source_files(source: BatchSource | PushSource, ctx: SourceContext) -> list[str]:
    """The files a source reads now (batch files, then pushed files); none for DuckDB sources."""
    batch = batch_of(source)
    files: list[str] = []
    if isinstance(batch, (ParquetSource, CsvSource)):
        files = _expand(ctx.path(batch.path), ".parquet" if isinstance(batch, ParquetSource) else ".csv")
    if isinstance(source, PushSource):
        files += sorted(glob.glob(str(push_dir(source, ctx) / "*.parquet")))
    return files


def _database(src: DuckDBSource, ctx: SourceContext) -> Path | None:
    return ctx.path(src.database) if src.database else ctx.database


def _duckdb_relation(src: DuckDBSource, ctx: SourceContext, view: SourcedView | None) -> str:
    db = _database(src, ctx)
    name = view.name if view is not None else None
    if src.query is not None:
        prepared = prepare(src.query, str(ctx.repo_path), attach_alias(db) if db is not None else None)
        if prepared.error is not None:
            raise DataSourceError(f"{where_of(src, view)}: {prepared.error}", source=src.describe(), view=name)
        # a newline before the parenthesis: a line comment inside cannot swallow it
        return f"SELECT *, row_number() OVER () AS __fs_ord FROM (\n{prepared.sql}\n)"
    if db is None:
        raise DataSourceError(f"{where_of(src, view)} needs database= or offline_store.path",
                              source=src.describe(), view=name)
    if not db.exists():
        raise DataSourceError(f"{where_of(src, view)}: database {str(db)!r} does not exist",
                              source=src.describe(), view=name)
    table = ".".join(quote(part) for part in str(src.table).split("."))
    return f"SELECT *, rowid AS __fs_ord FROM {attach_alias(db)}.{table}"


def attach_alias(db: Path) -> str:
    return f"fs_db_{zlib.crc32(str(db.resolve()).encode()):08x}"


@dataclass(frozen=True)
class Attachments:
    """The DuckDB databases a set of sources reads.

    ``attach``: every database to attach (read-only), that of each table source and that of each query
    reading tables; a query of files only attaches nothing, so it takes no lock on the database.
    ``search``: the databases whose tables the queries name without a catalog, in order (the connection's
    search path). ``queries``: per query reading tables, (where_of text, its database, the tables it names).
    """

    attach: tuple[Path, ...] = ()
    search: tuple[Path, ...] = ()
    queries: tuple[tuple[str, Path, tuple[str, ...]], ...] = ()


def attachments(sources: list[BatchSource | PushSource], ctx: SourceContext,
                views: Sequence[SourcedView | None] | None = None) -> Attachments:
    """What :class:`Attachments` ``sources`` (of ``views``, when known: errors name them) need."""
    attach: list[Path] = []
    search: list[Path] = []
    queries: list[tuple[str, Path, tuple[str, ...]]] = []
    for s, view in zip(sources, views or [None] * len(sources), strict=True):
        b = batch_of(s)
        db = _database(b, ctx) if isinstance(b, DuckDBSource) else None
        if db is None or not isinstance(b, DuckDBSource):
            continue
        if b.query is not None:
            tables = prepare(b.query, str(ctx.repo_path)).tables
            if tables == ():
                continue  # files only: no database needed
            if db not in search:
                search.append(db)
            queries.append((where_of(s, view), db, tables or ()))
        if db not in attach:
            attach.append(db)
    return Attachments(tuple(attach), tuple(search), tuple(queries))


def stable_ordinal(view: SourcedView) -> bool:
    """Whether ``__fs_ord`` names one row the same way in two scans (not true of arbitrary queries; true of a
    transform's output file)."""
    if view.has_transform:
        return True
    batch = batch_of(view.source)
    return not (isinstance(batch, DuckDBSource) and batch.query is not None)


def view_relation(view: FeatureView, ctx: SourceContext, column_types: dict[str, str],
                  features: tuple[str, ...] | None = None) -> str:
    """The normalized relation of a view (see module docstring); ``column_types`` from ``DESCRIBE``.

    Raises a DataSourceError when a column's type no longer fits the view (see drift.py).
    """
    batch = batch_of(view.source)
    feats = view.feature_names if features is None else features
    check_source_types(view, column_types, feats)
    types = {f.name: f.dtype for f in view.features}
    cols = [f"{quote(view.source_column(k))} AS {quote(k)}" for k in view.join_keys]
    cols += [f"CAST({quote(view.source_column(f))} AS {types[f].to_duckdb()}) AS {quote(f)}" for f in feats]
    ts = batch.timestamp_field
    cols.append(f"{utc_us(quote(ts), column_types.get(ts, ''))} AS __fs_ev")
    created = batch.created_timestamp_field
    cr = (f"coalesce({utc_us(quote(created), column_types.get(created, ''))}, {NO_TIME})" if created
          else str(NO_TIME))
    cols.append(f"{cr} AS __fs_cr")
    cols += ["__fs_rank", "__fs_ord"]
    return (f"SELECT {', '.join(cols)} FROM ({raw_relation(view.source, ctx, view)}) "
            f"WHERE __fs_ev IS NOT NULL{cutoff_sql(ctx)}")
