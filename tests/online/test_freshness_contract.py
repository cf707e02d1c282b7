"""The data-timestamp contract (``OnlineStore.data_timestamps``), run against SQLite, Redis and memory.

Reference: a plain dict of the max event time written per view, over randomized writes of every kind from two
store objects on one database (two writer processes), compared after every step.
"""

from __future__ import annotations

import random
from typing import Any

import msgpack
import pytest

from featurestore.errors import InputError
from featurestore.online import OnlineStore, RedisOnlineStore, ViewSpec, agg_state, freshness
from featurestore.types import Int64
from tests.online.conftest import Backend
from tests.online.test_aggregate_store import AGG, agg
from tests.online.test_contract import OTHER, STATS, T0

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


def _state(newest: int | None, tail: list[int], raw: bool = True) -> bytes:
    """A state in the agg_state.py layout (only the fields the data timestamp reads are meaningful)."""
    t: Any = b"".join(x.to_bytes(8, "little", signed=True) for x in sorted(tail)) if raw else sorted(tail)
    return bytes(msgpack.packb([agg_state.VERSION, 0, 0, 0, newest, [], t, [], []]))


def _record(ts: int) -> bytes:
    return bytes(msgpack.packb([0, ts, 0, agg_state.PUSHED_ORD]))


def test_rows_advance_by_max_across_writers(backend: Backend) -> None:
    rng = random.Random(13)
    writers = [backend.open("proj"), backend.open("proj")]
    expected: dict[str, int] = {}
    for _ in range(25):
        store = rng.choice(writers)
        view = rng.choice([STATS, OTHER])
        n = rng.randint(1, 6)
        events = [T0 + rng.randint(-10**9, 10**9) for _ in range(n)]
        keys = [(rng.randint(1, 4),) for _ in range(n)]
        values: list[tuple[Any, ...]] = ([(0.5, 1, "x")] if view is STATS else [(1.0,)]) * n
        store.write(view, keys, events, events, values)
        expected[view.name] = max(expected.get(view.name, events[0]), *events)
        for reader in writers:
            assert reader.data_timestamps() == expected  # an older write never moves it back


def test_exact_at_the_int64_edges(store: OnlineStore) -> None:
    """Times that doubles cannot tell apart (Redis' Lua compares them exactly)."""
    for us in (INT64_MAX - 5, INT64_MAX - 7, INT64_MAX - 2, INT64_MAX - 3):
        store.write(STATS, [(1,)], [us], [0], [(None, None, None)])
    assert store.data_timestamps() == {STATS.name: INT64_MAX - 2}
    for us in (INT64_MIN + 9, INT64_MIN + 4, -1_000_000_000_007, -1_000_000_000_003, -5):
        store.write(OTHER, [(2,)], [us], [0], [(None,)])
    assert store.data_timestamps()[OTHER.name] == -5


def test_aggregate_writes_advance(backend: Backend) -> None:
    rng = random.Random(7)
    first, second = backend.open("proj"), backend.open("proj")
    expected: dict[str, int] = {}
    for step in range(20):
        store = first if step % 2 else second
        kind = rng.choice(["states", "records", "explicit"])
        keys = [(k,) for k in range(rng.randint(1, 4))]
        if kind == "records":
            times = [T0 + rng.randint(-10**6, 10**6) for _ in keys]
            store.append_aggregates(AGG, keys, [T0] * len(keys), [_record(t) for t in times])
            newest = max(times)
        elif kind == "states":
            per = [(rng.choice([None, T0 + rng.randint(-10**6, 0)]), [T0 + rng.randint(0, 10**6)
                    for _ in range(rng.randint(0, 3))], rng.random() < 0.5) for _ in keys]
            store.write_aggregates(AGG, keys, T0, [_state(*p) for p in per])
            found = [x for n, tail, _ in per for x in ([n] if n is not None else []) + tail]
            if not found:
                continue
            newest = max(found)
        else:  # the caller tells the newest event time (materialize does): the bytes are not read
            newest = T0 + rng.randint(-10**6, 10**6)
            store.write_aggregates(AGG, keys, T0, [b"opaque"] * len(keys), newest_us=newest)
        expected[AGG.name] = max(expected.get(AGG.name, newest), newest)
        assert first.data_timestamps() == second.data_timestamps() == expected


def test_opaque_aggregate_bytes_leave_it_alone(store: OnlineStore) -> None:
    assert store.write_aggregates(AGG, [(1,)], T0, [b"s1"]) == 1
    assert store.append_aggregates(AGG, [(1,)], [T0], [b"r"]) == 1
    assert store.data_timestamps() == {}
    assert freshness.states_newest([b"", b"\x93\x01\x02\x03"]) is None


def test_delete_view_and_teardown_drop_entries(backend: Backend) -> None:
    store, other_project = backend.open("proj"), backend.open("proj2")
    store.write(STATS, [(1,)], [T0], [T0], [(0.1, 1, "a")])
    store.write(OTHER, [(1,)], [T0 + 1], [T0], [(0.1,)])
    store.append_aggregates(agg("agg_b"), [(1,)], [T0], [_record(T0 + 2)])
    other_project.write(STATS, [(1,)], [T0 + 3], [T0], [(0.1, 1, "a")])
    store.delete(STATS, [(1,)])  # entities deleted: the data timestamp stays (it is the newest ever written)
    assert store.data_timestamps() == {STATS.name: T0, OTHER.name: T0 + 1, "agg_b": T0 + 2}
    store.delete_view(OTHER.name)
    assert store.data_timestamps() == {STATS.name: T0, "agg_b": T0 + 2}
    store.teardown()
    assert store.data_timestamps() == {}
    assert other_project.data_timestamps() == {STATS.name: T0 + 3}
    store.write(OTHER, [(1,)], [T0 - 50], [T0], [(0.1,)])  # after a delete_view the max starts again
    assert store.data_timestamps() == {OTHER.name: T0 - 50}


def test_empty_and_refused_writes_move_nothing(store: OnlineStore) -> None:
    assert store.write(STATS, [], [], [], []) == 0
    with pytest.raises(InputError):
        store.write(STATS, [(1,)], [T0], [T0], [(1.0,)])  # wrong number of values: checked before a write
    assert store.data_timestamps() == {}


def test_redis_layout_is_readable(backend: Backend) -> None:
    if not backend.redis:
        pytest.skip("Redis layout only")
    store = backend.open("proj")
    assert isinstance(store, RedisOnlineStore)
    store.write(STATS, [(1,)], [T0], [T0], [(0.1, 1, "a")])

    client = backend.admin(decode_responses=True)
    try:
        assert client.hgetall("fs:proj:__fresh") == {STATS.name: str(T0)}
        client.delete("fs:proj:__fresh")  # a script cache flush or a lost key never fails a write
        client.script_flush()
        store.write(STATS, [(1,)], [T0 + 1], [T0 + 1], [(0.1, 1, "a")])
        assert client.hget("fs:proj:__fresh", STATS.name) == str(T0 + 1)
    finally:
        client.close()


def test_keys_of_many_batches(backend: Backend) -> None:
    """Writes bigger than one batch (Redis: several EVALSHAs; SQLite: chunks) advance to the overall max."""
    store = backend.open("proj", **({"write_batch_size": 7} if backend.redis else {}))
    rng = random.Random(3)
    events = [T0 + rng.randint(0, 10**6) for _ in range(50)]
    store.write(ViewSpec("wide", ("id",), (Int64,), ("v",), (Int64,), None), [(i,) for i in range(50)], events,
                events, [(i,) for i in range(50)])
    assert store.data_timestamps() == {"wide": max(events)}
