"""Fixtures running each online store test against SQLite and against a private Redis."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from featurestore.online import OnlineStore, RedisOnlineStore, SqliteOnlineStore


class Backend:
    """Opens stores of one kind (``sqlite`` or ``redis``) on one database; closes them after the test."""

    def __init__(self, kind: str, location: str) -> None:
        self.kind = kind
        self.location = location  # the SQLite file or the Redis URL
        self.opened: list[OnlineStore] = []

    def open(self, project: str = "proj", **options: object) -> OnlineStore:
        store: OnlineStore
        if self.kind == "sqlite":
            store = SqliteOnlineStore(self.location, project)
        else:
            store = RedisOnlineStore(self.location, project, **options)  # type: ignore[arg-type]
        self.opened.append(store)
        return store

    def close_all(self) -> None:
        for store in self.opened:
            store.close()


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each test using it runs twice: SQLite in a temp folder, then the private Redis (flushed)."""
    if request.param == "sqlite":
        location = str(tmp_path / "sub" / "online.db")
    else:
        location = request.getfixturevalue("clean_redis_url")
    b = Backend(request.param, location)
    yield b
    b.close_all()


@pytest.fixture
def store(backend: Backend) -> OnlineStore:
    """A store of project ``proj``."""
    return backend.open("proj")
