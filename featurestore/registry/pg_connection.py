"""PostgreSQL connections of the registry and the state store: lazy, re-opened when dropped, errors translated.

Imported only when a PostgreSQL registry is opened (it imports the ``psycopg`` driver, the ``postgres`` extra).
A :class:`PgConnection` opens its connection on first use (``connect_timeout`` :data:`CONNECT_TIMEOUT_S` unless
the URL sets one), creates the schema's tables when missing, and serializes its users (threads of one
process) with a lock. A connection found broken (the server restarted, a network cut) is dropped and the work
retried once on a new one, unless the failure came while a COMMIT was in flight (then nobody knows whether it
was stored, and the error says so). Every driver error becomes a
:class:`~featurestore.errors.RegistryError` naming the database (password masked), never a driver traceback.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from featurestore.errors import RegistryError
from featurestore.registry.pg_schema import DDL, DDL_LOCK, TABLES
from featurestore.registry.pg_url import PgTarget

T = TypeVar("T")
Connection = psycopg.Connection[tuple[Any, ...]]
CONNECT_TIMEOUT_S = 5
"""Seconds to wait for PostgreSQL to accept a connection (unless the URL's ``connect_timeout`` says otherwise)."""


class Phase:
    """Where a unit of work is, for the retry decision: ``committing`` once its COMMIT is sent."""

    def __init__(self) -> None:
        self.committing = False


def failure(target: PgTarget, err: Exception, action: str) -> RegistryError:
    """A RegistryError for a driver error ``err`` while doing ``action``: the database named, secrets masked."""
    detail = " ".join(str(err).split()) or type(err).__name__
    if target.password:
        detail = detail.replace(target.password, "***")
    return RegistryError(f"PostgreSQL registry {target.redacted!r}: cannot {action}: {detail}", path=target.redacted)


def connect(target: PgTarget, application_name: str) -> Connection:
    """A new autocommit connection to ``target`` (RegistryError when PostgreSQL cannot be reached)."""
    options: dict[str, Any] = {"autocommit": True}
    if "connect_timeout" not in target.conninfo:
        options["connect_timeout"] = CONNECT_TIMEOUT_S
    if "application_name" not in target.conninfo:
        options["application_name"] = application_name
    try:
        return psycopg.connect(target.conninfo, **options)
    except psycopg.Error as err:
        raise failure(target, err, "connect") from None


def ensure_tables(conn: Connection, schema: str) -> None:
    """Create the registry's schema and tables when any is missing (under an advisory lock: one creator)."""
    found = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s "
                         "AND table_name = ANY(%s)", (schema, list(TABLES))).fetchone()
    if found is not None and found[0] == len(TABLES):
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK,))
        conn.execute(sql.SQL(DDL).format(schema=sql.Identifier(schema)))


def table(schema: str, name: str) -> sql.Composed:
    """``"schema"."name"``, quoted."""
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


class PgConnection:
    """One lazily opened connection shared by the threads of one registry or state store."""

    def __init__(self, target: PgTarget, application_name: str) -> None:
        self.target = target
        self.application_name = application_name
        self._conn: Connection | None = None
        self._lock = threading.RLock()

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed:
            conn = connect(self.target, self.application_name)
            try:
                ensure_tables(conn, self.target.schema)
            except psycopg.Error as err:
                conn.close()
                raise failure(self.target, err, f"create its tables in schema {self.target.schema!r}") from None
            self._conn = conn
        return self._conn

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def run(self, work: Callable[[Connection, Phase], T], action: str) -> T:
        """``work(connection, phase)`` under the lock; retried once on a new connection when the old one broke
        before a COMMIT was sent. RegistryError (naming ``action``) for any driver error."""
        with self._lock:
            for attempt in (1, 2):
                conn, phase = self._connection(), Phase()
                try:
                    return work(conn, phase)
                except psycopg.OperationalError as err:
                    broken = conn.closed or conn.broken
                    self._discard()
                    if broken and phase.committing:
                        raise RegistryError(
                            f"PostgreSQL registry {self.target.redacted!r}: the connection was lost while "
                            f"committing ({action}): the change may or may not be stored; check before retrying",
                            path=self.target.redacted) from None
                    if not (broken and attempt == 1):
                        raise failure(self.target, err, action) from None
                except psycopg.Error as err:
                    self._rollback(conn)
                    raise failure(self.target, err, action) from None
            raise AssertionError("unreachable")  # pragma: no cover

    def _rollback(self, conn: Connection) -> None:
        try:
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                conn.execute("ROLLBACK")
        except psycopg.Error:
            self._discard()

    def transaction(self, work: Callable[[Connection], T | None], action: str) -> T | None:
        """``work`` in one transaction (BEGIN ... COMMIT; rolled back when it raises or returns None)."""

        def unit(conn: Connection, phase: Phase) -> T | None:
            conn.execute("BEGIN")
            try:
                result = work(conn)
            except BaseException:
                if not conn.closed and not conn.broken:
                    self._rollback(conn)
                raise
            if result is None:
                conn.execute("ROLLBACK")
                return None
            phase.committing = True
            conn.execute("COMMIT")
            return result

        return self.run(unit, action)

    def close(self) -> None:
        """Close the connection (the next use opens a new one)."""
        with self._lock:
            self._discard()
