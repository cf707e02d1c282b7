"""Quarantined rows: Parquet files under ``<data_dir>/quarantine/<view>/``, one per batch set aside.

File name ``part-<UTC stamp>-<8 hex>.parquet``, written under a hidden temporary name and renamed (readers never
see a partial file). Columns: the rows as the view reads them (join keys, features, the event time under the
source's timestamp column name, UTC), then ``__fs_reason`` (the failed checks' labels joined by ``"; "``),
``__fs_path`` (``materialize``, ``push`` or ``write_to_online_store``) and ``__fs_quarantined_at`` (UTC).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from featurestore.definitions.feature_view import FeatureView
from featurestore.definitions.sources import batch_of
from featurestore.errors import RegistryError

REASON, PATH, AT = "__fs_reason", "__fs_path", "__fs_quarantined_at"
TIME = pa.timestamp("us", tz="UTC")


def quarantine_dir(data_dir: Path, view: str) -> Path:
    """The folder of ``view``'s quarantined rows."""
    return Path(data_dir) / "quarantine" / view


def rows_of(view: FeatureView, rows: pa.Table, reasons: pa.Array, path: str, at: datetime) -> pa.Table:
    """The quarantine columns of ``rows`` (keys, features, ``__fs_ev``) with their ``reasons``."""
    names = [*view.join_keys, *view.feature_names]
    ts = batch_of(view.source).timestamp_field
    columns = [rows.column(n) for n in names] + [rows.column("__fs_ev").cast(pa.int64()).cast(TIME)]
    n = rows.num_rows
    columns += [reasons, pa.array([path] * n, pa.string()), pa.array([at] * n, TIME)]
    return pa.table(columns, names=[*names, ts, REASON, PATH, AT])


def write(data_dir: Path, view: str, table: pa.Table, at: datetime) -> Path:
    """Write ``table`` (see :func:`rows_of`) as a new quarantine file of ``view``; returns its path."""
    folder = quarantine_dir(data_dir, view)
    final = folder / f"part-{at.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}.parquet"
    tmp = folder / f".{final.name}.tmp"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, tmp)
        tmp.replace(final)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise RegistryError(f"feature view {view!r}: the quarantined rows could not be written to {folder}: "
                               f"{err} (nothing was written)", view=view, path=str(folder)) from None
    return final


def read(data_dir: Path, view: str) -> pa.Table | None:
    """Every quarantined row of ``view`` (None when there is none)."""
    files = sorted(quarantine_dir(data_dir, view).glob("part-*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files]) if files else None
