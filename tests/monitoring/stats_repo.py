"""A small feature repo for the statistics and drift tests: one view over a Parquet file whose rows come in two
time ranges (a reference month and a current month, the current shifted or not), a service logging it, and
helpers writing a feature log in the documented layout."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from featurestore import FeatureStore

REF_START = datetime(2026, 10, 1, tzinfo=UTC)
REF_END = datetime(2026, 10, 31, 23, 59, tzinfo=UTC)
CUR_START = datetime(2026, 11, 1, tzinfo=UTC)
CUR_END = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
CITIES = ["ams", "ber", "par", "rom"]

DEFINITIONS = '''
from datetime import timedelta
from featurestore import Entity, FeatureService, FeatureView, Field, LoggingConfig, ParquetSource
from featurestore.types import Bool, Float64, Int64, String

rider = Entity(name="rider", join_keys=["rider_id"])
rider_stats = FeatureView(
    name="rider_stats", entities=[rider], ttl=timedelta(days=400),
    schema=[Field(name="score", dtype=Float64), Field(name="trips", dtype=Int64), Field(name="city", dtype=String),
            Field(name="vip", dtype=Bool)],
    source=ParquetSource(path="data/riders.parquet", timestamp_field="event_timestamp"),
)
ranking = FeatureService(name="ranking", features=[rider_stats], logging=LoggingConfig(sample_rate=1.0))
'''


def rows(n: int, start: datetime, seed: int, shift: float = 0.0) -> pa.Table:
    """``n`` rows in the month from ``start``: score ~ N(shift, 1), trips ~ Poisson(5), city, vip."""
    rng = np.random.default_rng(seed)
    us = int(start.timestamp() * 1e6) + rng.integers(0, 29 * 86400 * 10**6, n)
    score = rng.normal(shift, 1.0, n)
    return pa.table({
        "rider_id": pa.array(rng.integers(0, 500, n), pa.int64()),
        "event_timestamp": pa.array(us, pa.timestamp("us", tz="UTC")),
        "score": pa.array(score),
        "trips": pa.array(rng.poisson(5, n), pa.int64()),
        "city": pa.array(rng.choice(CITIES, n, p=[0.4, 0.3, 0.2, 0.1])),
        "vip": pa.array(rng.random(n) < 0.2),
    })


def make_repo(root: Path, reference: pa.Table, current: pa.Table) -> FeatureStore:
    """A repo at ``root`` whose source holds ``reference`` then ``current``; applied."""
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "featurestore.yaml").write_text(
        "project: stats\nregistry: data/registry.json\nonline_store:\n  type: sqlite\n  path: data/online.db\n"
        "offline_store:\n  type: duckdb\n")
    (root / "repo.py").write_text(DEFINITIONS)
    pq.write_table(pa.concat_tables([reference, current]), root / "data" / "riders.parquet")
    store = FeatureStore(root)
    store.apply()
    return store


def write_log(store: FeatureStore, table: pa.Table, at: datetime, service: str = "ranking",
              projection: str = "rider_stats") -> Path:
    """Append ``table``'s rows (columns rider_id + features) to the service's feature log, as served at ``at``
    (one request per row), in the layout of featurestore/monitoring/log_files.py."""
    folder = store.data_dir / "logs" / service
    folder.mkdir(parents=True, exist_ok=True)
    n = table.num_rows
    cols: dict[str, pa.Array] = {
        "__request_id": pa.array([uuid.uuid4().hex for _ in range(n)]),
        "__log_timestamp": pa.array([at + timedelta(microseconds=i) for i in range(n)], pa.timestamp("us", tz="UTC")),
        "rider_id": table.column("rider_id").combine_chunks(),
    }
    for f in ("score", "trips", "city", "vip"):
        values = table.column(f).combine_chunks()
        cols[f"{projection}__{f}"] = values
        cols[f"{projection}__{f}__status"] = pa.array(["PRESENT" if v else "NOT_FOUND" for v in values.is_valid()])
    cols[f"{projection}__event_timestamp"] = table.column("event_timestamp").combine_chunks()
    path = folder / f"part-{at.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}.parquet"
    pq.write_table(pa.table(cols), path)
    return path
