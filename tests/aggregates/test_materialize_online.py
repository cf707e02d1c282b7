"""End to end: FeatureStore.materialize of an aggregate view, then lookups at random ``now`` in [S, S + H] equal
the oracle (and the training set at ``T = now``), on SQLite, Redis and in memory; plain and aggregate views in
one request cost one store read."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import Entity, FeatureStore, FeatureView, Field, ParquetSource
from featurestore.config import parse_config
from featurestore.online import MemoryOnlineStore
from featurestore.online.lookup import OnlineReader
from featurestore.online.response import NOT_FOUND, PRESENT
from featurestore.types import Float64, Int64
from featurestore.utc import from_epoch_us
from tests.aggregates.oracle import same
from tests.aggregates.state_helpers import BASE, HOUR, MIN, expected, make_view, random_events, write_events

STORES = ["sqlite", "redis", "memory"]


@pytest.fixture(params=STORES)
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[FeatureStore, list[Any], Any, int]]:
    """A repo with the random events, applied and materialized at S; yields (store, events, view, S)."""
    rng = random.Random(f"e2e-{request.param}")
    snapshot = BASE + 13 * MIN + 5
    events = random_events(rng, 300, snapshot, keys=8)
    for e in events:  # every event created before S: the training set sees what the materialize saw
        e["created"] = min(e["created"], snapshot - 1 - rng.randint(0, 3))
    write_events(tmp_path / "events.parquet", events)
    online_cfg: dict[str, object] = {"type": "sqlite", "path": str(tmp_path / "online.db")}
    if request.param == "redis":
        online_cfg = {"type": "redis", "url": request.getfixturevalue("clean_redis_url")}
    cfg = parse_config({"project": "agg", "online_store": online_cfg}, "test", env={})
    store = FeatureStore(tmp_path, config=cfg, online=MemoryOnlineStore("agg") if request.param == "memory" else None)
    view = make_view(str(tmp_path / "events.parquet"))
    card = Entity(name="card", join_keys=["card"])
    pq.write_table(pa.table({"card": pa.array([1, 2, 3], pa.int64()), "score": [0.5, 0.25, 0.125],
                             "ts": pa.array([from_epoch_us(BASE - HOUR)] * 3, pa.timestamp("us", tz="UTC"))}),
                   tmp_path / "profile.parquet")
    profile = FeatureView(name="profile", entities=[card], ttl=timedelta(days=3650),
                          source=ParquetSource(path=str(tmp_path / "profile.parquet"), timestamp_field="ts"),
                          schema=[Field(name="card", dtype=Int64), Field(name="score", dtype=Float64)])
    store.apply([card, view, profile])
    done = store.materialize(from_epoch_us(BASE - 30 * HOUR), from_epoch_us(snapshot))
    by_view = {d.view: d for d in done}
    assert by_view["txn"].rows == len({e["card"] for e in events})  # entities written
    assert by_view["txn"].written == by_view["txn"].rows
    yield store, events, view, snapshot
    store.close()


def _lookup(store: FeatureStore, features: list[str], rows: list[dict[str, Any]], now: int) -> Any:
    return OnlineReader(store.online, store.on_demand_runner).read(store.state(), features, rows,
                                                                  now=from_epoch_us(now))


def test_lookups_equal_the_oracle(repo: tuple[FeatureStore, list[Any], Any, int]) -> None:
    store, events, view, snapshot = repo
    rng = random.Random(7)
    features = [f"txn:{n}" for n in view.feature_names]
    rows = [{"card": k} for k in range(1, 10)]  # 9: never seen
    horizon = view.serving_horizon_us
    for now in [snapshot, snapshot + horizon] + [snapshot + rng.randint(0, horizon) for _ in range(6)] + [
            e["ts"] for e in rng.sample(events, 4) if snapshot <= e["ts"] <= snapshot + horizon]:
        response = _lookup(store, features, rows, now)
        data = response.to_dict()
        for i, row in enumerate(rows):
            key = (row["card"],)
            known = any(e["key"] == key for e in events)
            want = expected(view, events, key, now)
            for name, exp in zip(view.feature_names, want, strict=True):
                assert same(data[name][i], exp), f"{name} card {key} now S+{now - snapshot}: {data[name][i]!r} {exp!r}"
                assert response.statuses[name][i] == (PRESENT if known else NOT_FOUND)
            newest = max((e["ts"] for e in events if e["key"] == key and e["ts"] < now), default=None)
            assert response.views[0].event_times_us[i] == newest


def test_outside_the_horizon(repo: tuple[FeatureStore, list[Any], Any, int]) -> None:
    store, _, view, snapshot = repo
    for now in (snapshot - 1, snapshot + view.serving_horizon_us + 1):
        response = _lookup(store, ["txn:count_1h", "txn:qty_total"], [{"card": 1}, {"card": 99}], now)
        assert response.statuses["count_1h"] == ["OUTSIDE_MAX_AGE", "NOT_FOUND"]
        assert response.to_dict()["count_1h"] == [None, 0]
        assert response.to_dict()["qty_total"] == [None, 0]


def test_plain_and_aggregate_views_in_one_read(repo: tuple[FeatureStore, list[Any], Any, int]) -> None:
    store, events, view, snapshot = repo
    reads: list[int] = []
    real = store.online.read

    def counted(requests: Any) -> Any:
        reads.append(len(requests))
        return real(requests)

    store.online.read = counted  # type: ignore[method-assign]
    now = snapshot + 20 * MIN
    response = _lookup(store, ["profile:score", "txn:count_3h", "txn:merchant_last"], [{"card": 2}, {"card": 5}], now)
    assert reads == [2]  # one store call for both views
    assert response.to_dict()["score"] == [0.25, None]
    assert response.to_dict()["count_3h"] == [expected(view, events, (k,), now)[2] for k in (2, 5)]


def test_online_equals_the_training_set(repo: tuple[FeatureStore, list[Any], Any, int]) -> None:
    """The lookup at now == get_historical_features at T = now (as_of_created=True)."""
    store, _, view, snapshot = repo
    rng = random.Random(3)
    features = [f"txn:{n}" for n in view.feature_names]
    nows = [snapshot, snapshot + view.serving_horizon_us] + [snapshot + rng.randint(0, view.serving_horizon_us)
                                                              for _ in range(4)]
    cards = list(range(1, 10))
    entity_df = pa.table({"card": pa.array([c for _ in nows for c in cards], pa.int64()),
                          "event_timestamp": pa.array([from_epoch_us(n) for n in nows for _ in cards],
                                                      pa.timestamp("us", tz="UTC"))})
    training = store.get_historical_features(entity_df, features, as_of_created=True).to_arrow().to_pydict()
    for j, now in enumerate(nows):
        online = _lookup(store, features, [{"card": c} for c in cards], now).to_dict()
        for i in range(len(cards)):
            for name in view.feature_names:
                assert same(online[name][i], training[name][j * len(cards) + i]), (name, cards[i], now - snapshot)
