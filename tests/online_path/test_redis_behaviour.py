"""Redis only: a server killed mid-materialization, a re-run that completes, one round trip per lookup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import redis

from featurestore import Entity, FeatureStore, FeatureView, Field, OnlineStoreUnavailableError, ParquetSource
from featurestore.config import parse_config
from featurestore.materialize.run import Progress
from featurestore.types import Float64

T = datetime(2026, 6, 1, 12, tzinfo=UTC)
driver = Entity(name="driver", join_keys=["driver_id"])
N = 200_000  # entities: several batches of 65,536


def _repo(tmp_path: Path, url: str) -> FeatureStore:
    rng = np.random.default_rng(0)
    x = rng.random(2 * N)
    pq.write_table(pa.table({
        "driver_id": pa.array(np.concatenate([np.arange(N), np.arange(N)]), pa.int64()),
        "event_timestamp": pa.array([T - timedelta(minutes=10)] * N + [T - timedelta(minutes=5)] * N,
                                    pa.timestamp("us", tz="UTC")),
        "x": x, "x2": 2 * x,
    }), tmp_path / "s.parquet")
    view = FeatureView(name="v", entities=[driver], schema=[Field(name="x", dtype=Float64),
                                                            Field(name="x2", dtype=Float64)],
                       source=ParquetSource(path="s.parquet"))
    view2 = FeatureView(name="w", entities=[driver], schema=[Field(name="x", dtype=Float64)],
                        source=ParquetSource(path="s.parquet"))
    store = FeatureStore(tmp_path, config=parse_config({"project": "p", "online_store": {
        "type": "redis", "url": url, "socket_timeout_seconds": 1}}, "test", env={}))
    store.apply([driver, view, view2])
    return store


def test_killed_redis_mid_materialize_then_rerun(tmp_path: Path, redis_factory) -> None:  # type: ignore[no-untyped-def]
    server = redis_factory()
    store = _repo(tmp_path, server.url)

    def kill_after_first_batch(p: Progress) -> None:
        if p.rows and not p.done:
            server.stop()

    with pytest.raises(OnlineStoreUnavailableError, match="'v'") as err:
        store.materialize(T - timedelta(days=1), T, feature_views=["v"], progress=kill_after_first_batch)
    assert "Traceback" not in str(err.value) and str(server.port) in str(err.value)
    assert "v" not in store.watermarks()  # the watermark did not advance
    with pytest.raises(OnlineStoreUnavailableError):
        store.get_online_features(["v:x"], {"driver_id": [1]})

    redis_factory(port=server.port)  # back on the same port (empty: no persistence)
    store.materialize(T - timedelta(days=1), T, feature_views=["v"])
    ids = list(range(0, N, 997))
    got = store.get_online_features(["v:x", "v:x2"], {"driver_id": ids}).to_dict()
    table = pq.read_table(tmp_path / "s.parquet").slice(N)  # the later row of every driver
    assert got["x"] == [table.column("x")[i].as_py() for i in ids]
    assert all(b == 2 * a for a, b in zip(got["x"], got["x2"], strict=True))  # never two rows mixed
    assert store.watermarks()["v"]["last_rows"] == N


def test_one_round_trip_per_lookup(tmp_path: Path, clean_redis_url: str) -> None:
    store = _repo(tmp_path, clean_redis_url)
    store.write_to_online_store("v", pa.table({"driver_id": [1, 2], "event_timestamp": [T, T],
                                               "x": [1.0, 2.0], "x2": [2.0, 4.0]}))
    client = redis.Redis.from_url(clean_redis_url)
    store.get_online_features(["v:x"], [{"driver_id": 1}])  # warm: connection open, plan cached
    before = client.info("stats")["total_commands_processed"]
    resp = store.get_online_features(["v:x", "v:x2", "w:x"], {"driver_id": list(range(100))},
                                     full_feature_names=True)
    after = client.info("stats")["total_commands_processed"]
    assert after - before == 2  # the lookup's MGET, and our INFO
    assert resp.to_dict()["v__x"][:3] == [None, 1.0, 2.0]
    assert resp.statuses["w__x"][:3] == ["NOT_FOUND"] * 3


def _attempts(admin: redis.Redis) -> tuple[int, int]:
    """(MGET commands run, connections accepted) since the last CONFIG RESETSTAT."""
    calls = admin.info("commandstats").get("cmdstat_mget", {}).get("calls", 0)
    return int(calls), int(admin.info("stats")["total_connections_received"])


@pytest.mark.parametrize("path", ["sync", "async"])
def test_a_lookup_on_a_stalled_redis_fails_after_one_attempt(redis_factory, path: str) -> None:  # type: ignore[no-untyped-def]
    """socket_timeout_seconds bounds a lookup: no silent second attempt (redis-py's retry doubled it).

    The private server is paused (SIGSTOP) after a first lookup opened the store's connection; what the
    client sends meanwhile waits in the server's socket buffers and runs when it resumes (SIGCONT), so
    the server's stats count the attempts: one MGET, and no new connection (a retry reconnects).
    """
    import asyncio
    import signal
    import time

    from featurestore.errors import OnlineStoreError
    from featurestore.online import RedisOnlineStore, ViewSpec
    from featurestore.types import Int64

    server = redis_factory()
    view = ViewSpec("v", ("id",), (Int64,), ("x",), (Float64,), None)
    store = RedisOnlineStore(server.url, "p", socket_timeout=0.5)
    store.write(view, [(1,)], [10], [10], [(1.0,)])
    admin = redis.Redis.from_url(server.url)
    admin.ping()
    elapsed: list[float] = []

    def stalled_lookup(read) -> None:  # type: ignore[no-untyped-def]
        admin.config_resetstat()
        server.process.send_signal(signal.SIGSTOP)
        t0 = time.monotonic()
        try:
            with pytest.raises(OnlineStoreError, match=r"Timeout|timed out|no reply within 0\.5 s"):
                read()
        finally:
            elapsed.append(time.monotonic() - t0)
            time.sleep(0.6)  # a second attempt, if there were one, would have been sent by now
            server.process.send_signal(signal.SIGCONT)

    if path == "sync":
        assert store.read([(view, [(1,)])]) == [[(10, (1.0,))]]
        stalled_lookup(lambda: store.read([(view, [(1,)])]))
    else:
        async def lookups() -> None:
            assert await store.read_async([(view, [(1,)])]) == [[(10, (1.0,))]]
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(None, stalled_lookup, lambda: asyncio.run_coroutine_threadsafe(
                    store.read_async([(view, [(1,)])]), loop).result())
            finally:
                await store.aclose()
        asyncio.run(lookups())
    time.sleep(0.2)  # the server works through what waited in its buffers
    assert _attempts(admin) == (1, 0)  # one MGET, and no new connection (a retry would reconnect)
    assert elapsed[0] >= 0.45  # it did wait for the reply
    admin.close()
    store.close()
