"""The online store contract, run against SQLite and Redis (the ``backend`` fixture), plus Redis specifics."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featurestore.errors import InputError, OnlineStoreUnavailableError
from featurestore.online import OnlineStore, RedisOnlineStore, ViewSpec
from featurestore.types import (
    Array,
    Bool,
    Bytes,
    Float32,
    Float64,
    Int32,
    Int64,
    String,
    Timestamp,
    ValueType,
)
from tests.conftest import RedisProcess
from tests.online.conftest import Backend

T0 = 1_700_000_000_000_000
STATS = ViewSpec("driver_stats", ("driver_id",), (Int64,), ("conv", "trips", "name"),
                 (Float64, Int64, String), None)
OTHER = ViewSpec("driver_other", ("driver_id",), (Int64,), ("score",), (Float32,), None)
SCALARS: tuple[ValueType, ...] = (Int32, Int64, Float32, Float64, String, Bool, Bytes, Timestamp)
ALL_TYPES = SCALARS + tuple(Array(t) for t in SCALARS)
EVERY = ViewSpec("every", ("id",), (Int64,),
                 tuple(t.name.lower().replace("(", "_").rstrip(")") for t in ALL_TYPES), ALL_TYPES, None)


def view(name: str, ttl: float | None = None) -> ViewSpec:
    return ViewSpec(name, STATS.join_keys, STATS.key_types, STATS.features, STATS.feature_types, ttl)


def same(a: Any, b: Any) -> bool:
    """Exact equality: same types, NaN equals NaN, the sign of zero counts, datetimes are UTC."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(b, datetime):
        return isinstance(a, datetime) and b.utcoffset() == timedelta(0) and a == b
    return type(a) is type(b) and a == b


def read1(store: OnlineStore, v: ViewSpec, key: tuple[Any, ...]) -> tuple[int, tuple[Any, ...]] | None:
    return store.read([(v, [key])])[0][0]


def test_round_trip(store: OnlineStore) -> None:
    n = store.write(STATS, [(1,), (2,)], [T0, T0 + 5], [T0, T0 + 7], [(0.5, 10, "a"), (None, None, None)])
    assert n == 2
    assert store.read([(STATS, [(1,), (2,)])]) == [[(T0, (0.5, 10, "a")), (T0 + 5, (None, None, None))]]


def test_unknown_keys_and_empty_requests(store: OnlineStore) -> None:
    store.write(STATS, [(1,)], [T0], [T0], [(0.5, 10, "a")])
    assert store.read([(STATS, [(2,), (-1,)])]) == [[None, None]]
    assert store.read([(STATS, []), (OTHER, [(1,)])]) == [[], [None]]
    assert store.read([]) == []
    assert store.write(STATS, [], [], [], []) == 0


def test_order_and_duplicates_kept(store: OnlineStore) -> None:
    store.write(STATS, [(k,) for k in range(5)], [T0 + k for k in range(5)], [T0] * 5,
                [(k / 2, k, str(k)) for k in range(5)])
    got = store.read([(STATS, [(3,), (1,), (3,), (99,), (1,), (0,)])])[0]
    assert [r and r[0] - T0 for r in got] == [3, 1, 3, None, 1, 0]
    assert got[0] == (T0 + 3, (1.5, 3, "3"))


def test_multiple_views_in_one_read(store: OnlineStore) -> None:
    store.write(STATS, [(1,)], [T0], [T0], [(0.5, 1, "stats")])
    store.write(OTHER, [(1,), (2,)], [T0 + 1, T0 + 2], [T0, T0], [(1.5,), (2.5,)])
    got = store.read([(OTHER, [(2,), (1,)]), (STATS, [(1,), (2,)]), (OTHER, [(3,)])])
    assert got == [[(T0 + 2, (2.5,)), (T0 + 1, (1.5,))], [(T0, (0.5, 1, "stats")), None], [None]]


@pytest.mark.parametrize(("new_event", "new_created", "replaced"), [
    (T0 - 1, T0 + 100, False),  # older event, newer created
    (T0, T0 - 1, False),  # same event, older created
    (T0, T0, True),  # same event and created
    (T0, T0 + 1, True),  # same event, newer created
    (T0 + 1, T0 - 100, True),  # newer event, older created
])
def test_never_replace_with_older(store: OnlineStore, new_event: int, new_created: int,
                                  replaced: bool) -> None:
    store.write(STATS, [(1,)], [T0], [T0], [(1.0, 1, "old")])
    n = store.write(STATS, [(1,)], [new_event], [new_created], [(2.0, 2, "new")])
    assert n == int(replaced)
    expected = (new_event, (2.0, 2, "new")) if replaced else (T0, (1.0, 1, "old"))
    assert read1(store, STATS, (1,)) == expected


def test_times_compared_exactly_beyond_double_precision(store: OnlineStore) -> None:
    big = 2**62 + 1  # 2**62 + 1 and 2**62 are the same double
    store.write(STATS, [(1,), (2,)], [big, -(2**63)], [big, -5], [(1.0, 1, "a")] * 2)
    assert store.write(STATS, [(1,), (2,)], [big - 1, -(2**63)], [big, -6], [(2.0, 2, "b")] * 2) == 0
    assert store.write(STATS, [(1,), (2,)], [big, -(2**63)], [big + 1, -4], [(3.0, 3, "c")] * 2) == 2
    assert store.read([(STATS, [(1,), (2,)])])[0] == [(big, (3.0, 3, "c")), (-(2**63), (3.0, 3, "c"))]


def test_same_key_several_times_in_one_write(store: OnlineStore) -> None:
    keys = [(1,), (2,), (1,), (1,), (2,), (3,)]
    events = [T0 + 5, T0, T0 + 9, T0 + 7, T0, T0]
    created = [T0, T0, T0, T0, T0, T0]
    values = [(1.0, 1, "a"), (2.0, 2, "b"), (3.0, 3, "c"), (4.0, 4, "d"), (5.0, 5, "e"), (6.0, 6, "f")]
    assert store.write(STATS, keys, events, created, values) == 3
    assert store.read([(STATS, [(1,), (2,), (3,)])])[0] == [
        (T0 + 9, (3.0, 3, "c")), (T0, (5.0, 5, "e")), (T0, (6.0, 6, "f"))]  # a tie: the later row wins


def test_large_write_across_batches(backend: Backend) -> None:
    store = backend.open("proj", write_batch_size=7) if backend.redis else backend.open("proj")
    n = 1000
    keys = [(i % 300,) for i in range(n)]  # every key several times, across batches
    events = [T0 + i for i in range(n)]
    assert store.write(STATS, keys, events, events, [(float(i), i, str(i)) for i in range(n)]) == 300
    got = store.read([(STATS, [(k,) for k in range(300)])])[0]
    last = [k + 900 if k < 100 else k + 600 for k in range(300)]
    assert got == [(T0 + i, (float(i), i, str(i))) for i in last]


EXTREMES: list[tuple[Any, ...]] = [
    (-(2**31), -(2**63), -3.4028234663852886e38, float("nan"), "", False, b"", datetime(1, 1, 1, tzinfo=UTC),
     [], [], [], [], [], [], [], []),
    (2**31 - 1, 2**63 - 1, 1.401298464324817e-45, float("inf"), "héllo ✓ 𝄞 \x00,=:%", True, b"\xff\x00\xfe",
     datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
     [None, 0], [2**63 - 1, None, -(2**63)], [0.5, None, -0.0], [float("-inf"), -0.0, float("nan")],
     ["", None, "ü"], [True, None, False], [b"", None, b"\x80"], [None, datetime(1969, 12, 31, 23, 59, 59, 1,
                                                                             tzinfo=UTC)]),
    (0, 0, -0.0, -0.0, " ", True, b"\x00", datetime(2024, 2, 29, 12, 0, 0, 123456, tzinfo=UTC),
     None, None, None, None, None, None, None, None),
    (None,) * 16,
]


def test_every_type_round_trips_exactly(store: OnlineStore) -> None:
    keys = [(i,) for i in range(len(EXTREMES))]
    store.write(EVERY, keys, [T0] * len(keys), [T0] * len(keys), EXTREMES)
    for got, expected in zip(store.read([(EVERY, keys)])[0], EXTREMES, strict=True):
        assert got is not None and got[0] == T0
        assert same(got[1], expected), (got[1], expected)


def test_timestamps_naive_and_other_zones_come_back_utc(store: OnlineStore) -> None:
    ts = ViewSpec("ts", ("id",), (Int64,), ("t", "ts"), (Timestamp, Array(Timestamp)), None)
    naive = datetime(2024, 5, 1, 12, 30, 0, 7)
    paris = datetime(2024, 5, 1, 14, 30, 0, 7, tzinfo=timezone(timedelta(hours=2)))
    store.write(ts, [(1,)], [T0], [T0], [(naive, [paris, naive])])
    expected = datetime(2024, 5, 1, 12, 30, 0, 7, tzinfo=UTC)
    got = read1(store, ts, (1,))
    assert got is not None and same(got[1], (expected, [expected, expected]))


def _values(t: ValueType) -> st.SearchStrategy[Any]:
    base: dict[str, st.SearchStrategy[Any]] = {
        "Int32": st.integers(-(2**31), 2**31 - 1), "Int64": st.integers(-(2**63), 2**63 - 1),
        "Float32": st.floats(width=32), "Float64": st.floats(), "String": st.text(), "Bool": st.booleans(),
        "Bytes": st.binary(), "Timestamp": st.datetimes(timezones=st.just(UTC)),
    }
    if t.element is not None:
        return st.none() | st.lists(st.none() | base[t.element.name], max_size=5)
    return st.none() | base[t.name]


_event = itertools.count(T0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.tuples(*(_values(t) for t in ALL_TYPES)), key=st.integers(-(2**63), 2**63 - 1))
def test_random_values_round_trip(store: OnlineStore, row: tuple[Any, ...], key: int) -> None:
    event = next(_event)
    assert store.write(EVERY, [(key,)], [event], [event], [row]) == 1
    got = read1(store, EVERY, (key,))
    assert got is not None and got[0] == event and same(got[1], row), (got, row)


KEYED = ViewSpec("trips", ("city", "id", "flag", "raw"), (String, Int64, Bool, Bytes), ("n",), (Int64,), None)
TRICKY = ["", ",", "=", ":", "%", "%2C", "a=1,b=2", "a,b=c", "Zürich ✓", "\n\t\x7f", "*?[x]\\", " ",
          "fs:proj:x"]


def test_multi_column_keys_with_special_characters(store: OnlineStore) -> None:
    keys = [(city, i, flag, raw) for city in TRICKY for i in (0, -1) for flag in (True, False)
            for raw in (b"", b",", b"\xff")]
    n = store.write(KEYED, keys, [T0] * len(keys), [T0] * len(keys), [(i,) for i in range(len(keys))])
    assert n == len(keys)  # no two keys collided
    got = store.read([(KEYED, list(reversed(keys)))])[0]
    assert got == [(T0, (i,)) for i in reversed(range(len(keys)))]


def test_bad_input_raises_input_error(store: OnlineStore) -> None:
    with pytest.raises(InputError):
        store.write(STATS, [(1,)], [T0, T0], [T0], [(1.0, 1, "a")])
    with pytest.raises(InputError):
        store.write(STATS, [(1,)], [T0], [T0], [(1.0, 1)])
    with pytest.raises(InputError):
        store.write(STATS, [("one",)], [T0], [T0], [(1.0, 1, "a")])
    with pytest.raises(InputError):
        store.write(STATS, [(1,)], [T0], [T0], [(1.0, object(), "a")])
    with pytest.raises(InputError):
        store.read([(STATS, [(None,)])])
    with pytest.raises(InputError):
        store.read([(KEYED, [("a", 1, True)])])


def test_changed_schema_reads_as_missing(store: OnlineStore) -> None:
    store.write(STATS, [(1,)], [T0], [T0], [(1.0, 1, "a")])
    changed = ViewSpec(STATS.name, STATS.join_keys, STATS.key_types, ("trips", "conv", "name"),
                       (Int64, Float64, String), None)
    assert read1(store, changed, (1,)) is None
    assert read1(store, STATS, (1,)) == (T0, (1.0, 1, "a"))


def test_delete_view_removes_only_that_view(backend: Backend) -> None:
    store, other = backend.open("proj"), backend.open("proj2")
    x, xy = view("x"), view("xy")
    for s in (store, other):
        for v in (x, xy, STATS):
            s.write(v, [(1,)], [T0], [T0], [(1.0, 1, v.name)])
    store.delete_view("x")
    assert store.read([(x, [(1,)]), (xy, [(1,)]), (STATS, [(1,)])]) == [
        [None], [(T0, (1.0, 1, "xy"))], [(T0, (1.0, 1, "driver_stats"))]]
    assert other.read([(x, [(1,)])]) == [[(T0, (1.0, 1, "x"))]]
    store.delete_view("never_written")


def test_delete_removes_only_the_given_entities(backend: Backend) -> None:
    store, other = backend.open("proj"), backend.open("proj2")
    x, y = view("x"), view("y")
    for s in (store, other):
        for v in (x, y):
            s.write(v, [(1,), (2,), (3,)], [T0] * 3, [T0] * 3, [(1.0, 1, "a")] * 3)
    assert store.delete(x, [(1,), (3,), (3,), (9,)]) == 2  # 9 was not stored; 3 counts once
    assert store.delete(x, []) == 0
    assert [r is not None for r in store.read([(x, [(1,), (2,), (3,)])])[0]] == [False, True, False]
    for s, v in ((store, y), (other, x), (other, y)):
        assert all(r is not None for r in s.read([(v, [(1,), (2,), (3,)])])[0])
    with pytest.raises(InputError):
        store.delete(x, [("not an int",)])


def test_teardown_removes_only_this_project(backend: Backend) -> None:
    a, ab = backend.open("a"), backend.open("ab")
    for s in (a, ab):
        s.write(STATS, [(1,), (2,)], [T0] * 2, [T0] * 2, [(1.0, 1, "a")] * 2)
    if backend.redis:
        with backend.admin() as client:
            client.set("other:thing", b"keep")
            client.set("fs:abc", b"keep")
    a.teardown()
    assert a.read([(STATS, [(1,), (2,)])]) == [[None, None]]
    assert ab.read([(STATS, [(1,), (2,)])]) == [[(T0, (1.0, 1, "a"))] * 2]
    if backend.redis:
        with backend.admin() as client:
            assert client.get("other:thing") == b"keep" and client.get("fs:abc") == b"keep"
            assert sorted(client.scan_iter("fs:a:*")) == []
    a.write(STATS, [(1,)], [T0], [T0], [(2.0, 2, "again")])  # usable after teardown
    assert read1(a, STATS, (1,)) == (T0, (2.0, 2, "again"))


def test_persistence_across_reopen(backend: Backend) -> None:
    store = backend.open("proj")
    store.write(STATS, [(1,)], [T0], [T0], [(1.0, 1, "kept")])
    store.close()
    again = backend.open("proj")
    assert read1(again, STATS, (1,)) == (T0, (1.0, 1, "kept"))
    assert again.write(STATS, [(1,)], [T0 - 1], [T0], [(0.0, 0, "older")]) == 0
    again.ping()


def test_implements_protocol(store: OnlineStore) -> None:
    assert isinstance(store, OnlineStore)


# ---- SQLite specifics -------------------------------------------------------------------------------------


def test_sqlite_two_processes_write_concurrently(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "shared.db"
    code = (
        "import sys\nfrom featurestore.online import SqliteOnlineStore, ViewSpec\n"
        "from featurestore.types import Float64, Int64, String\n"
        f"STATS = ViewSpec({STATS.name!r}, {STATS.join_keys!r}, (Int64,), {STATS.features!r}, "
        "(Float64, Int64, String), None)\n"
        "s = SqliteOnlineStore(sys.argv[1], 'proj')\nw = int(sys.argv[2])\n"
        "for b in range(20):\n"
        "    ks = [(w * 100000 + b * 100 + i,) for i in range(100)]\n"
        "    s.write(STATS, ks, [1] * 100, [1] * 100, [(1.0, 1, 'x')] * 100)\n"
    )
    root = Path(__file__).resolve().parents[2]
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), str(w)], cwd=root) for w in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    from featurestore.online import SqliteOnlineStore

    store = SqliteOnlineStore(path, "proj")
    keys = [(w * 100000 + i,) for w in range(3) for i in range(2000)]
    assert all(r is not None for r in store.read([(STATS, keys)])[0])
    store.close()


# ---- Redis specifics --------------------------------------------------------------------------------------


@pytest.fixture
def rstore(clean_redis_url: str) -> Any:
    store = RedisOnlineStore(clean_redis_url, "proj")
    yield store
    store.close()


@pytest.fixture
def admin(clean_redis_url: str) -> Any:
    client = redis.Redis.from_url(clean_redis_url)
    yield client
    client.close()


def test_redis_keys_are_readable(rstore: RedisOnlineStore, admin: redis.Redis) -> None:
    rstore.write(STATS, [(1001,)], [T0], [T0], [(1.0, 1, "a")])
    rstore.write(KEYED, [("Zürich,=%", -5, True, b"\x01\xff")], [T0], [T0], [(1,)])
    assert sorted(admin.scan_iter("fs:proj:*")) == [
        b"fs:proj:__fresh",  # the data timestamps (featurestore/online/freshness.py)
        b"fs:proj:__layout",  # the key layout of the project's keys (2)
        b"fs:proj:driver_stats:{driver_id=1001}",
        "fs:proj:trips:{city=Zürich%2C%3D%25,id=-5,flag=true,raw=0x01ff}".encode(),
    ]


def test_redis_ttl(rstore: RedisOnlineStore, admin: redis.Redis) -> None:
    short, forever = view("short", ttl=1), view("forever")
    rstore.write(short, [(1,)], [T0], [T0], [(1.0, 1, "a")])
    rstore.write(forever, [(1,)], [T0], [T0], [(1.0, 1, "a")])
    assert 0 < admin.pttl("fs:proj:short:{driver_id=1}") <= 1000
    assert admin.pttl("fs:proj:forever:{driver_id=1}") == -1
    assert read1(rstore, short, (1,)) is not None
    time.sleep(1.2)
    assert read1(rstore, short, (1,)) is None
    assert admin.exists("fs:proj:short:{driver_id=1}") == 0
    assert read1(rstore, forever, (1,)) is not None


def test_redis_read_is_one_round_trip(rstore: RedisOnlineStore, admin: redis.Redis) -> None:
    views = [view(f"v{i}") for i in range(3)]
    for v in views:
        rstore.write(v, [(k,) for k in range(0, 50, 2)], [T0] * 25, [T0] * 25, [(1.0, 1, "a")] * 25)
    requests = [(v, [(k,) for k in range(50)]) for v in views]
    rstore.read(requests)  # the connection is open: no handshake below

    def counts() -> tuple[int, int]:
        stats = admin.info("commandstats")
        return admin.info("stats")["total_commands_processed"], stats.get("cmdstat_mget", {}).get("calls", 0)

    base0 = counts()
    base1 = counts()
    overhead = base1[0] - base0[0]  # the INFO commands themselves
    got = rstore.read(requests)
    after = counts()
    assert after[0] - base1[0] - overhead == 1
    assert after[1] - base1[1] == 1
    assert [sum(r is not None for r in rows) for rows in got] == [25, 25, 25]


def test_redis_script_reloaded_after_script_flush(rstore: RedisOnlineStore, admin: redis.Redis) -> None:
    rstore.write(STATS, [(1,)], [T0], [T0], [(1.0, 1, "a")])
    admin.script_flush()
    assert rstore.write(STATS, [(1,), (2,)], [T0 + 1, T0], [T0, T0], [(2.0, 2, "b")] * 2) == 2
    assert read1(rstore, STATS, (1,)) == (T0 + 1, (2.0, 2, "b"))


def test_redis_down_raises_unavailable_then_recovers(redis_factory: Callable[..., RedisProcess]) -> None:
    server = redis_factory()
    store = RedisOnlineStore(server.url, "proj", socket_timeout=0.5)
    store.write(STATS, [(1,)], [T0], [T0], [(1.0, 1, "a")])
    server.stop()
    for call in (lambda: store.write(STATS, [(1,)], [T0], [T0], [(1.0, 1, "a")]),
                 lambda: store.read([(STATS, [(1,)])]), store.ping, store.teardown):
        with pytest.raises(OnlineStoreUnavailableError, match=f"127.0.0.1:{server.port}") as info:
            call()
        assert info.value.__suppress_context__ and info.value.__cause__ is None
    server = redis_factory(port=server.port)
    assert store.write(STATS, [(1,)], [T0], [T0], [(1.0, 1, "b")]) == 1
    assert read1(store, STATS, (1,)) == (T0, (1.0, 1, "b"))
    server.stop()  # restarted while the store is idle: its pooled connections are stale
    server = redis_factory(port=server.port)
    assert store.write(STATS, [(2,)], [T0], [T0], [(1.0, 1, "c")]) == 1
    assert store.read([(STATS, [(1,), (2,)])]) == [[None, (T0, (1.0, 1, "c"))]]
    server.stop()  # again, reading first
    redis_factory(port=server.port)
    assert store.read([(STATS, [(2,)])]) == [[None]]
    store.ping()
    store.close()


def test_redis_url_password_is_not_shown() -> None:
    store = RedisOnlineStore("redis://user:s3cret@127.0.0.1:1/0", "proj", socket_timeout=0.5)
    with pytest.raises(OnlineStoreUnavailableError) as info:
        store.ping()
    assert "s3cret" not in str(info.value) and "user:***@127.0.0.1:1" in str(info.value)


def test_identity_names_the_database_not_the_object(backend) -> None:  # type: ignore[no-untyped-def]
    """Watermarks are kept per identity: two stores on one database share it, another database does not."""
    first, second = backend.open("proj"), backend.open("other_project")
    assert isinstance(first.identity, str) and first.identity
    assert first.identity == second.identity
    assert "***" not in first.identity and "@" not in first.identity


GLOBAL = ViewSpec("platform", (), (), ("rate",), (Float64,), None)


def test_a_view_without_entities_holds_one_row(store: OnlineStore) -> None:
    """Every entity row reads the one row of a view without entities; the newest write wins."""
    assert store.read([(GLOBAL, [(), ()])]) == [[None, None]]
    assert store.write(GLOBAL, [(), (), ()], [5, 9, 7], [0, 0, 0], [(0.5,), (0.9,), (0.7,)]) == 1
    store.write(GLOBAL, [()], [8], [0], [(0.8,)])  # older than the stored row: ignored
    assert store.read([(GLOBAL, [(), (), ()]), (STATS, [(1,)])]) == [[(9, (0.9,))] * 3, [None]]
    store.delete_view("platform")
    assert store.read([(GLOBAL, [()])]) == [[None]]
