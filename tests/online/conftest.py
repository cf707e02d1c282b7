"""Fixtures running each online store test against SQLite, a private Redis and the in-memory store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from featurestore.online import (
    MemoryDatabase,
    MemoryOnlineStore,
    OnlineStore,
    RedisClusterOnlineStore,
    RedisOnlineStore,
    SqliteOnlineStore,
)


class Backend:
    """Opens stores of one kind (``sqlite``, ``redis``, ``redis_cluster`` or ``memory``) on one database; closes them
    after the test."""

    def __init__(self, kind: str, location: str) -> None:
        self.kind = kind
        self.location = location  # the SQLite file or the Redis URL
        self.opened: list[OnlineStore] = []
        self.memory = MemoryDatabase()  # what the memory stores of one test share

    def open(self, project: str = "proj", **options: object) -> OnlineStore:
        store: OnlineStore
        if self.kind == "sqlite":
            store = SqliteOnlineStore(self.location, project)
        elif self.kind == "memory":
            store = MemoryOnlineStore(project, self.memory)
        elif self.kind == "redis_cluster":
            store = RedisClusterOnlineStore(self.location, project, **options)  # type: ignore[arg-type]
        else:
            store = RedisOnlineStore(self.location, project, **options)  # type: ignore[arg-type]
        self.opened.append(store)
        return store

    @property
    def redis(self) -> bool:
        """A Redis store, standalone or cluster (their keys are the same)."""
        return self.kind in ("redis", "redis_cluster")

    def admin(self, decode_responses: bool = False) -> Any:
        """A redis-py client of this backend's Redis (a cluster client for the cluster), for a test to look inside."""
        import redis
        from redis.cluster import ClusterNode, RedisCluster

        if self.kind == "redis_cluster":
            nodes = [ClusterNode(*n.split(":")) for n in self.location.removeprefix("redis://").split(",")]
            return RedisCluster(startup_nodes=nodes, decode_responses=decode_responses)
        return redis.Redis.from_url(self.location, decode_responses=decode_responses)

    def close_all(self) -> None:
        for store in self.opened:
            store.close()


@pytest.fixture(params=["sqlite", "redis", "redis_cluster", "memory"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each test using it runs four times: SQLite in a temp folder, the private Redis (flushed), the local 3-master
    Redis Cluster (flushed), in memory."""
    if request.param == "sqlite":
        location = str(tmp_path / "sub" / "online.db")
    elif request.param == "memory":
        location = "memory"
    elif request.param == "redis_cluster":
        location = request.getfixturevalue("clean_cluster_url")
    else:
        location = request.getfixturevalue("clean_redis_url")
    b = Backend(request.param, location)
    yield b
    b.close_all()


@pytest.fixture
def store(backend: Backend) -> OnlineStore:
    """A store of project ``proj``."""
    return backend.open("proj")
