"""A small repo for the feature-logging and consistency tests: one feature view fed by a push source (Float32,
Int64, String features, a created column, a ttl), an on-demand view over it, an aggregate view, and a service
logging all of them; random source rows with created times at or before their event times plus a lag."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

T0 = datetime(2026, 3, 1, tzinfo=UTC)
MODULE = '''
from datetime import timedelta

import polars as pl

from featurestore import (AggregateView, Aggregation, Entity, FeatureService, FeatureView, Field, LoggingConfig,
                          OnDemandFeatureView, ParquetSource, PushSource, RequestSource)
from featurestore.types import Float32, Float64, Int64, String

driver = Entity(name="driver", join_keys=["driver_id"])
stats_push = PushSource(name="stats_push", batch_source=ParquetSource(path="data/stats.parquet",
                                                                      created_timestamp_field="created"))
stats = FeatureView(name="stats", entities=[driver], ttl=timedelta(hours=6), source=stats_push,
                    schema=[Field(name="rate", dtype=Float32), Field(name="trips", dtype=Int64),
                            Field(name="city", dtype=String)])
trips = AggregateView(name="trips", entities=[driver],
                      source=ParquetSource(path="data/trips.parquet", created_timestamp_field="created"),
                      aggregations=[Aggregation(function="count", windows=["1d"]),
                                    Aggregation(column="fare", function="sum", windows=["1d"])])
quote = RequestSource(name="quote", schema=[Field(name="km", dtype=Float64)])
priced = OnDemandFeatureView(name="priced", sources=[stats, quote], schema=[Field(name="scaled", dtype=Float64)],
                             expressions={"scaled": pl.col("rate").cast(pl.Float64) * pl.col("km")})


logged = FeatureService(name="logged", features=[stats, trips, priced], logging=LoggingConfig(sample_rate=1.0))
plain = FeatureService(name="plain", features=[stats])
rated = FeatureService(name="rated", features=[stats[["rate", "trips"]]], logging=LoggingConfig(sample_rate=1.0))
half = FeatureService(name="half", features=[stats[["rate"]]], logging=LoggingConfig(sample_rate=0.5))
'''


def stats_rows(rng: random.Random, drivers: list[int], n: int, hours: int = 48, t0: datetime = T0) -> pa.Table:
    ev = [t0 + timedelta(minutes=rng.randrange(hours * 60)) for _ in range(n)]
    return pa.table({
        "driver_id": pa.array([rng.choice(drivers) for _ in range(n)], pa.int64()),
        "event_timestamp": pa.array(ev, pa.timestamp("us", tz="UTC")),
        "created": pa.array([e + timedelta(minutes=rng.randrange(0, 30)) for e in ev], pa.timestamp("us", tz="UTC")),
        "rate": pa.array([rng.random() for _ in range(n)], pa.float32()),
        "trips": pa.array([rng.randrange(100) for _ in range(n)], pa.int64()),
        "city": pa.array([rng.choice(["ams", "ber", "par", None]) for _ in range(n)], pa.string()),
    })


def trip_rows(rng: random.Random, drivers: list[int], n: int, hours: int = 48, t0: datetime = T0) -> pa.Table:
    ev = [t0 + timedelta(minutes=rng.randrange(hours * 60)) for _ in range(n)]
    return pa.table({
        "driver_id": pa.array([rng.choice(drivers) for _ in range(n)], pa.int64()),
        "event_timestamp": pa.array(ev, pa.timestamp("us", tz="UTC")),
        "created": pa.array([e + timedelta(minutes=rng.randrange(0, 10)) for e in ev], pa.timestamp("us", tz="UTC")),
        "fare": pa.array([round(rng.uniform(5, 50), 2) for _ in range(n)], pa.float64()),
    })


def make_repo(folder: Path, seed: int, online: dict[str, Any] | None = None, drivers: int = 20,
              t0: datetime = T0) -> Path:
    """The repo in ``folder``: source rows over the 48 hours from ``t0``."""
    rng = random.Random(seed)
    folder.mkdir(parents=True)
    (folder / "data").mkdir()
    config = "project: logtest\n"
    if online:
        config += "online_store: {" + ", ".join(f"{k}: {v!r}" for k, v in online.items()) + "}\n"
    (folder / "featurestore.yaml").write_text(config)
    (folder / "defs.py").write_text(MODULE)
    ids = list(range(1, drivers + 1))
    pq.write_table(stats_rows(rng, ids, 400, t0=t0), folder / "data" / "stats.parquet")
    pq.write_table(trip_rows(rng, ids, 600, t0=t0), folder / "data" / "trips.parquet")
    return folder


class Clock:
    """A settable clock for ``FeatureStore(clock=...)``."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
