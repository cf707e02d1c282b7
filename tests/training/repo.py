"""A repo for training-set tests: a view over a folder of Parquet files with a created column, a CSV view without
one, a service; helpers to append new and late rows."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from featurestore import CsvSource, Entity, FeatureService, FeatureStore, FeatureView, Field, ParquetSource
from featurestore.types import Float64, Int64

BASE = datetime(2026, 3, 1, tzinfo=UTC)
NOW = BASE + timedelta(days=3)
CUTOFF = BASE + timedelta(days=1)
driver = Entity(name="driver", join_keys=["driver_id"])
_files = itertools.count()


def stats(ttl_hours: int = 48) -> FeatureView:
    return FeatureView(name="stats", entities=[driver], ttl=timedelta(hours=ttl_hours),
                       schema=[Field(name="conv", dtype=Float64), Field(name="trips", dtype=Int64)],
                       source=ParquetSource(path="data/stats", timestamp_field="ts", created_timestamp_field="created"))


profile = FeatureView(name="profile", entities=[driver], schema=[Field(name="age", dtype=Int64)],
                      source=CsvSource(path="data/profile.csv", timestamp_field="ts"))


def rows(folder: Path, data: list[tuple[int, datetime, float, int, datetime]], name: str | None = None) -> Path:
    """Write ``(driver, ts, conv, trips, created)`` rows as a new file of the stats folder."""
    path = folder / "data" / "stats" / (name or f"part-{next(_files):04d}.parquet")
    pq.write_table(pa.table({"driver_id": [r[0] for r in data],
                             "ts": pa.array([r[1] for r in data], pa.timestamp("us", "UTC")),
                             "conv": [r[2] for r in data], "trips": [r[3] for r in data],
                             "created": pa.array([r[4] for r in data], pa.timestamp("us", "UTC"))}), path)
    return path


def make_store(folder: Path, **config: object) -> FeatureStore:
    (folder / "data" / "stats").mkdir(parents=True)
    (folder / "featurestore.yaml").write_text(yaml.safe_dump({"project": "ts", **config}))
    h = timedelta(hours=1)
    rows(folder, [(d, BASE + i * h, 0.1 * i + d, i, BASE + i * h) for d in (1, 2, 3) for i in range(20)],
         "part-base.parquet")
    (folder / "data" / "profile.csv").write_text(
        "driver_id,ts,age\n" + "".join(f"{d},{(BASE + h * d).isoformat()},{30 + d}\n" for d in (1, 2, 3)))
    store = FeatureStore(folder, clock=lambda: NOW)
    store.apply([driver, stats(), profile, FeatureService(name="ranking", features=[stats(), profile])])
    return store


def entities(n: int = 30) -> pa.Table:
    h = timedelta(hours=1)
    return pa.table({"driver_id": [1 + i % 3 for i in range(n)],
                     "event_timestamp": pa.array([BASE + (i % 24) * h + h / 2 for i in range(n)],
                                                 pa.timestamp("us", "UTC"))})
