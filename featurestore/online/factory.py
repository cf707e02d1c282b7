"""Online stores built from ``featurestore.yaml``: :func:`open_online_store` and its companions.

Each store type registers one :class:`OnlineKind` in :data:`ONLINE_KINDS` under its config
class; nothing else in the library switches on the store type. Store modules are imported
only when a store of their type is opened (a SQLite-only process never loads the Redis client).

>>> from featurestore.config import RedisOnlineConfig, SqliteOnlineConfig
>>> describe_online_store(SqliteOnlineConfig())
'embedded SQLite (data/online.db)'
>>> describe_online_store(RedisOnlineConfig(type="redis", url="redis://u:secret@cache:6379/0"))
'Redis at redis://u:***@cache:6379/0'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featurestore.config import OnlineConfig, RedisOnlineConfig, SqliteOnlineConfig, redact_url, resolve
from featurestore.errors import ConfigError
from featurestore.online.protocol import OnlineStore


@dataclass(frozen=True)
class OnlineKind:
    """How to open and describe one type of online store, given its config section."""

    open: Callable[[Any, Path, str], OnlineStore]
    """``(config, repo_path, project) -> store``."""
    describe: Callable[[Any], str]
    """A one-line description for people (no secrets)."""
    created: Callable[[Any, Path], bool]
    """Whether the store may hold data already (False: opening it would create it empty)."""
    env: Callable[[Any], dict[str, str]]
    """Environment overrides (``config.ENV_OVERRIDES``) selecting this store, e.g. for a child process."""


def _open_sqlite(config: SqliteOnlineConfig, repo_path: Path, project: str) -> OnlineStore:
    from featurestore.online.sqlite_store import SqliteOnlineStore

    return SqliteOnlineStore(resolve(repo_path, config.path), project)


def _open_redis(config: RedisOnlineConfig, repo_path: Path, project: str) -> OnlineStore:
    if config.cluster:
        from featurestore.online.redis_cluster import RedisClusterOnlineStore

        return RedisClusterOnlineStore(config.url, project, socket_timeout=config.socket_timeout_seconds,
                                       write_batch_size=config.write_batch_size)
    from featurestore.online.redis_store import RedisOnlineStore

    return RedisOnlineStore(config.url, project, socket_timeout=config.socket_timeout_seconds,
                            write_batch_size=config.write_batch_size)


def _redis_env(config: RedisOnlineConfig) -> dict[str, str]:
    env = {"FEATURESTORE_ONLINE_STORE": "redis", "FEATURESTORE_REDIS_URL": config.url}
    if config.cluster:
        env["FEATURESTORE_REDIS_CLUSTER"] = "true"
    return env


ONLINE_KINDS: dict[type[Any], OnlineKind] = {
    SqliteOnlineConfig: OnlineKind(
        open=_open_sqlite,
        describe=lambda c: f"embedded SQLite ({c.path})",
        created=lambda c, repo: resolve(repo, c.path).exists(),
        env=lambda c: {"FEATURESTORE_ONLINE_STORE": "sqlite", "FEATURESTORE_SQLITE_PATH": c.path},
    ),
    RedisOnlineConfig: OnlineKind(
        open=_open_redis,
        describe=lambda c: f"Redis {'Cluster ' if c.cluster else ''}at {redact_url(c.url)}",
        created=lambda c, repo: True,
        env=_redis_env,
    ),
}
"""Config class of ``online_store`` -> its :class:`OnlineKind`."""


def _kind(config: OnlineConfig) -> OnlineKind:
    kind = ONLINE_KINDS.get(type(config))
    if kind is None:
        raise ConfigError(f"no online store for online_store type {getattr(config, 'type', type(config))!r}")
    return kind


def open_online_store(config: OnlineConfig, repo_path: str | Path, project: str) -> OnlineStore:
    """The online store ``config`` (the ``online_store`` section) describes, holding ``project``'s rows.

    Relative paths resolve against ``repo_path``. The caller owns the store and closes it.
    """
    return _kind(config).open(config, Path(repo_path).resolve(), project)


def describe_online_store(config: OnlineConfig) -> str:
    """The store for people: ``Redis at redis://host:6379/0`` (password masked), ``embedded SQLite (path)``."""
    return _kind(config).describe(config)


def online_store_env(config: OnlineConfig) -> dict[str, str]:
    """Environment variables that make a child process (e.g. ``featurestore serve``) use this store.

    >>> online_store_env(RedisOnlineConfig(type="redis", url="redis://cache:6379/1"))
    {'FEATURESTORE_ONLINE_STORE': 'redis', 'FEATURESTORE_REDIS_URL': 'redis://cache:6379/1'}
    """
    return _kind(config).env(config)


def online_store_created(config: OnlineConfig, repo_path: str | Path) -> bool:
    """Whether the configured store may hold data (an embedded database not created yet holds none)."""
    return _kind(config).created(config, Path(repo_path).resolve())


__all__ = [
    "ONLINE_KINDS",
    "OnlineKind",
    "describe_online_store",
    "online_store_created",
    "online_store_env",
    "open_online_store",
]
