"""A repo of card transactions fed by a push source, for the push and online-equals-offline tests.

Two aggregate views read the push source ``txn_push`` (``card_txn`` exact, ``card_txn_5m`` with a 5-minute
resolution) and a plain feature view (``card_last``) reads it too. :class:`Clock` is the injected clock.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from featurestore import FeatureStore
from featurestore.utc import epoch_us, from_epoch_us

TS = pa.timestamp("us", tz="UTC")
MINUTE = 60_000_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
S = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
"""The snapshot time of the tests' materialize."""
HORIZON = 6 * HOUR
DEFS = '''\
from featurestore import AggregateView, Aggregation, Entity, FeatureView, Field, ParquetSource, PushSource
from featurestore.types import Float64, Int64, String

card = Entity(name="card", join_keys=["card_id"])
txn_push = PushSource(name="txn_push", batch_source=ParquetSource(
    path="data/txns.parquet", timestamp_field="event_timestamp", created_timestamp_field="created"))
SCHEMA = [Field(name="card_id", dtype=Int64), Field(name="amount", dtype=Float64), Field(name="qty", dtype=Int64),
          Field(name="merchant_id", dtype=String)]
AGGREGATIONS = [
    Aggregation(function="count", windows=["10m", "1h", "1d"]),
    Aggregation(column="amount", function="sum", windows=["1h", "1d"]),
    Aggregation(column="qty", function="sum", windows=["1d"]),
    Aggregation(column="amount", function="mean", windows=["1d"]),
    Aggregation(column="amount", function="min", windows=["1h"]),
    Aggregation(column="qty", function="max", windows=["1d"]),
    Aggregation(column="amount", function="stddev", windows=["1d"]),
    Aggregation(column="merchant_id", function="count_distinct", windows=["1h", "1d"]),
    Aggregation(column="merchant_id", function="last"),
    Aggregation(column="merchant_id", function="first", windows=["1h"]),
    Aggregation(column="amount", function="count"),
    Aggregation(column="amount", function="sum", windows=["1d"], where="status = 'declined'",
                name="declined_amount_1d"),
]
card_txn = AggregateView(name="card_txn", entities=[card], source=txn_push, schema=SCHEMA,
                         aggregations=AGGREGATIONS, serving_horizon="6h")
card_txn_5m = AggregateView(name="card_txn_5m", entities=[card], source=txn_push, schema=SCHEMA,
                            aggregations=AGGREGATIONS[:3] + AGGREGATIONS[7:9], serving_horizon="6h",
                            resolution="5m")
card_last = FeatureView(name="card_last", entities=[card], source=txn_push,
                        schema=[Field(name="card_id", dtype=Int64), Field(name="amount", dtype=Float64)])
'''
SCHEMA = pa.schema([("card_id", pa.int64()), ("event_timestamp", TS), ("created", TS), ("amount", pa.float64()),
                    ("qty", pa.int64()), ("merchant_id", pa.string()), ("status", pa.string())])
STATUSES = ["ok", "declined", None]


class Clock:
    """An injected clock: returns :attr:`at` (set it to move time)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def set_us(self, us: int) -> None:
        self.at = from_epoch_us(us)


@dataclass
class Repo:
    path: Path
    config: dict[str, Any]

    def store(self, clock: Clock) -> FeatureStore:
        return FeatureStore(self.path, clock=clock)


def make_repo(folder: Path, online: dict[str, Any], batch: pa.Table | None = None) -> Repo:
    """Write the repo into ``folder`` (the online store ``online``), its batch rows (default: none), and apply."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {"project": "cards", "online_store": online, "offline_store": {"type": "duckdb"}}
    (folder / "featurestore.yaml").write_text(yaml.safe_dump(config))
    (folder / "cards.py").write_text(DEFS)
    (folder / "data").mkdir(exist_ok=True)
    pq.write_table(batch if batch is not None else SCHEMA.empty_table(), folder / "data" / "txns.parquet")
    FeatureStore(folder, clock=Clock(S)).apply()
    return Repo(folder, config)


def sqlite_online(folder: Path) -> dict[str, Any]:
    return {"type": "sqlite", "path": str(folder / "online.db")}


def amount(rng: random.Random) -> float | None:
    r = rng.random()
    if r < 0.08:
        return None
    if r < 0.14:
        return math.nan
    return round(rng.uniform(-20, 300), 2)


def rows(rng: random.Random, cards: list[int], times_us: list[int], created_us: list[int] | None = None) -> pa.Table:
    """Random transactions at ``times_us`` (µs) of random cards (nulls and NaN included)."""
    n = len(times_us)
    data: dict[str, Any] = {
        "card_id": pa.array([rng.choice(cards) for _ in range(n)], pa.int64()),
        "event_timestamp": pa.array(times_us, pa.int64()).cast(TS),
        "amount": pa.array([amount(rng) for _ in range(n)], pa.float64()),
        "qty": pa.array([None if rng.random() < 0.1 else rng.randint(-3, 9) for _ in range(n)], pa.int64()),
        "merchant_id": pa.array([None if rng.random() < 0.1 else f"m{rng.randint(0, 6)}" for _ in range(n)]),
        "status": pa.array([rng.choice(STATUSES) for _ in range(n)], pa.string()),
    }
    if created_us is not None:
        data["created"] = pa.array(created_us, pa.int64()).cast(TS)
    return pa.table(data)


def batch(rng: random.Random, cards: list[int], n: int, before_us: int, span_us: int) -> pa.Table:
    """``n`` batch rows in ``[before - span, before)`` on whole minutes (ties are common), created after their
    event but before ``before``."""
    times = [before_us - rng.randint(1, span_us // MINUTE) * MINUTE for _ in range(n)]
    created = [min(t + rng.choice([0, MINUTE, 10 * MINUTE]), before_us - 1) for t in times]
    return rows(rng, cards, times, created).select(SCHEMA.names)


def us(t: datetime | timedelta) -> int:
    return epoch_us(t) if isinstance(t, datetime) else t // timedelta(microseconds=1)
