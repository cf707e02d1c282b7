"""Offline feature tables: a feature view's rows, after its batch transform, appended to immutable Parquet files.

Layout: ``<feature tables>/<view>/<table key>/part-<run>-<materialized at, µs>-<random>.parquet``. The table
key hashes what the rows depend on (join keys, features and their types, the source, the transform's
fingerprint): a changed definition writes, and reads, another folder, so old rows never mix with new ones, and
an older definition (a training set's) still finds its own. Each run appends one file (written under a temporary
name, renamed at the end); nothing is ever rewritten.

A file holds the view's raw rows as its source (or transform) gives them, only the columns the view reads (join
keys, features, event and created time, under their source names), plus :data:`MATERIALIZED_AT` (the run's time,
epoch µs), sorted by join keys, event time and created time, then the source's tie-break (rank, then ordinal):
rows tied on keys, event and created time keep the source's order, and the point-in-time join reads sorted data
(about 20 % faster than the source's order at 1x). Read back, ``__fs_rank`` is 0 and ``__fs_ord`` is
the file index (in name order, so run order) times ``FILE_SHIFT`` plus the row number: the tie-break among rows
of equal event and created time is "newer run, then the source's own order", which equals the source's answer
for rows of one run and prefers the re-materialized version of a row. Under an ``as_of`` cutoff only rows of
runs at or before it are read (the table's own created time).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

from featurestore.definitions.aggregate_view import SourcedView
from featurestore.definitions.feature_view import FeatureView
from featurestore.definitions.sources import batch_of
from featurestore.naming import quote
from featurestore.offline.duckdb.relations import MATERIALIZED_AT, SourceContext, raw_relation, utc_us


def table_key(view: FeatureView) -> str:
    """What a view's feature-table rows depend on, hashed (12 hex digits)."""
    data = view.to_dict()
    parts = {k: data.get(k) for k in ("entities", "join_keys", "schema", "features", "source", "transform",
                                      "transform_fingerprint")}
    parts["keys"] = [[f.name, str(f.dtype)] for f in view.key_fields]
    return hashlib.blake2b(json.dumps(parts, sort_keys=True, default=str).encode(), digest_size=6).hexdigest()


def table_dir(root: Path, view: FeatureView) -> Path:
    """The folder of ``view``'s feature table for its current definition."""
    return root / view.name / table_key(view)


def table_files(root: Path, view: FeatureView) -> list[str]:
    """The files of ``view``'s feature table, in run order (empty: no table for this definition)."""
    folder = table_dir(root, view)
    if not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.glob("part-*.parquet"))


def columns_read(view: FeatureView) -> list[str]:
    """The source columns a view reads: join keys and features (source names), event and created time."""
    batch = batch_of(view.source)
    cols = [view.source_column(k) for k in view.join_keys] + [view.source_column(f) for f in view.feature_names]
    cols += [c for c in (batch.timestamp_field, batch.created_timestamp_field) if c]
    return list(dict.fromkeys(cols))


def rows_parts(view: FeatureView, ctx: SourceContext, column_types: dict[str, str], start_us: int | None,
               end_us: int, materialized_us: int) -> tuple[str, str, list[tuple[str, bool]]]:
    """The parts of :func:`rows_sql`: the columns written, ``FROM ... WHERE ...``, and the sort terms (an expression
    over the raw relation and whether its nulls come first), the tie-break order of a run's file."""
    ts = batch_of(view.source).timestamp_field
    ev = utc_us(quote(ts), column_types.get(ts, ""))
    cond = [f"{ev} <= {end_us}"] + ([f"{ev} >= {start_us}"] if start_us is not None else [])
    cols = ", ".join(quote(c) for c in columns_read(view)) + f", {materialized_us}::BIGINT AS {MATERIALIZED_AT}"
    raw = raw_relation(view.source, ctx, view)
    created = batch_of(view.source).created_timestamp_field
    order = [(quote(view.source_column(k)), False) for k in view.join_keys] + [(ev, False)]
    order += [(utc_us(quote(created), column_types.get(created, "")), True)] if created else []
    order += [("__fs_rank", False), ("__fs_ord", False)]
    return cols, f"FROM ({raw}) WHERE {' AND '.join(cond)}", order


def rows_sql(view: FeatureView, ctx: SourceContext, column_types: dict[str, str], start_us: int | None,
             end_us: int, materialized_us: int) -> str:
    """The rows one run writes: the view's raw rows with event time in ``[start, end]``, in tie-break order."""
    cols, source, order = rows_parts(view, ctx, column_types, start_us, end_us, materialized_us)
    terms = ", ".join(f"{expr} NULLS {'FIRST' if first else 'LAST'}" for expr, first in order)
    return f"SELECT {cols} {source} ORDER BY {terms}"


def new_file(root: Path, view: FeatureView, materialized_us: int) -> tuple[Path, Path]:
    """(temporary path, final path) of a run's file: ``part-<run number>-<materialized at>-<random>.parquet``, the
    run number one more than the last file's (runs hold the materialization lock), so names sort in run order
    even when two runs share a clock reading."""
    folder = table_dir(root, view)
    folder.mkdir(parents=True, exist_ok=True)
    last = max((int(p.name.split("-")[1]) for p in folder.glob("part-*.parquet")), default=0)
    name = f"part-{last + 1:08d}-{materialized_us:020d}-{uuid.uuid4().hex[:8]}.parquet"
    return folder / f".{name}.tmp", folder / name


def publish(tmp: Path, final: Path) -> None:
    """Rename a written run file into place (durably)."""
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, final)


def training_tables(root: Path | None, views: Sequence[SourcedView]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(view, its table's files) of the views that have a feature table for their current definition."""
    if root is None:
        return ()
    found = ((v.name, tuple(table_files(root, v))) for v in views if isinstance(v, FeatureView))
    return tuple((name, files) for name, files in found if files)
