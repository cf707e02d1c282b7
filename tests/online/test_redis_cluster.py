"""What only a Redis Cluster shows: slots per entity, one MGET per slot, NOSCRIPT after a failover, a node down,
and the key layout check (also on standalone Redis). The contract suites run over the cluster too (``backend`` in
conftest.py, ``online_config`` in tests/conftest.py)."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import redis

from featurestore import (
    Entity,
    FeatureStore,
    FeatureView,
    Field,
    OnlineLayoutError,
    OnlineStoreError,
    OnlineStoreUnavailableError,
    ParquetSource,
)
from featurestore.config import parse_config
from featurestore.online import RedisClusterOnlineStore, RedisOnlineStore, ViewSpec
from featurestore.types import Float64, Int64, String
from tests.redis_cluster import LocalCluster, cluster_tools, start_cluster

T0 = 1_780_000_000_000_000
STATS = ViewSpec("driver_stats", ("driver_id",), (Int64,), ("rate",), (Float64,), None)
TRIPS = ViewSpec("driver_trips", ("driver_id",), (Int64,), ("n",), (Int64,), None)
NAMED = ViewSpec("by_name", ("name",), (String,), ("n",), (Int64,), None)


def keyslot(client: redis.Redis, key: str) -> int:
    """The server's CLUSTER KEYSLOT of ``key``."""
    return int(client.execute_command("CLUSTER", "KEYSLOT", key))


def nodes(url: str) -> list[redis.Redis]:
    return [redis.Redis.from_url(f"redis://{n}") for n in url.removeprefix("redis://").split(",")]


@pytest.fixture
def cluster_store(clean_cluster_url: str) -> Iterator[RedisClusterOnlineStore]:
    store = RedisClusterOnlineStore(clean_cluster_url, "proj")
    yield store
    store.close()


def test_an_entitys_keys_share_a_slot_and_entities_spread_over_every_node(
        cluster_store: RedisClusterOnlineStore, clean_cluster_url: str) -> None:
    ids = list(range(300))
    for view in (STATS, TRIPS):
        row = (1.0,) if view is STATS else (1,)
        cluster_store.write(view, [(i,) for i in ids], [T0] * 300, [T0] * 300, [row] * 300)
    cluster_store.write(NAMED, [("a{b}c",), ("{}",), ("x}",)], [T0] * 3, [T0] * 3, [(1,), (2,), (3,)])
    clients = nodes(clean_cluster_url)
    for i in ids:
        assert (keyslot(clients[0], f"fs:proj:driver_stats:{{driver_id={i}}}")
                == keyslot(clients[0], f"fs:proj:driver_trips:{{driver_id={i}}}"))
    counts = [c.dbsize() for c in clients]
    assert all(n > 100 for n in counts[:3]), counts  # 600 keys over 3 masters (about 200 each)
    keys = {k for c in clients for k in c.scan_iter("fs:proj:by_name:*")}
    assert keys == {b"fs:proj:by_name:{name=a%7Bb%7Dc}", b"fs:proj:by_name:{name=%7B%7D}",
                    b"fs:proj:by_name:{name=x%7D}"}
    assert cluster_store.read([(NAMED, [("{}",), ("a{b}c",), ("x}",)])]) == [
        [(T0, (2,)), (T0, (1,)), (T0, (3,))]]


def _mget_calls(clients: list[redis.Redis]) -> int:
    return sum(int(c.info("commandstats").get("cmdstat_mget", {}).get("calls", 0)) for c in clients)


def test_a_read_is_one_mget_per_slot_not_per_key(cluster_store: RedisClusterOnlineStore,
                                                 clean_cluster_url: str) -> None:
    ids = random.Random(1).sample(range(10**6), 40)
    cluster_store.write(STATS, [(i,) for i in ids], [T0] * 40, [T0] * 40, [(float(i),) for i in ids])
    cluster_store.write(TRIPS, [(i,) for i in ids], [T0] * 40, [T0] * 40, [(i,) for i in ids])
    clients = nodes(clean_cluster_url)
    cluster_store.read([(STATS, [(ids[0],)])])  # the layout check is done once, before counting
    slots = {keyslot(clients[0], f"{{driver_id={i}}}") for i in ids}
    before = _mget_calls(clients)
    got = cluster_store.read([(STATS, [(i,) for i in ids]), (TRIPS, [(i,) for i in ids])])
    assert got == [[(T0, (float(i),)) for i in ids], [(T0, (i,)) for i in ids]]
    assert _mget_calls(clients) - before == len(slots) <= 40  # 80 keys, one MGET per entity slot


def test_writes_survive_an_emptied_script_cache(cluster_store: RedisClusterOnlineStore,
                                                clean_cluster_url: str) -> None:
    """A failover or restart empties a node's script cache: NOSCRIPT makes the store load it and send again."""
    keys = [(i,) for i in range(50)]
    assert cluster_store.write(STATS, keys, [T0] * 50, [T0] * 50, [(1.0,)] * 50) == 50
    for client in nodes(clean_cluster_url):
        client.script_flush()
    assert cluster_store.write(STATS, keys, [T0 + 1] * 50, [T0] * 50, [(2.0,)] * 50) == 50
    assert cluster_store.write(STATS, keys, [T0] * 50, [T0] * 50, [(3.0,)] * 50) == 0  # older: never wins
    assert cluster_store.read([(STATS, keys)]) == [[(T0 + 1, (2.0,))] * 50]


@pytest.mark.parametrize("kind", ["redis", "redis_cluster"])
def test_an_old_key_layout_is_a_clear_error_until_torn_down(kind: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("clean_redis_url" if kind == "redis" else "clean_cluster_url")
    store: RedisOnlineStore = (RedisOnlineStore(url, "proj") if kind == "redis"
                               else RedisClusterOnlineStore(url, "proj"))
    admin = store._client
    # what featurestore before layout 2 left: rows without a hash tag and the data timestamps, no layout key
    admin.set("fs:proj:driver_stats:driver_id=1", b"old row")
    admin.hset("fs:proj:__fresh", "driver_stats", str(T0))
    for attempt in (lambda: store.read([(STATS, [(1,)])]),
                    lambda: store.write(STATS, [(1,)], [T0], [T0], [(1.0,)])):
        with pytest.raises(OnlineLayoutError, match=r"key layout 1.*featurestore teardown") as info:
            attempt()
        assert info.value.fields["layout"] == 1 and info.value.fields["supported"] == 2
    assert admin.get("fs:proj:driver_stats:{driver_id=1}") is None  # the refused write wrote nothing
    store.teardown()  # the migration: drop the old keys, then materialize again
    assert store.write(STATS, [(1,)], [T0], [T0], [(1.0,)]) == 1
    assert admin.get("fs:proj:__layout") == b"2"
    assert store.read([(STATS, [(1,)])]) == [[(T0, (1.0,))]]
    admin.set("fs:proj:__layout", "3")
    newer = RedisOnlineStore(url, "proj") if kind == "redis" else RedisClusterOnlineStore(url, "proj")
    with pytest.raises(OnlineLayoutError, match=r"layout .3..*upgrade featurestore"):
        newer.read([(STATS, [(1,)])])
    newer.close()
    store.close()


# -- a node down -------------------------------------------------------------------------------------------------

T = datetime(2026, 6, 1, 12, tzinfo=UTC)
driver = Entity(name="driver", join_keys=["driver_id"])
VIEW = FeatureView(name="stats", entities=[driver], ttl=None, schema=[Field(name="x", dtype=Float64)],
                   source=ParquetSource(path="src"))


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A short-lived cluster of this test's own (a node of it is stopped)."""
    if cluster_tools() is None:
        pytest.skip("redis-server and redis-cli are needed")
    cluster = start_cluster(tmp_path / "cluster")
    yield cluster
    cluster.stop()


def _repo(tmp_path: Path, url: str, n: int) -> FeatureStore:
    (tmp_path / "src").mkdir()
    rows = [{"driver_id": i, "event_timestamp": T - timedelta(minutes=i % 50), "x": i / 7} for i in range(n)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "src" / "part-0.parquet")
    cfg = parse_config({"project": "p", "online_store": {"type": "redis", "cluster": True, "url": url,
                                                         "socket_timeout_seconds": 1.0, "write_batch_size": 100}},
                       "test", env={})
    store = FeatureStore(tmp_path, config=cfg)
    store.apply([driver, VIEW])
    return store


class StopsANode(RedisClusterOnlineStore):
    """The real cluster store; after its first batch of rows, one node of the cluster is killed."""

    cluster: LocalCluster

    def _script_batch(self, *args: Any) -> int:
        stored = super()._script_batch(*args)
        node = self.cluster.nodes[1]
        if node.process is not None and node.process.poll() is None:
            node.stop()
        return stored


def test_a_node_stopped_mid_materialize_fails_clearly_and_a_rerun_completes(tmp_path: Path,
                                                                           own_cluster: LocalCluster) -> None:
    store = _repo(tmp_path, own_cluster.url, 1000)
    online = StopsANode(own_cluster.url, "p", socket_timeout=1.0, write_batch_size=100)
    online.cluster = own_cluster
    online.group_rows = 100  # several groups of rows, so the node dies between two of them
    failing = FeatureStore(tmp_path, config=store.config, online=online)
    with pytest.raises(OnlineStoreUnavailableError, match=r"Redis Cluster at redis://127\.0\.0\.1"):
        failing.materialize(T - timedelta(days=1), T)
    assert failing.watermarks() == {}  # the run failed: no watermark moved
    online.close()
    own_cluster.restart(own_cluster.nodes[1])  # back, empty (no persistence): its rows are gone
    deadline = time.monotonic() + 20
    while True:  # the others take a moment to see it back
        try:
            store.materialize(T - timedelta(days=1), T)
            break
        except OnlineStoreUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert "stats" in store.watermarks()
    got = store.get_online_features(["stats:x"], [{"driver_id": i} for i in range(1000)]).to_dict()
    assert got["x"] == [i / 7 for i in range(1000)]
    store.close()


def test_a_lookup_while_a_node_is_down_is_a_clear_error_not_partial(tmp_path: Path,
                                                                   own_cluster: LocalCluster) -> None:
    store = _repo(tmp_path, own_cluster.url, 200)
    store.materialize(T - timedelta(days=1), T)
    own_cluster.nodes[2].stop()
    started = time.monotonic()
    with pytest.raises(OnlineStoreUnavailableError, match="unreachable"):
        store.get_online_features(["stats:x"], [{"driver_id": i} for i in range(200)])
    assert time.monotonic() - started < 30  # bounded by the socket timeout, not hanging
    from fastapi.testclient import TestClient

    from server import create_app

    with TestClient(create_app(store=store)) as client:
        answer = client.post("/get-online-features",
                             json={"features": ["stats:x"], "entities": {"driver_id": list(range(200))}})
    assert answer.status_code == 503 and "unreachable" in answer.text
    store.close()


@pytest.mark.parametrize(("url", "why"), [
    ("redis://127.0.0.1:7000,127.0.0.1:70000", "bad port '70000'"),
    ("redis://:pw@h1:7000/1", "only database 0"),
    ("http://h1:7000", "starts with redis:// or rediss://"),
])
def test_a_bad_cluster_url_is_a_clear_error_without_the_password(url: str, why: str) -> None:
    with pytest.raises(OnlineStoreError, match=why) as info:
        RedisClusterOnlineStore(url, "proj")
    assert "pw" not in str(info.value)


def test_an_unreachable_cluster_fails_on_use_not_on_construction() -> None:
    store = RedisClusterOnlineStore("redis://127.0.0.1:1", "proj", socket_timeout=0.5)
    assert store.identity == "redis-cluster://127.0.0.1:1"
    with pytest.raises(OnlineStoreUnavailableError, match=r"Redis Cluster at redis://127\.0\.0\.1:1"):
        store.read([(STATS, [(1,)])])
    with pytest.raises(OnlineStoreUnavailableError):
        store.ping()
    store.close()
