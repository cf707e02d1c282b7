"""Deterministic sample data for the example repo (``definitions/``) and ``featurestore init``.

Timestamps end at the given day (default: today, midnight UTC) so that online
lookups of the demo find fresh values; the values depend only on the seed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

DRIVERS = list(range(1001, 1051))
CUSTOMERS = list(range(2001, 2021))


def _end(end: datetime | None) -> datetime:
    if end is None:
        now = datetime.now(UTC)
        end = datetime(now.year, now.month, now.day, tzinfo=UTC)
    return end


def driver_stats(end: datetime | None = None, days: int = 7, seed: int = 0) -> pa.Table:
    """Hourly stats per driver over ``days`` days before ``end``."""
    end = _end(end)
    rng = np.random.default_rng(seed)
    hours = days * 24
    ids = np.repeat(np.array(DRIVERS, dtype=np.int64), hours)
    ts = [end - timedelta(hours=hours - h) for _ in DRIVERS for h in range(hours)]
    n = len(ids)
    created = [t + timedelta(minutes=int(m)) for t, m in zip(ts, rng.integers(1, 30, n), strict=True)]
    return pa.table({
        "driver_id": ids,
        "event_timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "created": pa.array(created, pa.timestamp("us", tz="UTC")),
        "conv_rate": pa.array(rng.random(n).round(4), pa.float32()),
        "acc_rate": pa.array(rng.random(n).round(4), pa.float32()),
        "avg_daily_trips": pa.array(rng.integers(0, 40, n), pa.int64()),
    })


def customer_profile(end: datetime | None = None, days: int = 7, seed: int = 1) -> pa.Table:
    """One profile row per customer per day."""
    end = _end(end)
    rng = np.random.default_rng(seed)
    rows = [(c, end - timedelta(days=days - d)) for c in CUSTOMERS for d in range(days)]
    n = len(rows)
    return pa.table({
        "customer_id": pa.array([r[0] for r in rows], pa.int64()),
        "event_timestamp": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
        "current_balance": pa.array(rng.normal(100, 40, n).round(2), pa.float64()),
        "lifetime_trip_count": pa.array(rng.integers(0, 500, n), pa.int64()),
        "tier": pa.array(rng.choice(["bronze", "silver", "gold"], n)),
    })


def write(repo: Path, end: datetime | None = None) -> list[Path]:
    """Write the sample files into ``repo/data``; returns their paths."""
    data = Path(repo) / "data"
    data.mkdir(parents=True, exist_ok=True)
    stats = data / "driver_stats.parquet"
    pq.write_table(driver_stats(end), stats)
    profile = data / "customer_profile.csv"
    pacsv.write_csv(customer_profile(end), profile)
    return [stats, profile]


def entity_frame(end: datetime | None = None, rows: int = 10, seed: int = 2) -> pa.Table:
    """A small entity frame (driver, customer, time, label) for the demo's training set."""
    end = _end(end)
    rng = np.random.default_rng(seed)
    offsets = rng.integers(1, 6 * 24 * 60, rows)
    return pa.table({
        "driver_id": pa.array(rng.choice(DRIVERS, rows), pa.int64()),
        "customer_id": pa.array(rng.choice(CUSTOMERS, rows), pa.int64()),
        "event_timestamp": pa.array([end - timedelta(minutes=int(m)) for m in offsets], pa.timestamp("us", tz="UTC")),
        "trip_completed": pa.array(rng.integers(0, 2, rows), pa.int64()),
    })
