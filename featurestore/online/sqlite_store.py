"""The SQLite online store: one table keyed by (project, view, entity), in WAL mode."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from featurestore.errors import OnlineStoreError, OnlineStoreUnavailableError
from featurestore.online import codec
from featurestore.online import keys as layout
from featurestore.online.plans import ViewPlans
from featurestore.online.protocol import ViewSpec

TABLE = "fs_online_rows"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    project TEXT NOT NULL,
    view TEXT NOT NULL,
    entity TEXT NOT NULL,       -- k1=v1,k2=v2 with the escaping of featurestore/online/keys.py
    event_us INTEGER NOT NULL,
    created_us INTEGER NOT NULL,
    row BLOB NOT NULL,          -- the encoded row (featurestore/online/codec.py)
    PRIMARY KEY (project, view, entity)
) WITHOUT ROWID
"""
_UPSERT = f"""
INSERT INTO {TABLE} (project, view, entity, event_us, created_us, row) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (project, view, entity) DO UPDATE
SET event_us = excluded.event_us, created_us = excluded.created_us, row = excluded.row
WHERE (excluded.event_us, excluded.created_us) >= ({TABLE}.event_us, {TABLE}.created_us)
"""
_SELECT_ONE = f"SELECT row FROM {TABLE} WHERE project = ? AND view = ? AND entity = ?"
_WRITE_CHUNK = 10_000  # rows per transaction: readers never wait (WAL), other writers wait at most one chunk
_READ_CHUNK = 500  # entities per SELECT ... IN (...)
BUSY_TIMEOUT_S = 30.0


class SqliteOnlineStore:
    """Online store in one SQLite file shared by projects (rows are tagged with the project).

    WAL mode with a busy timeout: several processes may read while one writes. Each thread
    gets its own connection.
    """

    def __init__(self, path: str | Path, project: str) -> None:
        self.path = Path(path)
        self.project = project
        layout.project_prefix(project)  # validates the name
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self._plan = ViewPlans(project, full_keys=False)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OnlineStoreError(f"cannot create the folder of the SQLite online store {self.path}: {exc}",
                                   path=str(self.path)) from None
        conn = self._conn()
        self._run(lambda: conn.execute(_SCHEMA), "create the online table")

    def _fail(self, exc: Exception, action: str) -> NoReturn:
        raise OnlineStoreError(f"SQLite online store {self.path}: failed to {action}: {exc}",
                               path=str(self.path)) from None

    def _run(self, fn: Any, action: str) -> Any:
        try:
            return fn()
        except sqlite3.Error as exc:
            self._fail(exc, action)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False, cached_statements=256)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        except sqlite3.Error as exc:
            self._fail(exc, "open the database")
        self._local.conn, self._local.pid = conn, os.getpid()
        with self._lock:
            self._conns.append(conn)
        return conn

    def write(self, view: ViewSpec, keys: list[tuple[Any, ...]], event_us: list[int], created_us: list[int],
              values: list[tuple[Any, ...]]) -> int:
        """Upsert rows (newest wins, never replaced by an older row); return how many were stored.

        Rows go in batches: when a row is invalid (:class:`InputError`), earlier batches may be stored.
        """
        codec.check_write(view, keys, event_us, created_us, values)
        if not keys:
            return 0
        build = self._plan(view)[0]
        encode = codec.row_encoder(view)
        rows = codec.latest_rows(keys, event_us, created_us)
        conn = self._conn()
        project, name = self.project, view.name
        stored = 0
        for start in range(0, len(rows), _WRITE_CHUNK):
            batch = rows[start:start + _WRITE_CHUNK]
            entities = _entities(view, keys, batch, build)
            blobs = encode(batch, event_us, created_us, values)
            params = [(project, name, e, event_us[i], created_us[i], b)
                      for e, i, b in zip(entities, batch, blobs, strict=True)]
            try:
                before = conn.total_changes
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.executemany(_UPSERT, params)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                stored += conn.total_changes - before
            except sqlite3.Error as exc:
                self._fail(exc, f"write feature view {view.name!r}")
            except OverflowError as exc:
                self._fail(exc, f"write feature view {view.name!r} (event or created time out of range)")
        return stored

    def read(self, requests: list[tuple[ViewSpec, list[tuple[Any, ...]]]]
             ) -> list[list[tuple[int, tuple[Any, ...]] | None]]:
        """For each ``(view, keys)`` and key: ``None`` or ``(event_us, values)``."""
        conn = self._conn()
        out: list[list[tuple[int, tuple[Any, ...]] | None]] = []
        several = len(requests) > 1 or any(len(k) > 1 for _, k in requests)
        try:
            if several:
                conn.execute("BEGIN")  # one snapshot for the whole read
            try:
                for view, entity_keys in requests:
                    out.append(self._read_view(conn, view, entity_keys))
            finally:
                if several:
                    conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._fail(exc, "read")
        return out

    def _read_view(self, conn: sqlite3.Connection, view: ViewSpec, entity_keys: Sequence[Any]
                   ) -> list[tuple[int, tuple[Any, ...]] | None]:
        build, decode, _ = self._plan(view)
        entities = _entities(view, entity_keys, range(len(entity_keys)), build)
        if len(entities) == 1:
            found = conn.execute(_SELECT_ONE, (self.project, view.name, entities[0])).fetchone()
            blobs = {entities[0]: found[0]} if found else {}
        else:
            blobs = {}
            distinct = list(dict.fromkeys(entities))
            for start in range(0, len(distinct), _READ_CHUNK):
                chunk = distinct[start:start + _READ_CHUNK]
                sql = (f"SELECT entity, row FROM {TABLE} WHERE project = ? AND view = ? "
                       f"AND entity IN ({','.join('?' * len(chunk))})")
                blobs.update(conn.execute(sql, (self.project, view.name, *chunk)).fetchall())
        try:
            return [None if (b := blobs.get(e)) is None else decode(b) for e in entities]
        except Exception as exc:  # a corrupt row must not leak a msgpack error
            raise OnlineStoreError(f"SQLite online store {self.path}: undecodable row in feature view "
                                   f"{view.name!r}: {exc}", view=view.name) from None

    def _delete(self, sql: str, params: tuple[str, ...], action: str) -> None:
        conn = self._conn()
        self._run(lambda: conn.execute(sql, params), action)

    def delete_view(self, view_name: str) -> None:
        """Remove every row of one view of this project."""
        layout.view_prefix(self.project, view_name)
        self._delete(f"DELETE FROM {TABLE} WHERE project = ? AND view = ?", (self.project, view_name),
                     f"delete feature view {view_name!r}")

    def teardown(self) -> None:
        """Remove every row of this project, and nothing else."""
        self._delete(f"DELETE FROM {TABLE} WHERE project = ?", (self.project,),
                     f"tear down project {self.project!r}")

    def ping(self) -> None:
        """Raise :class:`OnlineStoreUnavailableError` when the database cannot be read."""
        try:
            self._conn().execute(f"SELECT 1 FROM {TABLE} LIMIT 1").fetchall()
        except (sqlite3.Error, OnlineStoreError) as exc:
            raise OnlineStoreUnavailableError(f"SQLite online store {self.path} is unavailable: {exc}",
                                              path=str(self.path)) from None

    def close(self) -> None:
        """Close every connection opened by this store (in any thread)."""
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    @property
    def identity(self) -> str:
        """``sqlite:<absolute path of the database file>``."""
        return f"sqlite:{self.path.resolve().as_posix()}"

    def __repr__(self) -> str:
        return f"SqliteOnlineStore({str(self.path)!r}, project={self.project!r})"


def _entities(view: ViewSpec, keys: Sequence[Any], rows: Sequence[int],
              build: layout.KeyBuilder) -> list[str]:
    try:
        return [build(keys[i]) for i in rows]
    except (TypeError, ValueError, OverflowError) as exc:
        for i in rows:
            try:
                build(keys[i])
            except (TypeError, ValueError, OverflowError) as err:
                raise layout.key_error(view, keys[i], err) from None
        raise layout.key_error(view, None, exc) from None
