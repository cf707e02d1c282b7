"""The registry in PostgreSQL: one registry shared by every machine of a team (see ``pg_schema`` for the tables).

Same contract as the file registry (:mod:`featurestore.registry.protocol`): the head row of the project holds
the current state in the file registry's JSON form (so the same format and project checks apply); every applied
version adds a history row. An update is one transaction: the project's head row is locked (``SELECT ... FOR
UPDATE``), ``change`` runs on the state read under that lock, and the new head and history row commit together,
so concurrent applies from any number of processes and machines serialize: never a lost update, versions
contiguous, and history never behind the head.

Reads are cheap when nothing changed: :meth:`PostgresRegistry.load` asks for the version and receives the state
only when it differs from the cached one (one round trip either way); :meth:`version` is the version alone, what
a server polls.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from psycopg import sql

from featurestore.errors import RegistryError
from featurestore.registry.file import FORMAT, RegistryState, RegistryUpdate, checked_state
from featurestore.registry.pg_connection import Connection, PgConnection, Phase, table
from featurestore.registry.pg_url import parse_target


class PostgresRegistry:
    """The registry of ``project`` in the PostgreSQL database of ``url`` (nothing connects before first use).

    >>> PostgresRegistry("postgresql://fs:secret@db/features?schema=ml", "demo").describe()
    "PostgreSQL registry 'postgresql://fs:***@db/features?schema=ml' (project 'demo')"
    """

    def __init__(self, url: str, project: str) -> None:
        self.target = parse_target(url)
        self.project = project
        self._db = PgConnection(self.target, "featurestore registry")
        self._head = table(self.target.schema, "registry_head")
        self._history_table = table(self.target.schema, "registry_history")
        self._cache: RegistryState | None = None
        self._entries: list[dict[str, Any]] = []
        self._entries_lock = threading.Lock()

    def describe(self) -> str:
        """``PostgreSQL registry '<url, password masked>' (project 'p')``."""
        return f"PostgreSQL registry {self.target.redacted!r} (project {self.project!r})"

    def _parse(self, text: str) -> RegistryState:
        where = f"{self.target.redacted!r} (project {self.project!r})"
        try:
            data = json.loads(text)
        except ValueError as err:
            raise RegistryError(f"registry {where} is unreadable: {err}", path=self.target.redacted) from None
        return checked_state(data, self.project, where, self.target.redacted)

    def version(self) -> int:
        """The current version number (one tiny query; 0 before the first apply)."""

        def read(conn: Connection, _phase: Phase) -> int:
            row = conn.execute(self._sql("SELECT version FROM {head} WHERE project = %s"), (self.project,)).fetchone()
            return int(row[0]) if row else 0

        return self._db.run(read, "read the registry version")

    def load(self) -> RegistryState:
        """The current state: the cached one while the version is unchanged (one query either way)."""
        cached = self._cache
        known = cached.version if cached is not None else -1

        def read(conn: Connection, _phase: Phase) -> tuple[int, str | None] | None:
            row = conn.execute(self._sql("SELECT version, CASE WHEN version = %s THEN NULL ELSE state::text END "
                                         "FROM {head} WHERE project = %s"), (known, self.project)).fetchone()
            return None if row is None else (int(row[0]), row[1])

        row = self._db.run(read, "read the registry")
        if row is None:
            return RegistryState(project=self.project)
        _version, text = row
        if text is None:  # the version of ``cached``: asked for as ``known``
            assert cached is not None
            return cached
        state = self._parse(text)
        self._cache = state
        return state

    def _sql(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(head=self._head, history=self._history_table)

    def update(self, change: Callable[[RegistryState], RegistryUpdate]) -> RegistryState:
        """One transaction: lock the project's head row, run ``change`` on its state, write the new head and its
        history entry, commit. Returns the state now current (the one read when ``change`` changed nothing)."""
        kept: dict[str, RegistryState] = {}

        def work(conn: Connection) -> RegistryState | None:
            empty = json.dumps(RegistryState(project=self.project).to_json(), sort_keys=True)
            conn.execute(self._sql("INSERT INTO {head} (project, version, format, state) VALUES (%s, 0, %s, %s) "
                                   "ON CONFLICT (project) DO NOTHING"), (self.project, FORMAT, empty))
            row = conn.execute(self._sql("SELECT state::text FROM {head} WHERE project = %s FOR UPDATE"),
                               (self.project,)).fetchone()
            assert row is not None
            current = self._parse(row[0])
            kept["current"] = current
            result = change(current)
            new, entry = result if isinstance(result, tuple) else (result, None)
            if new is None or new == current:
                return None
            conn.execute(self._sql("UPDATE {head} SET version = %s, format = %s, state = %s, updated_at = now() "
                                   "WHERE project = %s"),
                         (new.version, FORMAT, json.dumps(new.to_json(), sort_keys=True), self.project))
            if entry is not None:
                conn.execute(self._sql("INSERT INTO {history} (project, version, applied_at, entry) "
                                       "VALUES (%s, %s, %s, %s)"),
                             (self.project, int(entry["version"]), entry.get("applied_at"),
                              json.dumps(entry, sort_keys=True)))
            return new

        new = self._db.transaction(work, "apply a change to the registry")
        if new is None:
            return kept["current"]
        self._cache = new
        return new

    def history(self) -> list[dict[str, Any]]:
        """Every applied version, oldest first (only the versions not seen yet are read: entries never change)."""
        with self._entries_lock:
            last = int(self._entries[-1]["version"]) if self._entries else 0

            def read(conn: Connection, _phase: Phase) -> list[tuple[str]]:
                return conn.execute(self._sql("SELECT entry::text FROM {history} WHERE project = %s "
                                              "AND version > %s ORDER BY version"), (self.project, last)).fetchall()

            rows = self._db.run(read, "read the registry history")
            self._entries.extend(json.loads(text) for (text,) in rows)
            return list(self._entries)

    def close(self) -> None:
        """Close the connection (reopened on next use)."""
        self._db.close()

    def __repr__(self) -> str:
        return f"PostgresRegistry({self.target.redacted!r}, {self.project!r})"
