"""The in-memory online store: the fake for fast tests, and a real implementation of the protocol.

Rows are kept encoded (``featurestore/online/codec.py``) under the same entity keys as the other
stores (``featurestore/online/keys.py``), so bad keys and values fail the same way, values come
back with the same types, and a row written under another schema reads as missing. Like the SQLite
store, rows do not expire: the lookup serves a row older than the view's ttl as ``OUTSIDE_MAX_AGE``.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from typing import Any

from featurestore.errors import OnlineStoreError
from featurestore.online import agg_frames as frames
from featurestore.online import codec, freshness
from featurestore.online import keys as layout
from featurestore.online.plans import ViewPlans
from featurestore.online.protocol import ViewSpec


class MemoryDatabase:
    """Rows of every project, shared by the stores opened on it: ``{(project, view): {entity: row}}``.

    Data timestamps in ``fresh`` (``featurestore/online/freshness.py``).
    Aggregate views: ``states`` ``{(project, view): {entity: (snapshot_us, state)}}`` and ``records``
    ``{(project, view): {entity: [(created_us, record), ...]}}``.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tables: dict[tuple[str, str], dict[str, bytes]] = {}
        self.states: dict[tuple[str, str], dict[str, tuple[int, bytes]]] = {}
        self.records: dict[tuple[str, str], dict[str, list[tuple[int, bytes]]]] = {}
        self.fresh: dict[tuple[str, str], int] = {}
        """The data timestamps: ``{(project, view): newest event_us written}``."""
        self.id = uuid.uuid4().hex  # watermarks of one database never carry over to a new, empty one


class MemoryOnlineStore:
    """Online store in a Python dict (``database``: share one between stores; default: a private one).

    >>> from featurestore.types import Float64, Int64
    >>> view = ViewSpec("stats", ("driver_id",), (Int64,), ("conv",), (Float64,), None)
    >>> store = MemoryOnlineStore("demo")
    >>> store.write(view, [(1,)], [10], [10], [(0.5,)])
    1
    >>> store.read([(view, [(1,), (2,)])])
    [[(10, (0.5,)), None]]
    """

    def __init__(self, project: str, database: MemoryDatabase | None = None) -> None:
        self.project = project
        self.database = database if database is not None else MemoryDatabase()
        self._plan = ViewPlans(project, full_keys=False)

    def _entities(self, view: ViewSpec, keys: Sequence[Any], rows: Sequence[int]) -> list[str]:
        build = self._plan(view)[0]
        out = []
        for i in rows:
            try:
                out.append(build(keys[i]))
            except (TypeError, ValueError, OverflowError) as err:
                raise layout.key_error(view, keys[i], err) from None
        return out

    def write(self, view: ViewSpec, keys: list[tuple[Any, ...]], event_us: list[int], created_us: list[int],
              values: list[tuple[Any, ...]]) -> int:
        """Upsert rows (newest wins, never replaced by an older row); return how many were stored.

        Every row is checked and encoded before the first is stored: a bad row stores nothing.
        """
        codec.check_write(view, keys, event_us, created_us, values)
        if not keys:
            return 0
        rows = codec.latest_rows(keys, event_us, created_us)
        entities = self._entities(view, keys, rows)
        blobs = codec.row_encoder(view)(rows, event_us, created_us, values)
        stored = 0
        with self.database.lock:
            table = self.database.tables.setdefault((self.project, view.name), {})
            for entity, i, blob in zip(entities, rows, blobs, strict=True):
                old = table.get(entity)
                if old is None or (event_us[i], created_us[i]) >= codec.decode_times(old):
                    table[entity] = blob
                    stored += 1
            self._advance(view.name, freshness.newest([event_us[i] for i in rows]))
        return stored

    def _advance(self, view_name: str, newest_us: int | None) -> None:
        """Advance the view's data timestamp to ``newest_us`` (under the lock)."""
        if newest_us is not None:
            key = (self.project, view_name)
            old = self.database.fresh.get(key)
            if old is None or newest_us > old:
                self.database.fresh[key] = newest_us

    def data_timestamps(self) -> dict[str, int]:
        """Per view, the newest event time ever written (epoch µs)."""
        with self.database.lock:
            return {v: us for (p, v), us in self.database.fresh.items() if p == self.project}

    def read(self, requests: list[tuple[ViewSpec, list[tuple[Any, ...]]]]
             ) -> list[list[tuple[int, tuple[Any, ...]] | None]]:
        """For each ``(view, keys)`` and key: ``None`` or ``(event_us, values)`` (one consistent snapshot)."""
        plans = [(view, self._plan(view)[1], self._entities(view, keys, range(len(keys))))
                 for view, keys in requests]
        db = self.database
        with db.lock:
            blobs: list[list[Any]] = [[self._aggregate(view, e) for e in entities] if view.aggregate
                     else [db.tables.get((self.project, view.name), {}).get(e) for e in entities]
                     for view, _, entities in plans]
        out: list[list[tuple[int, tuple[Any, ...]] | None]] = []
        for (view, decode, _), found in zip(plans, blobs, strict=True):
            if view.aggregate:
                out.append(found)
                continue
            try:
                out.append([None if b is None else decode(b) for b in found])
            except Exception as exc:  # a corrupt row must not leak a msgpack error
                raise OnlineStoreError(f"in-memory online store: undecodable row in feature view {view.name!r}: "
                                       f"{exc}", view=view.name) from None
        return out

    async def read_async(self, requests: list[tuple[ViewSpec, list[tuple[Any, ...]]]]
                         ) -> list[list[tuple[int, tuple[Any, ...]] | None]]:
        """:meth:`read`, answered inline (it never waits on I/O)."""
        return self.read(requests)

    def _aggregate(self, view: ViewSpec, entity: str) -> frames.AggEntry | None:
        """One entity's read answer (under the lock)."""
        where = (self.project, view.name)
        snapshot, state = self.database.states.get(where, {}).get(entity, (None, None))
        return frames.entry(snapshot, state, tuple(self.database.records.get(where, {}).get(entity, ())))

    def write_aggregates(self, view: ViewSpec, keys: list[tuple[Any, ...]], snapshot_us: int,
                         states: list[bytes], newest_us: int | None = None) -> int:
        """Store states (newest snapshot wins) and drop the records created before ``snapshot_us``."""
        snapshot = frames.check_states(view, keys, snapshot_us, states)
        if newest_us is None and keys:
            newest_us = freshness.states_newest(states)
        rows = frames.last_per_key(keys)
        entities = self._entities(view, keys, rows)
        stored = 0
        with self.database.lock:
            table = self.database.states.setdefault((self.project, view.name), {})
            records = self.database.records.get((self.project, view.name), {})
            for entity, i in zip(entities, rows, strict=True):
                old = table.get(entity)
                if old is None or snapshot >= old[0]:
                    table[entity] = (snapshot, states[i])
                    stored += 1
                kept = [r for r in records.get(entity, ()) if r[0] >= snapshot]
                if kept:
                    records[entity] = kept
                else:
                    records.pop(entity, None)
            if keys:
                self._advance(view.name, newest_us)
        return stored

    def append_aggregates(self, view: ViewSpec, keys: list[tuple[Any, ...]], created_us: list[int],
                          records: list[bytes], newest_us: int | None = None) -> int:
        """Append the records in order."""
        created = frames.check_records(view, keys, created_us, records)
        entities = self._entities(view, keys, range(len(keys)))
        if newest_us is None:
            newest_us = freshness.records_newest(records)
        with self.database.lock:
            table = self.database.records.setdefault((self.project, view.name), {})
            for entity, c, r in zip(entities, created, records, strict=True):
                table.setdefault(entity, []).append((c, r))
            self._advance(view.name, newest_us if records else None)
        return len(records)

    def delete(self, view: ViewSpec, keys: list[tuple[Any, ...]]) -> int:
        """Remove the rows of these entities of one view; return how many were stored."""
        entities = set(self._entities(view, keys, range(len(keys))))
        if view.aggregate:
            where = (self.project, view.name)
            with self.database.lock:
                states = self.database.states.get(where, {})
                records = self.database.records.get(where, {})
                return sum((states.pop(e, None) is not None) | (records.pop(e, None) is not None) for e in entities)
        with self.database.lock:
            table = self.database.tables.get((self.project, view.name), {})
            return sum(table.pop(e, None) is not None for e in entities)

    def delete_view(self, view_name: str) -> None:
        """Remove all rows of one view of this project."""
        layout.view_prefix(self.project, view_name)
        with self.database.lock:
            for tables in (self.database.tables, self.database.states, self.database.records, self.database.fresh):
                tables.pop((self.project, view_name), None)

    def teardown(self) -> None:
        """Remove all rows of this project, and nothing else."""
        with self.database.lock:
            for tables in (self.database.tables, self.database.states, self.database.records, self.database.fresh):
                for key in [k for k in tables if k[0] == self.project]:
                    del tables[key]

    @property
    def identity(self) -> str:
        """``memory:<database id>``: stores sharing a database share their watermarks."""
        return f"memory:{self.database.id}"

    def ping(self) -> None:
        """Always reachable."""

    def close(self) -> None:
        """Nothing to release (the rows stay in ``database``)."""

    def __repr__(self) -> str:
        return f"MemoryOnlineStore(project={self.project!r})"
