"""Online stores: the latest feature values per entity, for low-latency lookups.

:class:`OnlineStore` is the protocol every store implements; :class:`ViewSpec` describes a
feature view to a store. :class:`SqliteOnlineStore` is the local default, :class:`RedisOnlineStore`
the production one (key layout in :mod:`featurestore.online.keys`).
"""

from featurestore.online.protocol import OnlineStore, ViewSpec
from featurestore.online.redis_store import RedisOnlineStore
from featurestore.online.sqlite_store import SqliteOnlineStore

__all__ = ["OnlineStore", "RedisOnlineStore", "SqliteOnlineStore", "ViewSpec"]
