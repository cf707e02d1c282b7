"""The state store in PostgreSQL, beside a PostgreSQL registry: the state of a shared registry is shared too
(the watermarks written by one machine are those the next one continues from).

Records live in ``state_records`` keyed by ``(project, kind, name, key)``; an update is one transaction under a
transaction-scoped advisory lock on its record, so concurrent read-modify-writes serialize (a record that does
not exist yet included). The repo's locks are advisory locks of the database, held by a connection for the
duration of the block: ``exclusive`` takes ``pg_try_advisory_lock`` (BusyError at once when held; the holder's
operation, pid and host are in ``state_locks``), ``ingest`` takes ``pg_advisory_lock_shared`` or
``pg_advisory_lock`` (waiting at most :data:`~featurestore.state.lock.INGEST_TIMEOUT_S`). PostgreSQL releases
the locks of a process that dies (its session ends), so a crashed run never leaves one stuck.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
from psycopg import sql

from featurestore.errors import BusyError
from featurestore.registry.pg_connection import Connection, PgConnection, Phase, connect, failure, table
from featurestore.registry.pg_url import PgTarget
from featurestore.state.lock import INGEST_TIMEOUT_S
from featurestore.state.protocol import Record
from featurestore.utc import now_iso

IDLE_LOCK_CONNECTIONS = 4
"""Connections kept open for lock holders between blocks (a push takes the ingest lock every time)."""


class PostgresStateStore:
    """Operational state records of ``project`` in the PostgreSQL schema of ``target``."""

    def __init__(self, target: PgTarget, project: str) -> None:
        self.target = target
        self.project = project
        self._db = PgConnection(target, "featurestore state")
        self._records = table(target.schema, "state_records")
        self._locks = table(target.schema, "state_locks")
        self._idle: list[Connection] = []
        self._idle_lock = threading.Lock()
        self._tables = False  # whether this store saw its tables (created by its first connection)

    def _sql(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(records=self._records, locks=self._locks)

    def _lock_key(self, *parts: str) -> str:
        return "\x1f".join(("featurestore", self.target.schema, self.project, *parts))

    def get(self, kind: str, name: str, key: str) -> Any | None:
        """The value of one record, or None."""

        def read(conn: Connection, _phase: Phase) -> Any | None:
            row = conn.execute(self._sql("SELECT value::text FROM {records} WHERE project = %s AND kind = %s "
                                         "AND name = %s AND key = %s"), (self.project, kind, name, key)).fetchone()
            return json.loads(row[0]) if row else None

        return self._db.run(read, f"read state record {kind}/{name}")

    def records(self, kind: str, key: str | None = None) -> list[Record]:
        """Every record of ``kind`` (only those with ``key`` when given), by name then key."""
        text = "SELECT name, key, value::text FROM {records} WHERE project = %s AND kind = %s"
        params: tuple[str, ...] = (self.project, kind)
        if key is not None:
            text, params = text + " AND key = %s", (*params, key)

        def read(conn: Connection, _phase: Phase) -> list[Record]:
            rows = conn.execute(self._sql(text + " ORDER BY name, key"), params).fetchall()
            return [Record(kind, n, k, json.loads(v)) for n, k, v in rows]

        return self._db.run(read, f"read the state records of kind {kind!r}")

    def update(self, kind: str, name: str, key: str, change: Callable[[Any | None], Any | None]) -> Any | None:
        """Replace one record by ``change(current)`` (None deletes it) in one transaction; returns the new value."""
        where = (self.project, kind, name, key)
        done: dict[str, Any] = {}

        def work(conn: Connection) -> bool:
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (self._lock_key(kind, name, key),))
            row = conn.execute(self._sql("SELECT value::text FROM {records} WHERE project = %s AND kind = %s "
                                         "AND name = %s AND key = %s"), where).fetchone()
            new = done["new"] = change(json.loads(row[0]) if row else None)
            if new is None:
                conn.execute(self._sql("DELETE FROM {records} WHERE project = %s AND kind = %s AND name = %s "
                                       "AND key = %s"), where)
            else:
                conn.execute(self._sql("INSERT INTO {records} (project, kind, name, key, value) "
                                       "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (project, kind, name, key) "
                                       "DO UPDATE SET value = EXCLUDED.value, updated_at = now()"),
                             (*where, json.dumps(new, sort_keys=True)))
            return True

        self._db.transaction(work, f"write state record {kind}/{name}")
        return done["new"]

    def delete(self, kind: str, names: Collection[str] | None = None, key: str | None = None) -> None:
        """Delete the records of ``kind``: of these names only (None: all), and of ``key`` only (None: all)."""
        if names is not None and not names:
            return
        text = "DELETE FROM {records} WHERE project = %s AND kind = %s"
        params: list[Any] = [self.project, kind]
        if key is not None:
            text, params = text + " AND key = %s", [*params, key]
        if names is not None:
            text, params = text + " AND name = ANY(%s)", [*params, list(names)]

        def work(conn: Connection, _phase: Phase) -> None:
            conn.execute(self._sql(text), params)

        self._db.run(work, f"delete the state records of kind {kind!r}")

    # -- locks: a connection of their own, held for the block ------------------------------------------
    def _take(self) -> tuple[Connection, bool]:
        """A connection for a lock holder, and whether it was kept from an earlier block."""
        if not self._tables:
            self._db.run(lambda _conn, _phase: None, "connect")  # creates the tables when missing
            self._tables = True
        with self._idle_lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed and not conn.broken:
                    return conn, True
        return connect(self.target, "featurestore lock"), False

    def _give_back(self, conn: Connection) -> None:
        with self._idle_lock:
            if len(self._idle) < IDLE_LOCK_CONNECTIONS and not conn.closed and not conn.broken:
                self._idle.append(conn)
                return
        conn.close()

    def _acquired(self, acquire: Callable[[Connection], None], action: str) -> Connection:
        """A connection on which ``acquire`` took its lock; a kept connection found dead (PostgreSQL restarted
        since) is replaced by a new one, once."""
        for attempt in (1, 2):
            conn, kept = self._take()
            try:
                acquire(conn)
                return conn
            except psycopg.Error as err:
                broken = conn.closed or conn.broken
                conn.close()
                if not (kept and broken and attempt == 1):
                    raise failure(self.target, err, action) from None
            except BaseException:
                self._give_back(conn)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def _held(self, acquire: Callable[[Connection], None], release: str, key: str, action: str) -> Iterator[None]:
        conn = self._acquired(acquire, action)
        try:
            yield
        finally:
            try:
                conn.execute(f"SELECT {release}(hashtextextended(%s, 0))", (key,))
                self._give_back(conn)
            except psycopg.Error:
                conn.close()  # the session ends: PostgreSQL releases its locks

    def exclusive(self, operation: str) -> AbstractContextManager[None]:
        """Hold the repo's exclusive-operation lock while the block runs; BusyError at once when it is held."""
        key = self._lock_key("exclusive")

        def acquire(conn: Connection) -> None:
            row = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (key,)).fetchone()
            if row is None or not row[0]:
                held = conn.execute(self._sql("SELECT operation, pid, host, since FROM {locks} WHERE project = %s "
                                              "AND lock = 'exclusive'"), (self.project,)).fetchone()
                running, pid, host, since = held if held else (None, None, None, None)
                raise BusyError(f"{operation} refused: another operation is already running ({running or 'unknown'},"
                                f" pid {pid or '?'} on {host or '?'}, since {since or '?'}); retry when it ends",
                                running=running, since=since, pid=pid, lock=f"{self.target.redacted} (advisory)")
            conn.execute(self._sql("INSERT INTO {locks} (project, lock, operation, pid, host, since) VALUES "
                                   "(%s, 'exclusive', %s, %s, %s, %s) ON CONFLICT (project, lock) DO UPDATE SET "
                                   "operation = EXCLUDED.operation, pid = EXCLUDED.pid, host = EXCLUDED.host, "
                                   "since = EXCLUDED.since"),
                         (self.project, operation, os.getpid(), socket.gethostname(), now_iso()))

        return self._held(acquire, "pg_advisory_unlock", key, f"take the lock for {operation}")

    def ingest(self, exclusive: bool) -> AbstractContextManager[None]:
        """Hold the repo's ingest lock (shared, or exclusive) while the block runs, waiting at most
        :data:`~featurestore.state.lock.INGEST_TIMEOUT_S` seconds (then BusyError)."""
        key = self._lock_key("ingest")
        what = "exclusive" if exclusive else "shared"

        def acquire(conn: Connection) -> None:
            conn.execute("SELECT set_config('lock_timeout', %s, false)", (f"{int(INGEST_TIMEOUT_S * 1000)}ms",))
            try:
                fn = "pg_advisory_lock" if exclusive else "pg_advisory_lock_shared"
                conn.execute(f"SELECT {fn}(hashtextextended(%s, 0))", (key,))
            except psycopg.errors.LockNotAvailable:
                raise BusyError(f"the ingest lock of project {self.project!r} in {self.target.redacted!r} was not "
                                f"free for {INGEST_TIMEOUT_S:g} s ({what} wanted): a push or a materialize snapshot "
                                "is stuck; retry", lock=f"{self.target.redacted} (advisory)") from None
            finally:
                if not conn.closed and not conn.broken:
                    conn.execute("SELECT set_config('lock_timeout', '0', false)")

        release = "pg_advisory_unlock" if exclusive else "pg_advisory_unlock_shared"
        return self._held(acquire, release, key, f"take the ingest lock ({what})")

    def close(self) -> None:
        """Close every connection (reopened on next use); locks held by running blocks stay held."""
        self._db.close()
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def __repr__(self) -> str:
        return f"PostgresStateStore({self.target.redacted!r}, {self.project!r})"
