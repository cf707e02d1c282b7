"""Online stores: the latest feature values per entity, for low-latency lookups.

:class:`OnlineStore` is the protocol every store implements; :class:`ViewSpec` describes a
feature view to a store. :class:`SqliteOnlineStore` is the local default, :class:`RedisOnlineStore`
the production one (key layout in :mod:`featurestore.online.keys`), :class:`RedisClusterOnlineStore` the same
keys over a Redis Cluster, :class:`MemoryOnlineStore`
the in-process one (the fake for fast tests). The stores are imported on first use, so a process
that never touches Redis never loads its client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from featurestore.online.protocol import OnlineStore, ViewSpec

if TYPE_CHECKING:
    from featurestore.online.memory_store import MemoryDatabase, MemoryOnlineStore
    from featurestore.online.redis_cluster import RedisClusterOnlineStore
    from featurestore.online.redis_store import RedisOnlineStore
    from featurestore.online.sqlite_store import SqliteOnlineStore

__all__ = ["MemoryDatabase", "MemoryOnlineStore", "OnlineStore", "RedisClusterOnlineStore", "RedisOnlineStore",
           "SqliteOnlineStore", "ViewSpec"]


def __getattr__(name: str) -> Any:
    if name == "RedisOnlineStore":
        from featurestore.online.redis_store import RedisOnlineStore

        return RedisOnlineStore
    if name == "RedisClusterOnlineStore":
        from featurestore.online.redis_cluster import RedisClusterOnlineStore

        return RedisClusterOnlineStore
    if name == "SqliteOnlineStore":
        from featurestore.online.sqlite_store import SqliteOnlineStore

        return SqliteOnlineStore
    if name in ("MemoryOnlineStore", "MemoryDatabase"):
        from featurestore.online import memory_store

        return getattr(memory_store, name)
    raise AttributeError(name)
