"""The narrow interface of the operational state store: records that change as the store runs.

Definitions live in the registry (versioned, rewritten only by ``apply``). What running the store
produces (materialization watermarks today; statistics, validation results and saved datasets
later) lives in a state store: one generic table of JSON records keyed by ``(kind, name, key)``,
e.g. ``("watermark", "driver_stats", "redis://127.0.0.1:6379/0")``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Record:
    """One stored record: ``value`` is any JSON value (a dict for watermarks)."""

    kind: str
    name: str
    key: str
    value: Any


@runtime_checkable
class StateStore(Protocol):
    """Operational state shared by every process of one repo (CLI runs, server workers).

    Writes are atomic and safe from several processes; readers see the last committed value.
    """

    def get(self, kind: str, name: str, key: str) -> Any | None:
        """The value of one record, or None."""
        ...

    def records(self, kind: str, key: str | None = None) -> list[Record]:
        """Every record of ``kind`` (only those with ``key`` when given), by name then key."""
        ...

    def update(self, kind: str, name: str, key: str, change: Callable[[Any | None], Any | None]) -> Any | None:
        """Replace one record by ``change(current)`` (None deletes it) in one transaction; returns the new value."""
        ...

    def delete(self, kind: str, names: Collection[str] | None = None, key: str | None = None) -> None:
        """Delete the records of ``kind``: of these names only (None: all), and of ``key`` only (None: all)."""
        ...

    def exclusive(self, operation: str) -> AbstractContextManager[None]:
        """Hold the repo's exclusive-operation lock while the block runs (one materialization at a time, across
        processes); raise :class:`~featurestore.errors.BusyError` at once when another holder has it."""
        ...

    def ingest(self, exclusive: bool) -> AbstractContextManager[None]:
        """Hold the repo's ingest lock while the block runs, waiting for it: shared by pushes while they stamp
        rows and append them offline, exclusive while a materialize picks its snapshot time (so every row
        stamped before the snapshot is on disk when it is read). Separate from :meth:`exclusive`."""
        ...

    def close(self) -> None:
        """Release connections and files (the store reopens them on next use)."""
        ...
