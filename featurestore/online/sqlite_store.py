"""The SQLite online store: tables keyed by (project, view, entity) (``sqlite_schema.py``), in WAL mode."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from featurestore.errors import OnlineStoreError, OnlineStoreUnavailableError
from featurestore.online import agg_frames as frames
from featurestore.online import codec, freshness
from featurestore.online import keys as layout
from featurestore.online.plans import ViewPlans
from featurestore.online.protocol import ViewSpec
from featurestore.online.sqlite_schema import (
    ADVANCE,
    APPEND,
    FRESH,
    RECORDS,
    SCHEMA,
    SELECT_ONE,
    STATE_UPSERT,
    STATES,
    TABLE,
    TRIM,
    UPSERT,
    aggregate_select,
)

_WRITE_CHUNK = 10_000  # rows per transaction: readers never wait (WAL), other writers wait at most one chunk
_READ_CHUNK = 500  # entities per SELECT ... IN (...)
BUSY_TIMEOUT_S = 30.0
FILE_CHECK_S = 0.1
"""How often a read checks that the file is still the one opened (one ``stat``); ``ping`` always checks."""


class SqliteOnlineStore:
    """Online store in one SQLite file shared by projects (rows are tagged with the project).

    WAL mode with a busy timeout: several processes may read while one writes. Each thread
    gets its own connection.

    The file may be deleted or replaced under a running process (a clean-up, a restore): reads
    check its inode at most every :data:`FILE_CHECK_S` seconds and :meth:`ping` on every call.
    A replaced file is reopened (every thread's connection); a deleted one makes reads and
    ``ping`` raise :class:`OnlineStoreUnavailableError` until a write (here or in another
    process) creates it again, rather than serving the unlinked file.
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
        self._generation = 0  # bumped when the file changes: every thread then reopens
        self._inode: int | None = None
        self._checked = 0.0
        self._conn(create=True)

    def _fail(self, exc: Exception, action: str) -> NoReturn:
        raise OnlineStoreError(f"SQLite online store {self.path}: failed to {action}: {exc}",
                               path=str(self.path)) from None

    def _stat(self) -> int | None:
        try:
            return os.stat(self.path).st_ino
        except FileNotFoundError:
            return None

    def _check_file(self, force: bool, create: bool) -> None:
        """Notice a deleted or replaced file: reopen, create (``create``) or raise."""
        now = time.monotonic()
        if not force and not create and now - self._checked < FILE_CHECK_S:
            return
        inode = self._stat()
        if inode is None and not create:
            self._checked = 0.0  # checked again on the next call, until the file is back
            raise OnlineStoreUnavailableError(
                f"SQLite online store {self.path} was deleted under this process: run 'featurestore materialize' "
                "(or write) to create it again", path=str(self.path))
        if inode != self._inode:
            with self._lock:
                self._generation += 1
        self._checked = now

    def _conn(self, create: bool = False) -> sqlite3.Connection:
        """This thread's connection, reopened when the file changed; ``create``: create a deleted file."""
        self._check_file(force=False, create=create)
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is not None and local.pid == os.getpid() and local.generation == self._generation:
            return conn
        if conn is not None and local.pid == os.getpid():
            with self._lock:
                if conn in self._conns:
                    self._conns.remove(conn)
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._check_file(force=True, create=create)  # never let connect() create a deleted file silently
        generation = self._generation
        try:
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False, cached_statements=256)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            if create:
                for statement in SCHEMA:
                    conn.execute(statement)
        except sqlite3.Error as exc:
            self._fail(exc, "open the database")
        self._inode = self._stat()
        local.conn, local.pid, local.generation = conn, os.getpid(), generation
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
        conn = self._conn(create=True)
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
                    conn.executemany(UPSERT, params)
                    before_fresh = conn.total_changes
                    conn.execute(ADVANCE, (project, name, max(event_us[i] for i in batch)))
                    before += conn.total_changes - before_fresh  # not a row
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
        build, decode, _, _ = self._plan(view)
        entities = _entities(view, entity_keys, range(len(entity_keys)), build)
        if view.aggregate:
            return self._read_aggregates(conn, view, entities)
        if len(entities) == 1:
            found = conn.execute(SELECT_ONE, (self.project, view.name, entities[0])).fetchone()
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

    def _delete(self, where: str, params: tuple[str, ...], action: str) -> None:
        """Delete the rows, states and records matching ``where`` (one transaction)."""
        conn = self._conn()
        self._transaction(conn, [(f"DELETE FROM {t} WHERE {where}", [params])
                                 for t in (TABLE, STATES, RECORDS, FRESH)], action)

    def _read_aggregates(self, conn: sqlite3.Connection, view: ViewSpec, entities: list[str]
                         ) -> list[tuple[int, tuple[Any, ...]] | None]:
        """States and records of the entities: one SELECT (states UNION ALL records) per chunk."""
        states: dict[str, tuple[int, Any]] = {}
        records: dict[str, list[tuple[int, int, Any]]] = {}
        distinct = list(dict.fromkeys(entities))
        for start in range(0, len(distinct), _READ_CHUNK):
            chunk = distinct[start:start + _READ_CHUNK]
            sql = aggregate_select(len(chunk))
            for kind, entity, us, seq, blob in conn.execute(sql, (self.project, view.name, *chunk)):
                if kind:
                    records.setdefault(entity, []).append((seq, us, blob))
                else:
                    states[entity] = (us, blob)
        answers: dict[str, Any] = {}
        try:
            for entity in distinct:
                snapshot, state = states.get(entity, (None, None))
                found = tuple((us, _blob(b)) for _, us, b in sorted(records.get(entity, ())))
                answers[entity] = frames.entry(snapshot, None if state is None else _blob(state), found)
        except (TypeError, ValueError) as exc:
            raise frames.corrupt(f"SQLite online store {self.path}", view, exc) from None
        return [answers[e] for e in entities]

    def _transaction(self, conn: sqlite3.Connection, steps: Sequence[tuple[str, Sequence[Any]]],
                     action: str) -> list[int]:
        """Run each ``(sql, parameter tuples)`` step with ``executemany`` in one write transaction; return
        how many rows each step changed."""
        changed = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in steps:
                    before = conn.total_changes
                    conn.executemany(sql, params)
                    changed.append(conn.total_changes - before)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            self._fail(exc, action)
        except OverflowError as exc:
            self._fail(exc, f"{action} (a value out of range)")
        return changed

    def write_aggregates(self, view: ViewSpec, keys: list[tuple[Any, ...]], snapshot_us: int,
                         states: list[bytes], newest_us: int | None = None) -> int:
        """Store states (newest snapshot wins) and drop the records created before ``snapshot_us``, a chunk
        of entities per transaction; returns how many states were stored."""
        snapshot = frames.check_states(view, keys, snapshot_us, states)
        if not keys:
            return 0
        build = self._plan(view)[0]
        rows = frames.last_per_key(keys)
        conn = self._conn(create=True)
        project, name = self.project, view.name
        stored = 0
        every = _entities(view, keys, rows, build)  # every key checked before a write
        for start in range(0, len(rows), _WRITE_CHUNK):
            batch = rows[start:start + _WRITE_CHUNK]
            entities = every[start:start + _WRITE_CHUNK]
            upserts = [(project, name, e, snapshot, states[i]) for e, i in zip(entities, batch, strict=True)]
            trims = [(project, name, e, snapshot) for e in entities]
            chunk_newest = newest_us if newest_us is not None else freshness.states_newest([states[i] for i in batch])
            fresh = [(project, name, chunk_newest)] if chunk_newest is not None else []
            stored += self._transaction(conn, [(STATE_UPSERT, upserts), (TRIM, trims), (ADVANCE, fresh)],
                                        f"write aggregate view {view.name!r}")[0]
        return stored

    def append_aggregates(self, view: ViewSpec, keys: list[tuple[Any, ...]], created_us: list[int],
                          records: list[bytes], newest_us: int | None = None) -> int:
        """Append the records in order (one transaction); returns how many."""
        created = frames.check_records(view, keys, created_us, records)
        if not keys:
            return 0
        if newest_us is None:
            newest_us = freshness.records_newest(records)
        entities = _entities(view, keys, range(len(keys)), self._plan(view)[0])
        params = [(self.project, view.name, e, c, r) for e, c, r in zip(entities, created, records, strict=True)]
        conn = self._conn(create=True)
        fresh = [(self.project, view.name, newest_us)] if newest_us is not None else []
        return self._transaction(conn, [(APPEND, params), (ADVANCE, fresh)],
                                 f"append records to aggregate view {view.name!r}")[0]

    def data_timestamps(self) -> dict[str, int]:
        """Per view, the newest event time ever written (epoch µs), by any process."""
        try:
            rows = self._conn().execute(f"SELECT view, event_us FROM {FRESH} WHERE project = ?",
                                        (self.project,)).fetchall()
        except sqlite3.Error as exc:
            self._fail(exc, "read the data timestamps")
        return {view: int(us) for view, us in rows}

    def delete(self, view: ViewSpec, keys: list[tuple[Any, ...]]) -> int:
        """Remove the rows of these entities of one view (one transaction); return how many were stored."""
        build = self._plan(view)[0]
        entities = list(dict.fromkeys(_entities(view, keys, range(len(keys)), build)))
        if not entities:
            return 0
        conn = self._conn()
        # An aggregate view's entity counts once whether it had a state, records or both: the counted steps are
        # 0 (the states of entities without records) and 2 (one record of each entity with records).
        sql = (f"DELETE FROM {TABLE} WHERE project = ? AND view = ? AND entity = ?" if not view.aggregate else
               f"DELETE FROM {STATES} WHERE project = ?1 AND view = ?2 AND entity = ?3 AND NOT EXISTS "
               f"(SELECT 1 FROM {RECORDS} WHERE project = ?1 AND view = ?2 AND entity = ?3)")
        steps = [(sql, [(self.project, view.name, e) for e in entities])]
        if view.aggregate:
            steps += [(f"DELETE FROM {STATES} WHERE project = ? AND view = ? AND entity = ?", steps[0][1]),
                      (f"DELETE FROM {RECORDS} WHERE project = ? AND view = ? AND entity = ? AND seq = (SELECT "
                       f"max(seq) FROM {RECORDS} WHERE project = ?1 AND view = ?2 AND entity = ?3)", steps[0][1]),
                      (f"DELETE FROM {RECORDS} WHERE project = ? AND view = ? AND entity = ?", steps[0][1])]
        changed = self._transaction(conn, steps, f"delete entities of feature view {view.name!r}")
        return changed[0] + changed[2] if view.aggregate else changed[0]

    def delete_view(self, view_name: str) -> None:
        """Remove every row of one view of this project."""
        layout.view_prefix(self.project, view_name)
        self._delete("project = ? AND view = ?", (self.project, view_name), f"delete feature view {view_name!r}")

    def teardown(self) -> None:
        """Remove every row of this project, and nothing else."""
        self._delete("project = ?", (self.project,), f"tear down project {self.project!r}")

    def ping(self) -> None:
        """Raise :class:`OnlineStoreUnavailableError` when the database cannot be read."""
        try:
            self._check_file(force=True, create=False)
            self._conn().execute(f"SELECT 1 FROM {TABLE} LIMIT 1").fetchall()
        except OnlineStoreUnavailableError:
            raise
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


def _blob(value: Any) -> bytes:
    if type(value) is not bytes:
        raise TypeError(f"a stored state or record is a {type(value).__name__}, not bytes")
    return value


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
