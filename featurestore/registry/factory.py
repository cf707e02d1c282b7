"""Registry backends built from the ``registry`` setting: a file path (the default) or a PostgreSQL URL.

One setting picks three things that go together: the registry (:func:`open_registry`), its state store
(:func:`open_registry_state`: a SQLite file beside a registry file, the same PostgreSQL schema beside a
PostgreSQL registry, so the state of a shared registry is shared too) and the repo's data folder
(:func:`data_dir_of`: quarantined rows, feature logs and the default training-set and feature-table folders).
The PostgreSQL modules (and the ``psycopg`` driver) are imported only when a PostgreSQL registry is opened.

>>> data_dir_of("data/registry.json", Path("/srv/repo")).as_posix()
'/srv/repo/data'
>>> data_dir_of("postgresql://fs@db/features", Path("/srv/repo")).as_posix()
'/srv/repo/data'
"""

from __future__ import annotations

from pathlib import Path

from featurestore.config import resolve
from featurestore.errors import RegistryError
from featurestore.registry.file import FileRegistry
from featurestore.registry.pg_url import is_postgres_url, parse_target, redact
from featurestore.registry.protocol import RegistryBackend
from featurestore.state import StateStore, open_state_store

DATA_DIR = "data"
"""The data folder (relative to the repo) when the registry is not a file."""

_DRIVER_MISSING = ("the registry {url!r} is on PostgreSQL, but its driver is not installed: "
                   "pip install 'featurestore[postgres]'")


def _driver(url: str) -> None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise RegistryError(_DRIVER_MISSING.format(url=redact(url)), path=redact(url)) from None


def open_registry(location: str, repo_path: str | Path, project: str) -> RegistryBackend:
    """The registry ``location`` (the ``registry`` setting) names, for ``project``: a
    :class:`~featurestore.registry.postgres.PostgresRegistry` for a ``postgresql://`` (or ``postgres://``) URL,
    else a :class:`~featurestore.registry.file.FileRegistry` at that path (relative to ``repo_path``).
    Nothing connects yet; a malformed URL is a RegistryError now."""
    if is_postgres_url(location):
        parse_target(location)  # a bad URL fails here, with or without the driver
        _driver(location)
        from featurestore.registry.postgres import PostgresRegistry

        return PostgresRegistry(location, project)
    return FileRegistry(resolve(repo_path, location), project)


def open_registry_state(location: str, repo_path: str | Path, project: str) -> StateStore:
    """The state store that goes with the registry ``location``: the same PostgreSQL schema for a PostgreSQL
    registry, else the SQLite file beside the registry file."""
    if is_postgres_url(location):
        target = parse_target(location)
        _driver(location)
        from featurestore.state.postgres import PostgresStateStore

        return PostgresStateStore(target, project)
    return open_state_store(resolve(repo_path, location))


def data_dir_of(location: str, repo_path: str | Path) -> Path:
    """The repo's data folder: the registry file's folder, or ``<repo>/data`` (:data:`DATA_DIR`) when the
    registry is in PostgreSQL (these files stay on the machine, or on a shared folder the config points to)."""
    if is_postgres_url(location):
        return Path(repo_path).resolve() / DATA_DIR
    return resolve(repo_path, location).parent

