"""Operational state: what running the store produces (watermarks, and later statistics, validation
results, saved datasets), kept apart from the versioned definitions of the registry.

:func:`open_state_store` gives the state store of a registry file: ``<registry stem>.state.db`` beside it.
A registry in PostgreSQL keeps its state in the same schema (:mod:`featurestore.state.postgres`, imported only
then); :func:`featurestore.registry.factory.open_registry_state` picks one from the ``registry`` setting.
"""

from __future__ import annotations

from pathlib import Path

from featurestore.state.identity import repo_relative
from featurestore.state.protocol import Record, StateStore
from featurestore.state.sqlite import SqliteStateStore

__all__ = ["Record", "SqliteStateStore", "StateStore", "open_state_store", "repo_relative", "state_path"]


def state_path(registry_path: Path) -> Path:
    """The state store file of a registry file.

    >>> state_path(Path("data/registry.json")).as_posix()
    'data/registry.state.db'
    """
    return registry_path.with_name(registry_path.stem + ".state.db")


def open_state_store(registry_path: Path) -> StateStore:
    """The state store beside ``registry_path`` (nothing is created before the first write)."""
    return SqliteStateStore(state_path(Path(registry_path)))
