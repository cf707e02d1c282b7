"""The narrow interface of a registry backend: where the versioned definitions of one project live.

Two backends implement it: :class:`~featurestore.registry.file.FileRegistry` (a JSON file and its history file,
the default) and :class:`~featurestore.registry.postgres.PostgresRegistry` (tables in a PostgreSQL schema, for a
registry shared by several machines). :func:`~featurestore.registry.factory.open_registry` builds one from the
``registry`` setting; anything with these methods can be passed where a registry is expected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from featurestore.registry.file import RegistryState, RegistryUpdate


@runtime_checkable
class RegistryBackend(Protocol):
    """The registry of one project: a current :class:`RegistryState` and every applied version.

    Every backend keeps the same contract: ``update`` is one read-modify-write that concurrent writers from
    several processes never interleave (no lost update), versions are contiguous, ``history`` holds every applied
    version with its full objects, a registry of a newer format or of another project is refused with a
    :class:`~featurestore.errors.RegistryError` naming it.
    """

    project: str

    def load(self) -> RegistryState:
        """The current state (an empty version-0 state before the first apply); cached until it changes."""
        ...

    def update(self, change: Callable[[RegistryState], RegistryUpdate]) -> RegistryState:
        """Run ``change`` on the current state and store what it returns (a new state, ``(state, history entry)``,
        or None for no change) atomically; returns the state now current."""
        ...

    def history(self) -> list[dict[str, Any]]:
        """Every applied version, oldest first: ``version``, ``applied_at``, ``changes`` and the full ``objects``
        (treat the entries as read-only)."""
        ...

    def version(self) -> int:
        """The current version number only (0 before the first apply): cheap, for servers polling for a change."""
        ...

    def describe(self) -> str:
        """Where the registry is, for people and messages (never a password)."""
        ...

    def close(self) -> None:
        """Release connections (the registry reconnects on next use)."""
        ...
