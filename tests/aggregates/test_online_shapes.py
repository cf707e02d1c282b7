"""Online == offline for the less common shapes of aggregate views: two join keys, no entities, and an
on-demand view over aggregate features in one request with a plain view (SQLite, Redis, memory)."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import FeatureStore
from featurestore.config import parse_config
from featurestore.online import MemoryOnlineStore
from featurestore.utc import from_epoch_us
from tests.aggregates.oracle import same

HOUR = 3_600_000_000
BASE = 1_700_000_000_000_000 // HOUR * HOUR
UTC_US = pa.timestamp("us", tz="UTC")


def _events(rng: random.Random, n: int, snapshot: int) -> pa.Table:
    ts = [snapshot - rng.randint(0, 40 * HOUR) for _ in range(n)]
    return pa.table({
        "shop": pa.array([rng.randint(1, 3) for _ in range(n)], pa.int64()),
        "region": [rng.choice(["eu", "us"]) for _ in range(n)],
        "ts": pa.array([from_epoch_us(t) for t in ts], UTC_US),
        "created": pa.array([from_epoch_us(min(t + rng.randint(0, HOUR), snapshot - 1)) for t in ts], UTC_US),
        "amount": [None if rng.random() < 0.1 else round(rng.uniform(-5, 50), 2) for _ in range(n)],
        "item": [rng.choice(["a", "b", "c", None]) for _ in range(n)],
    })


DEFS = '''
from datetime import timedelta

import polars as pl
from featurestore import (AggregateView, Aggregation, Entity, FeatureView, Field, OnDemandFeatureView,
                          ParquetSource)
from featurestore.types import Float64, Int64, String

AGGREGATIONS = [
    Aggregation(function="count", windows=["1h", "1d"]),
    Aggregation(column="amount", function="sum", windows=["3h", "1d"]),
    Aggregation(column="amount", function="max", windows=["1d"]),
    Aggregation(column="amount", function="stddev", windows=["1d"]),
    Aggregation(column="item", function="count_distinct", windows=["1d"]),
    Aggregation(column="item", function="last"),
    Aggregation(column="amount", function="first", windows=["1d"], where="item <> 'c'", name="first_no_c"),
]
source = ParquetSource(path="events.parquet", timestamp_field="ts", created_timestamp_field="created")
shop, region = Entity(name="shop", join_keys=["shop"]), Entity(name="region", join_keys=["region"])
both = AggregateView(name="by_shop_region", entities=[shop, region], source=source, aggregations=AGGREGATIONS,
                     schema=[Field(name="shop", dtype=Int64), Field(name="region", dtype=String)])
everything = AggregateView(name="platform", entities=[], source=source, aggregations=AGGREGATIONS)
shops = FeatureView(name="shops", entities=[shop], ttl=timedelta(days=3650),
                    source=ParquetSource(path="shops.parquet", timestamp_field="ts"),
                    schema=[Field(name="shop", dtype=Int64), Field(name="rating", dtype=Float64)])
ratio = OnDemandFeatureView(name="ratio", sources=[both, shops], schema=[Field(name="per_rating", dtype=Float64)],
                            expressions={"per_rating": pl.col("amount_sum_1d") / pl.col("rating")})
'''


@pytest.fixture(params=["sqlite", "redis", "memory"])
def built(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    rng = random.Random(f"shapes-{request.param}")
    snapshot = BASE + 17 * 60_000_000 + 3
    pq.write_table(_events(rng, 400, snapshot), tmp_path / "events.parquet")
    pq.write_table(pa.table({"shop": pa.array([1, 2, 3], pa.int64()), "rating": [4.5, 3.0, 5.0],
                             "ts": pa.array([from_epoch_us(BASE - 100 * HOUR)] * 3, UTC_US)}),
                   tmp_path / "shops.parquet")
    (tmp_path / "defs.py").write_text(DEFS)
    online: dict[str, object] = {"type": "sqlite", "path": str(tmp_path / "online.db")}
    if request.param == "redis":
        online = {"type": "redis", "url": request.getfixturevalue("clean_redis_url")}
    now = {"us": snapshot}
    cfg = parse_config({"project": "shapes", "online_store": online}, "test", env={})
    store = FeatureStore(tmp_path, config=cfg, clock=lambda: from_epoch_us(now["us"]),
                         online=MemoryOnlineStore("shapes") if request.param == "memory" else None)
    store.apply()
    both = store.get_aggregate_view("by_shop_region")
    store.materialize(from_epoch_us(BASE - 300 * HOUR), from_epoch_us(snapshot))
    yield store, now, snapshot, both
    store.close()


def _training(store: FeatureStore, features: list[str], rows: list[dict[str, Any]], at: datetime,
              full: bool = False) -> dict[str, Any]:
    columns = {k: [r[k] for r in rows] for k in rows[0]}
    entity = pa.table({**{k: pa.array(v, pa.int64() if k == "shop" else pa.string()) for k, v in columns.items()},
                       "event_timestamp": pa.array([at] * len(rows), UTC_US)})
    return store.get_historical_features(entity, features, as_of_created=True,
                                         full_feature_names=full).to_arrow().to_pydict()


def test_two_keys_no_entities_and_on_demand_agree_online_and_offline(built: Any) -> None:
    store, now, snapshot, both = built
    rng = random.Random(11)
    rows = [{"shop": s, "region": r} for s in (1, 2, 3, 4) for r in ("eu", "us")]
    keyed = [f"by_shop_region:{f}" for f in both.feature_names]
    platform = [f"platform:{f}" for f in both.feature_names]
    requested = [*keyed, "ratio:per_rating", "shops:rating"]
    for at in [snapshot, snapshot + both.serving_horizon_us] + [snapshot + rng.randint(0, both.serving_horizon_us)
                                                                 for _ in range(4)]:
        now["us"] = at
        online = store.get_online_features(requested, rows).to_dict()
        offline = _training(store, requested, rows, from_epoch_us(at))
        for name in [*both.feature_names, "per_rating", "rating"]:
            for i in range(len(rows)):
                assert same(online[name][i], offline[name][i]), (name, rows[i], at - snapshot)
        flat = store.get_online_features(platform, [{}, {}], full_feature_names=True).to_dict()
        offline_flat = _training(store, platform, [{"shop": 0}], from_epoch_us(at), full=True)
        for name in both.feature_names:
            assert same(flat[f"platform__{name}"][0], offline_flat[f"platform__{name}"][0]), (name, at - snapshot)
            assert flat[f"platform__{name}"][0] == flat[f"platform__{name}"][1]
