"""The online store contract for aggregate views (states and pushed records), run against SQLite, Redis and memory.

States and records are opaque bytes to the stores; see ``featurestore/online/protocol.py`` for the contract.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest
import redis

from featurestore.errors import InputError, OnlineStoreError
from featurestore.online import OnlineStore, RedisOnlineStore, ViewSpec
from featurestore.types import Bool, Bytes, Float64, Int64, String
from featurestore.utc import MIN_US
from tests.online.conftest import Backend
from tests.online.test_contract import STATS, T0, TRICKY

AGG = ViewSpec("trips_1h", ("driver_id",), (Int64,), ("n", "total"), (Int64, Float64), None, aggregate=True)
KEYED_AGG = ViewSpec("trips_city", ("city", "id", "flag", "raw"), (String, Int64, Bool, Bytes), ("n",), (Int64,),
                     None, aggregate=True)
GLOBAL_AGG = ViewSpec("platform_1h", (), (), ("n",), (Int64,), None, aggregate=True)


def agg(name: str) -> ViewSpec:
    return ViewSpec(name, AGG.join_keys, AGG.key_types, AGG.features, AGG.feature_types, None, aggregate=True)


def read1(store: OnlineStore, v: ViewSpec, key: tuple[Any, ...]) -> Any:
    return store.read([(v, [key])])[0][0]


def test_state_round_trip_and_absent_entities(store: OnlineStore) -> None:
    assert store.read([(AGG, [(1,), (2,)])]) == [[None, None]]
    assert store.write_aggregates(AGG, [(1,), (2,)], T0, [b"s1", b""]) == 2
    assert store.read([(AGG, [(2,), (3,), (1,)])]) == [[(T0, (b"", ())), None, (T0, (b"s1", ()))]]
    assert store.write_aggregates(AGG, [], T0, []) == 0
    assert store.append_aggregates(AGG, [], [], []) == 0


@pytest.mark.parametrize(("new_snapshot", "replaced"), [(T0 - 1, False), (T0, True), (T0 + 1, True),
                                                         (MIN_US, False), (2**63 - 1, True)])
def test_newest_snapshot_wins(store: OnlineStore, new_snapshot: int, replaced: bool) -> None:
    store.write_aggregates(AGG, [(1,)], T0, [b"old"])
    assert store.write_aggregates(AGG, [(1,)], new_snapshot, [b"new"]) == int(replaced)
    assert read1(store, AGG, (1,)) == ((new_snapshot, (b"new", ())) if replaced else (T0, (b"old", ())))


def test_snapshots_compared_exactly_beyond_double_precision(store: OnlineStore) -> None:
    big = 2**62 + 1  # 2**62 + 1 and 2**62 are the same double
    store.write_aggregates(AGG, [(1,), (2,)], big, [b"a", b"a"])
    assert store.write_aggregates(AGG, [(1,)], big - 1, [b"b"]) == 0
    assert store.append_aggregates(AGG, [(2,), (2,), (2,)], [big - 1, big, big + 1], [b"x", b"y", b"z"]) == 3
    assert store.write_aggregates(AGG, [(2,)], big, [b"c"]) == 1  # trims created < big only
    assert store.read([(AGG, [(1,), (2,)])])[0] == [(big, (b"a", ())), (big, (b"c", ((big, b"y"), (big + 1, b"z"))))]


def test_records_only_read_with_min_snapshot(store: OnlineStore) -> None:
    assert store.append_aggregates(AGG, [(1,)], [T0], [b"r"]) == 1
    assert read1(store, AGG, (1,)) == (MIN_US, (None, ((T0, b"r"),)))


def test_append_keeps_order_per_key(store: OnlineStore) -> None:
    store.append_aggregates(AGG, [(1,), (2,), (1,)], [T0 + 5, T0, T0 + 1], [b"a", b"c", b"b"])
    store.append_aggregates(AGG, [(1,)], [T0 - 10], [b"d"])  # created times need not increase
    assert store.read([(AGG, [(1,), (2,)])])[0] == [
        (MIN_US, (None, ((T0 + 5, b"a"), (T0 + 1, b"b"), (T0 - 10, b"d")))), (MIN_US, (None, ((T0, b"c"),)))]


def test_write_trims_records_created_before_the_snapshot(store: OnlineStore) -> None:
    store.append_aggregates(AGG, [(1,)] * 5 + [(2,)], [T0 + 30, T0 + 10, T0 + 20, T0 + 5, T0 + 40, T0],
                            [b"30", b"10", b"20", b"5", b"40", b"2"])
    assert store.write_aggregates(AGG, [(1,)], T0 + 20, [b"s"]) == 1
    assert store.read([(AGG, [(1,), (2,)])])[0] == [
        (T0 + 20, (b"s", ((T0 + 30, b"30"), (T0 + 20, b"20"), (T0 + 40, b"40")))),
        (MIN_US, (None, ((T0, b"2"),)))]  # another entity's records stay
    # an older snapshot keeps the state but still trims the records created before it
    store.append_aggregates(AGG, [(1,)], [T0 + 15], [b"15"])
    assert store.write_aggregates(AGG, [(1,)], T0 + 35, [b"t"]) == 1
    assert store.write_aggregates(AGG, [(1,)], T0 + 32, [b"older"]) == 0
    assert read1(store, AGG, (1,)) == (T0 + 35, (b"t", ((T0 + 40, b"40"),)))
    assert store.write_aggregates(AGG, [(1,)], T0 + 50, [b"u"]) == 1  # every record dropped
    assert read1(store, AGG, (1,)) == (T0 + 50, (b"u", ()))
    store.append_aggregates(AGG, [(1,)], [T0 + 60], [b"60"])  # appends after a full trim
    assert read1(store, AGG, (1,)) == (T0 + 50, (b"u", ((T0 + 60, b"60"),)))


def test_duplicate_keys_in_one_write_last_wins(store: OnlineStore) -> None:
    assert store.write_aggregates(AGG, [(1,), (2,), (1,), (1,)], T0, [b"a", b"b", b"c", b"d"]) == 2
    assert store.read([(AGG, [(1,), (2,)])])[0] == [(T0, (b"d", ())), (T0, (b"b", ()))]


def test_large_write_across_batches(backend: Backend) -> None:
    store = backend.open("proj", write_batch_size=7) if backend.redis else backend.open("proj")
    keys = [(i % 30,) for i in range(100)]
    store.append_aggregates(AGG, keys, list(range(100)), [b"%d" % i for i in range(100)])
    assert store.write_aggregates(AGG, keys, 50, [b"s%d" % i for i in range(100)]) == 30
    got = store.read([(AGG, [(k,) for k in range(30)])])[0]
    assert got == [(50, (b"s%d" % max(i for i in range(100) if i % 30 == k),
                         tuple((i, b"%d" % i) for i in range(50, 100) if i % 30 == k))) for k in range(30)]


def test_mixed_plain_and_aggregate_read(store: OnlineStore) -> None:
    other = agg("trips_1d")
    store.write(STATS, [(1,), (2,)], [T0, T0 + 1], [T0, T0], [(0.5, 1, "a"), (1.5, 2, "b")])
    store.write_aggregates(AGG, [(1,)], T0, [b"s1"])
    store.append_aggregates(AGG, [(1,), (3,)], [T0 + 1, T0 + 2], [b"r1", b"r3"])
    store.append_aggregates(other, [(2,)], [T0 + 3], [b"o2"])
    got = store.read([(STATS, [(2,), (3,)]), (AGG, [(3,), (2,), (1,), (3,)]), (other, [(2,), (1,)]),
                      (STATS, [(1,)]), (AGG, [])])
    assert got == [
        [(T0 + 1, (1.5, 2, "b")), None],
        [(MIN_US, (None, ((T0 + 2, b"r3"),))), None, (T0, (b"s1", ((T0 + 1, b"r1"),))),
         (MIN_US, (None, ((T0 + 2, b"r3"),)))],
        [(MIN_US, (None, ((T0 + 3, b"o2"),))), None],
        [(T0, (0.5, 1, "a"))],
        [],
    ]
    read_async = getattr(store, "read_async", None)
    if read_async is not None:
        requests = [(AGG, [(1,), (2,)]), (STATS, [(1,)]), (other, [(2,)])]
        assert asyncio.run(read_async(requests)) == store.read(requests)


def test_delete_counts_entities_with_state_or_records(store: OnlineStore) -> None:
    store.write_aggregates(AGG, [(1,), (2,)], T0, [b"s", b"s"])
    store.append_aggregates(AGG, [(2,), (2,), (3,), (4,)], [T0] * 4, [b"r"] * 4)
    other = agg("trips_1d")
    store.write_aggregates(other, [(1,)], T0, [b"s"])
    store.append_aggregates(other, [(3,)], [T0], [b"r"])
    assert store.delete(AGG, [(1,), (2,), (3,), (3,), (9,)]) == 3  # state only, both, records only; 9 absent
    assert store.read([(AGG, [(1,), (2,), (3,), (4,)])])[0] == [None, None, None, (MIN_US, (None, ((T0, b"r"),)))]
    assert store.read([(other, [(1,), (3,)])])[0] == [(T0, (b"s", ())), (MIN_US, (None, ((T0, b"r"),)))]
    assert store.delete(AGG, []) == 0
    with pytest.raises(InputError):
        store.delete(AGG, [("not an int",)])


def _plain_fields() -> tuple[Any, ...]:
    return STATS.join_keys, STATS.key_types, STATS.features, STATS.feature_types, None


def _fill(store: OnlineStore, views: list[ViewSpec]) -> None:
    for v in views:
        if v.aggregate:
            store.write_aggregates(v, [(1,)], T0, [v.name.encode()])
            store.append_aggregates(v, [(1,), (2,)], [T0, T0], [b"r", b"r"])
        else:
            store.write(v, [(1,)], [T0], [T0], [(1.0, 1, v.name)])


def test_delete_view_and_teardown_isolation(backend: Backend) -> None:
    store, other, prefixed = backend.open("proj"), backend.open("proj2"), backend.open("pro")
    x, x_y, plain_x = agg("x"), agg("x_y"), ViewSpec("x", *_plain_fields())
    views = [x, x_y]
    for s in (store, other, prefixed):
        _fill(s, views)
    if backend.redis:
        with backend.admin() as client:
            client.set("fs:proj:x_y", b"keep")
            client.set("fs:proj:@r:x:driver_id=1", b"keep")
    store.delete_view("x")
    assert store.read([(x, [(1,), (2,)]), (plain_x, [(1,)])]) == [[None, None], [None]]
    expected = [(T0, (b"x_y", ((T0, b"r"),))), (MIN_US, (None, ((T0, b"r"),)))]
    assert store.read([(x_y, [(1,), (2,)])]) == [expected]
    for s in (other, prefixed):
        assert s.read([(x, [(1,)])]) == [[(T0, (b"x", ((T0, b"r"),)))]]
    if backend.redis:
        with backend.admin() as client:
            assert sorted(client.scan_iter("fs:proj:*")) == [
                b"fs:proj:@r:x:driver_id=1", b"fs:proj:__layout", b"fs:proj:x_y", b"fs:proj:x_y:@r:{driver_id=1}",
                b"fs:proj:x_y:@r:{driver_id=2}", b"fs:proj:x_y:{driver_id=1}"]
    store.teardown()
    assert store.read([(x_y, [(1,), (2,)])]) == [[None, None]]
    for s in (other, prefixed):
        assert s.read([(x_y, [(1,), (2,)])]) == [expected]
    if backend.redis:
        with backend.admin() as client:
            assert sorted(client.scan_iter("fs:proj:*")) == []
            assert len(list(client.scan_iter("fs:proj2:*"))) == len(list(client.scan_iter("fs:pro:*"))) == 7
    _fill(store, views)  # usable after teardown
    assert store.read([(x_y, [(2,)])]) == [[expected[1]]]


def test_multi_column_keys_with_special_characters(store: OnlineStore) -> None:
    keys = [(city, i, flag, raw) for city in TRICKY for i in (0, -1) for flag in (True, False) for raw in (b"", b",")]
    n = len(keys)
    assert store.write_aggregates(KEYED_AGG, keys, T0, [b"%d" % i for i in range(n)]) == n  # no collision
    assert store.append_aggregates(KEYED_AGG, keys, list(range(n)), [b"r%d" % i for i in range(n)]) == n
    got = store.read([(KEYED_AGG, list(reversed(keys)))])[0]
    assert got == [(T0, (b"%d" % i, ((i, b"r%d" % i),))) for i in reversed(range(n))]
    assert store.delete(KEYED_AGG, keys[::2]) == len(keys[::2])
    assert [g is None for g in store.read([(KEYED_AGG, keys)])[0]] == [i % 2 == 0 for i in range(n)]


def test_view_without_entities(store: OnlineStore) -> None:
    assert store.read([(GLOBAL_AGG, [(), ()])]) == [[None, None]]
    assert store.append_aggregates(GLOBAL_AGG, [(), ()], [T0, T0 + 1], [b"a", b"b"]) == 2
    assert store.write_aggregates(GLOBAL_AGG, [(), ()], T0 + 1, [b"s", b"t"]) == 1
    assert store.read([(GLOBAL_AGG, [(), ()]), (AGG, [(1,)])]) == [[(T0 + 1, (b"t", ((T0 + 1, b"b"),)))] * 2, [None]]
    assert store.delete(GLOBAL_AGG, [()]) == 1
    store.append_aggregates(GLOBAL_AGG, [()], [T0], [b"c"])
    store.delete_view("platform_1h")
    assert store.read([(GLOBAL_AGG, [()])]) == [[None]]


def test_large_states_and_records(store: OnlineStore) -> None:
    big = bytes(range(256)) * 4096  # 1 MiB
    store.append_aggregates(AGG, [(1,), (1,)], [T0, T0 + 1], [big, big[::-1]])
    store.write_aggregates(AGG, [(1,)], T0 + 1, [big + b"s"])
    assert read1(store, AGG, (1,)) == (T0 + 1, (big + b"s", ((T0 + 1, big[::-1]),)))


def test_bad_input_raises_input_error_and_writes_nothing(store: OnlineStore) -> None:
    store.write_aggregates(AGG, [(1,)], T0, [b"s"])
    bad: list[Any] = [
        lambda: store.write_aggregates(AGG, [(1,), (2,)], T0 + 1, [b"x"]),
        lambda: store.write_aggregates(AGG, [(1,)], T0 + 1, ["text"]),
        lambda: store.write_aggregates(AGG, [(1,)], 1.5, [b"x"]),
        lambda: store.write_aggregates(AGG, [(1,)], 2**63, [b"x"]),
        lambda: store.write_aggregates(AGG, [(1,), ("x",)], T0 + 1, [b"x", b"y"]),
        lambda: store.write_aggregates(STATS, [(1,)], T0 + 1, [b"x"]),
        lambda: store.append_aggregates(AGG, [(1,)], [T0, T0], [b"x"]),
        lambda: store.append_aggregates(AGG, [(1,), (2,)], [T0, None], [b"x", b"y"]),
        lambda: store.append_aggregates(AGG, [(1,), (2,)], [T0, T0], [b"x", bytearray(b"y")]),
        lambda: store.append_aggregates(AGG, [(1,), (None,)], [T0, T0], [b"x", b"y"]),
        lambda: store.append_aggregates(STATS, [(1,)], [T0], [b"x"]),
        lambda: store.read([(AGG, [(1,), ("one",)])]),
    ]
    for call in bad:
        with pytest.raises(InputError, match=r"trips_1h|driver_stats"):
            call()
    assert store.read([(AGG, [(1,), (2,)])])[0] == [(T0, (b"s", ())), None]


def test_persistence_across_reopen(backend: Backend) -> None:
    store = backend.open("proj")
    store.append_aggregates(AGG, [(1,)] * 3, [T0, T0 + 1, T0 + 2], [b"a", b"b", b"c"])
    store.write_aggregates(AGG, [(1,)], T0 + 1, [b"s"])
    store.close()
    again = backend.open("proj")
    assert read1(again, AGG, (1,)) == (T0 + 1, (b"s", ((T0 + 1, b"b"), (T0 + 2, b"c"))))


# ---- corrupt stored values: OnlineStoreError naming the view, never a struct error -------------------------


def test_sqlite_corrupt_values(backend: Backend) -> None:
    if backend.kind != "sqlite":
        pytest.skip("SQLite's tables")
    store = backend.open("proj")
    store.write_aggregates(AGG, [(1,)], T0, [b"s"])
    store.append_aggregates(AGG, [(2,)], [T0], [b"r"])
    with sqlite3.connect(backend.location) as conn:
        conn.execute("UPDATE fs_online_agg_records SET record = 'text'")
    with pytest.raises(OnlineStoreError, match="trips_1h"):
        store.read([(AGG, [(2,)])])
    assert read1(store, AGG, (1,)) == (T0, (b"s", ()))
    with sqlite3.connect(backend.location) as conn:
        conn.execute("UPDATE fs_online_agg_states SET state = 5")
    with pytest.raises(OnlineStoreError, match="trips_1h"):
        store.read([(AGG, [(1,)])])


@pytest.fixture
def rstore(clean_redis_url: str) -> Any:
    store = RedisOnlineStore(clean_redis_url, "proj", write_batch_size=2)
    yield store
    store.close()


@pytest.fixture
def admin(clean_redis_url: str) -> Any:
    client = redis.Redis.from_url(clean_redis_url)
    yield client
    client.close()


@pytest.mark.parametrize("value", [b"\x00" * 11, b"\x00" * 12 + b"x", b"\x00" * 8 + b"\x00\x00\x00\x02ab\x00"])
def test_redis_corrupt_records(rstore: RedisOnlineStore, admin: redis.Redis, value: bytes) -> None:
    rstore.write_aggregates(AGG, [(1,), (2,)], T0, [b"s", b"s"])
    admin.set("fs:proj:trips_1h:@r:{driver_id=2}", value)
    with pytest.raises(OnlineStoreError, match="trips_1h") as info:
        rstore.read([(AGG, [(1,), (2,)])])
    assert info.value.__cause__ is None
    with pytest.raises(OnlineStoreError, match="trips_1h"):
        asyncio.run(rstore.read_async([(AGG, [(2,)])]))
    # a write batch meeting a corrupt records string writes nothing
    with pytest.raises(OnlineStoreError, match="trips_1h"):
        rstore.write_aggregates(AGG, [(1,), (2,)], T0 + 1, [b"t", b"t"])
    assert admin.get("fs:proj:trips_1h:{driver_id=1}") == T0.to_bytes(8, "big") + b"s"
    assert read1(rstore, AGG, (1,)) == (T0, (b"s", ()))


def test_redis_corrupt_state(rstore: RedisOnlineStore, admin: redis.Redis) -> None:
    admin.set("fs:proj:trips_1h:{driver_id=1}", b"abc")
    with pytest.raises(OnlineStoreError, match="trips_1h"):
        read1(rstore, AGG, (1,))
    assert rstore.write_aggregates(AGG, [(1,)], MIN_US, [b"s"]) == 1  # a corrupt state is replaced
    assert read1(rstore, AGG, (1,)) == (MIN_US, (b"s", ()))


def test_redis_layout_is_readable(rstore: RedisOnlineStore, admin: redis.Redis) -> None:
    rstore.write_aggregates(AGG, [(1001,)], T0, [b"state"])
    rstore.append_aggregates(AGG, [(1001,), (1001,)], [T0, T0 + 1], [b"ab", b"c"])
    rstore.append_aggregates(GLOBAL_AGG, [()], [T0], [b"g"])
    assert sorted(admin.scan_iter("fs:proj:*")) == [
        b"fs:proj:__layout", b"fs:proj:platform_1h:@r:{@}", b"fs:proj:trips_1h:@r:{driver_id=1001}",
        b"fs:proj:trips_1h:{driver_id=1001}"]
    assert admin.get("fs:proj:trips_1h:{driver_id=1001}") == T0.to_bytes(8, "big") + b"state"
    assert admin.get("fs:proj:trips_1h:@r:{driver_id=1001}") == (
        T0.to_bytes(8, "big") + b"\x00\x00\x00\x02ab" + (T0 + 1).to_bytes(8, "big") + b"\x00\x00\x00\x01c")
    assert admin.pttl("fs:proj:trips_1h:{driver_id=1001}") == -1  # no expiry
    rstore.write_aggregates(AGG, [(1001,)], T0 + 2, [b"s"])
    assert admin.exists("fs:proj:trips_1h:@r:{driver_id=1001}") == 0  # no record left: the key goes


def _commands(admin: redis.Redis) -> tuple[int, int]:
    stats = admin.info("commandstats")
    return admin.info("stats")["total_commands_processed"], stats.get("cmdstat_mget", {}).get("calls", 0)


def test_redis_mixed_read_is_one_round_trip(rstore: RedisOnlineStore, admin: redis.Redis) -> None:
    keys = [(k,) for k in range(40)]
    rstore.write(STATS, keys[::2], [T0] * 20, [T0] * 20, [(1.0, 1, "a")] * 20)
    rstore.write_aggregates(AGG, keys[::3], T0, [b"s"] * 14)
    rstore.append_aggregates(AGG, keys[::5], [T0] * 8, [b"r"] * 8)
    requests = [(STATS, keys), (AGG, keys), (GLOBAL_AGG, [()]), (STATS, keys[:3])]
    rstore.read(requests)  # the connection is open: no handshake below
    base0 = _commands(admin)
    base1 = _commands(admin)
    overhead = base1[0] - base0[0]  # the INFO commands themselves
    got = rstore.read(requests)
    after = _commands(admin)
    assert after[0] - base1[0] - overhead == 1 and after[1] - base1[1] == 1
    assert [sum(r is not None for r in rows) for rows in got] == [20, len(set(keys[::3]) | set(keys[::5])), 0, 2]


def test_redis_append_is_one_transaction_and_write_one_script_per_batch(rstore: RedisOnlineStore,
                                                                          admin: redis.Redis) -> None:
    rstore.append_aggregates(AGG, [(1,)], [T0], [b"warm"])
    base = admin.info("commandstats")
    rstore.append_aggregates(AGG, [(k,) for k in range(10)], [T0] * 10, [b"r"] * 10)
    rstore.write_aggregates(AGG, [(k,) for k in range(5)], T0, [b"s"] * 5)  # write_batch_size=2: 3 batches
    after = admin.info("commandstats")

    def calls(name: str) -> int:
        return int(after.get(f"cmdstat_{name}", {}).get("calls", 0)) - int(base.get(f"cmdstat_{name}", {})
                                                                             .get("calls", 0))

    assert (calls("multi"), calls("exec"), calls("append"), calls("evalsha")) == (1, 1, 10, 3)


def test_redis_script_reloaded_after_script_flush(rstore: RedisOnlineStore, admin: redis.Redis) -> None:
    rstore.write_aggregates(AGG, [(1,)], T0, [b"a"])
    admin.script_flush()
    assert rstore.write_aggregates(AGG, [(1,), (2,), (3,)], T0 + 1, [b"b"] * 3) == 3
    assert read1(rstore, AGG, (1,)) == (T0 + 1, (b"b", ()))


def test_bad_key_in_a_later_batch_writes_nothing(backend: Backend) -> None:
    store = backend.open("proj", write_batch_size=2) if backend.redis else backend.open("proj")
    keys: list[Any] = [(1,), (2,), (3,), (4,), ("five",)]
    with pytest.raises(InputError, match="five"):
        store.write_aggregates(AGG, keys, T0, [b"s"] * 5)
    assert store.read([(AGG, keys[:4])]) == [[None] * 4]
