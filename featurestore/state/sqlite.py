"""The state store in a SQLite file beside the registry (``<registry stem>.state.db``).

WAL mode: readers never block the writer nor each other; writes are short ``BEGIN IMMEDIATE``
transactions, so concurrent writers from several processes serialize instead of losing updates.
The file is created by the first write: reading a repo never creates it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from featurestore.errors import RegistryError
from featurestore.state import lock
from featurestore.state.protocol import Record
from featurestore.utc import now_iso

BUSY_TIMEOUT_S = 30.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (kind, name, key)
) WITHOUT ROWID
"""


class SqliteStateStore:
    """Operational state records in one SQLite file, safe for several processes.

    >>> import tempfile, pathlib
    >>> states = SqliteStateStore(pathlib.Path(tempfile.mkdtemp()) / "registry.state.db")
    >>> states.update("watermark", "v", "sqlite:data/online.db", lambda old: {"rows": 3})
    {'rows': 3}
    >>> [(r.name, r.value) for r in states.records("watermark")]
    [('v', {'rows': 3})]
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.ingest_lock_path = self.path.with_name(self.path.name + ".ingest.lock")

    def _fail(self, err: Exception, action: str) -> RegistryError:
        return RegistryError(f"state store {str(self.path)!r}: cannot {action}: {err}", path=str(self.path))

    @contextmanager
    def _connect(self, write: bool) -> Iterator[sqlite3.Connection | None]:
        if not write and not self.path.exists():
            yield None
            return
        try:
            if write:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except (OSError, sqlite3.Error) as err:
            raise self._fail(err, "open it") from None
        try:
            if write:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(_SCHEMA)
            yield conn
        finally:
            conn.close()

    def get(self, kind: str, name: str, key: str) -> Any | None:
        """The value of one record, or None."""
        with self._connect(write=False) as conn:
            if conn is None:
                return None
            try:
                row = conn.execute("SELECT value FROM records WHERE kind = ? AND name = ? AND key = ?",
                                   (kind, name, key)).fetchone()
            except sqlite3.OperationalError as err:
                if "no such table" in str(err):
                    return None
                raise self._fail(err, "read it") from None
        return json.loads(row[0]) if row else None

    def records(self, kind: str, key: str | None = None) -> list[Record]:
        """Every record of ``kind`` (only those with ``key`` when given), by name then key."""
        sql = "SELECT name, key, value FROM records WHERE kind = ?" + (" AND key = ?" if key is not None else "")
        with self._connect(write=False) as conn:
            if conn is None:
                return []
            try:
                rows = conn.execute(sql + " ORDER BY name, key", (kind,) if key is None else (kind, key)).fetchall()
            except sqlite3.OperationalError as err:
                if "no such table" in str(err):
                    return []
                raise self._fail(err, "read it") from None
        return [Record(kind, n, k, json.loads(v)) for n, k, v in rows]

    def update(self, kind: str, name: str, key: str, change: Callable[[Any | None], Any | None]) -> Any | None:
        """Replace one record by ``change(current)`` (None deletes it) in one transaction; returns the new value."""
        with self._connect(write=True) as conn:
            assert conn is not None
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    row = conn.execute("SELECT value FROM records WHERE kind = ? AND name = ? AND key = ?",
                                       (kind, name, key)).fetchone()
                    new = change(json.loads(row[0]) if row else None)
                    if new is None:
                        conn.execute("DELETE FROM records WHERE kind = ? AND name = ? AND key = ?", (kind, name, key))
                    else:
                        conn.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?)",
                                     (kind, name, key, json.dumps(new, sort_keys=True),
                                      now_iso()))
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as err:
                raise self._fail(err, "write it") from None
        return new

    def delete(self, kind: str, names: Collection[str] | None = None, key: str | None = None) -> None:
        """Delete the records of ``kind``: of these names only (None: all), and of ``key`` only (None: all)."""
        if (names is not None and not names) or not self.path.exists():
            return
        sql, params = "DELETE FROM records WHERE kind = ?", [kind]
        if key is not None:
            sql, params = sql + " AND key = ?", [*params, key]
        if names is not None:
            sql += f" AND name IN ({', '.join('?' * len(names))})"
            params += list(names)
        with self._connect(write=True) as conn:
            assert conn is not None
            try:
                conn.execute(sql, params)
            except sqlite3.Error as err:
                raise self._fail(err, "write it") from None

    def exclusive(self, operation: str) -> AbstractContextManager[None]:
        """Hold the lock file ``<state db>.lock`` while the block runs (see :func:`.lock.exclusive`)."""
        return lock.exclusive(self.lock_path, operation)

    def ingest(self, exclusive: bool) -> AbstractContextManager[None]:
        """Hold the lock file ``<state db>.ingest.lock``, shared or exclusive (see :func:`.lock.ingest`)."""
        return lock.ingest(self.ingest_lock_path, exclusive)

    def close(self) -> None:
        """Nothing to release: every call opens and closes its connection."""

    def __repr__(self) -> str:
        return f"SqliteStateStore({str(self.path)!r})"
