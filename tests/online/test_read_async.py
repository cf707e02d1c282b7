"""``read_async`` (stores that have one: Redis, memory) answers exactly what ``read`` does, also concurrently."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import pytest

from featurestore.errors import InputError, OnlineStoreUnavailableError
from featurestore.online import OnlineStore, RedisOnlineStore
from tests.conftest import RedisProcess
from tests.online.test_contract import KEYED, OTHER, STATS, T0


def test_read_async_equals_read_under_concurrency(store: OnlineStore) -> None:
    read_async = getattr(store, "read_async", None)
    if read_async is None:
        pytest.skip(f"{type(store).__name__} has no read_async (the lookup reads it in a thread)")
    rng = random.Random(7)
    keys = [(i,) for i in range(200)]
    store.write(STATS, keys, [T0 + i for i in range(200)], [T0] * 200, [(i / 3, i, f"n{i}") for i in range(200)])
    store.write(OTHER, keys[::3], [T0] * 67, [T0] * 67, [(float(i),) for i in range(67)])
    requests = []
    for _ in range(60):
        asked = [(rng.randint(-5, 220),) for _ in range(rng.randint(0, 30))]
        requests.append([(STATS, asked), (OTHER, list(reversed(asked)))])
    expected = [store.read(r) for r in requests]

    async def main() -> list[object]:
        got = await asyncio.gather(*(read_async(r) for r in requests))  # pipelined on one connection
        with pytest.raises(InputError):
            await read_async([(KEYED, [("a", 1, True)])])
        got.append(await read_async([(STATS, [(3,)])]))  # the connection still works after a refused read
        aclose = getattr(store, "aclose", None)
        if aclose is not None:
            await aclose()
        return got

    got = asyncio.run(main())
    assert got[:-1] == expected
    assert got[-1] == [[(T0 + 3, (1.0, 3, "n3"))]]


def test_redis_read_async_down_is_unavailable_then_recovers(redis_factory: Callable[..., RedisProcess]) -> None:
    server = redis_factory()
    store = RedisOnlineStore(server.url, "proj", socket_timeout=1)
    store.write(STATS, [(1,)], [T0], [T0], [(1.0, 1, "a")])

    async def main() -> None:
        assert await store.read_async([(STATS, [(1,)])]) == [[(T0, (1.0, 1, "a"))]]
        server.stop()
        with pytest.raises(OnlineStoreUnavailableError):
            await store.read_async([(STATS, [(1,)])])
        with pytest.raises(OnlineStoreUnavailableError):
            await store.read_async([(STATS, [(1,)])])
        again = redis_factory(port=server.port)
        RedisOnlineStore(again.url, "proj").write(STATS, [(1,)], [T0], [T0], [(2.0, 2, "b")])
        assert await store.read_async([(STATS, [(1,)])]) == [[(T0, (2.0, 2, "b"))]]
        await store.aclose()

    asyncio.run(main())
    store.close()
