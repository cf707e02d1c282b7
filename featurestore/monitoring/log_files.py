"""Where a feature service's served vectors are logged, and how the log is read back.

A service with ``logging=LoggingConfig(...)`` has its log in :func:`log_dir`: Parquet files
``part-<UTC stamp>-<8 hex>.parquet``, each written under a hidden temporary name and renamed, so a reader never
sees half a file. Columns, in order:

* ``__request_id`` (string; one id per lookup call), ``__log_timestamp`` (timestamp[us, UTC]: the lookup's
  ``now``, the time online values were read at);
* the entity columns as the request gave them (join keys, typed like the views' keys), then the request fields
  of the service's on-demand views;
* per feature of the service, ``<projection>__<feature>`` (the feature's type) and
  ``<projection>__<feature>__status`` (``PRESENT``, ``NOT_FOUND`` or ``OUTSIDE_MAX_AGE``);
* per view of the service, ``<projection>__event_timestamp`` (timestamp[us, UTC], null when not found).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from featurestore.errors import InputError
from featurestore.utc import epoch_us

LOG_TIME = "__log_timestamp"
REQUEST_ID = "__request_id"


def log_dir(repo_path: Path, data_dir: Path, service: str, destination: str | None) -> Path:
    """The log folder of ``service``: ``destination`` (relative to the repo) when set, else
    ``<data_dir>/logs/<service>`` (``data_dir``: the registry file's folder).

    >>> log_dir(Path("/repo"), Path("/repo/data"), "ranking", None).as_posix()
    '/repo/data/logs/ranking'
    """
    if destination:
        path = Path(destination)
        return path if path.is_absolute() else repo_path / path
    return data_dir / "logs" / service


def log_files(folder: Path) -> list[Path]:
    """The complete log files of a folder, oldest first (temporary files are hidden and skipped)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("part-*.parquet") if p.is_file())


def read_log(folder: Path, start: datetime | None = None, end: datetime | None = None) -> pa.Table:
    """The logged rows with ``__log_timestamp`` in ``[start, end]`` (either open), in log order; an empty table
    with no columns when nothing was logged."""
    files = log_files(folder)
    if not files:
        return pa.table({})
    where = []
    if start is not None:
        where.append(f"epoch_us({LOG_TIME}) >= {epoch_us(start)}")
    if end is not None:
        where.append(f"epoch_us({LOG_TIME}) <= {epoch_us(end)}")
    names = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    sql = f"SELECT * FROM read_parquet([{names}], union_by_name = true)"
    if where:
        sql += " WHERE " + " AND ".join(where)
    con = duckdb.connect()
    try:
        return con.sql(sql).to_arrow_table()
    except duckdb.Error as err:
        raise InputError(f"the feature log in {folder} cannot be read: {err}", path=str(folder)) from None
    finally:
        con.close()
