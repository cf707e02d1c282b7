"""Deterministic sample data for the example repo (``definitions/``) and ``featurestore init``.

A small ride-hailing company: 50 drivers, 20 customers, 8 city zones. :func:`write` creates:

- ``data/driver_stats.parquet``: hourly stats per driver, 7 days (8,400 rows; view ``driver_stats``)
- ``data/customer_profile.csv``: a profile per customer per day, 7 days (140 rows; ``customer_profile``)
- ``data/customer_driver.parquet``: a row per trip of a customer with one of their regular
  drivers, 60 days (~450 rows; ``customer_driver``, keyed by both)
- ``data/city.duckdb``, table ``zone_demand``: demand per zone every 15 minutes, 7 days
  (5,376 rows; ``zone_demand``)
- ``data/driver_trips.parquet``: one row per trip a driver finished or had cancelled, 7 days
  (~4,200 rows; ``trip_stats``, a view with a Polars batch transform)
- ``data/txns.parquet``: card transactions of 20 riders' cards, 30 days up to the current minute (~3,000
  rows; the aggregate view ``card_txn``, fed by the push source ``txn_push``), with a created time, some
  amounts null or NaN and some merchants null; the rows earlier demo runs pushed (``data/_push/txn_push`` and
  ``driver_stats_push``) and their offline feature tables (``data/feature_tables``) are removed

Timestamps end at the given ``end`` (default: today, midnight UTC) so that online lookups of the
demo find fresh values; ``zone_demand``, whose view's ttl is one hour, runs up to the current
quarter hour and ``txns`` up to the current minute when no ``end`` is given. The values are seeded:
the same ``end`` gives the same files.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

DRIVERS = list(range(1001, 1051))
CUSTOMERS = list(range(2001, 2021))
ZONES = ["airport", "downtown", "harbor", "midtown", "old_town", "riverside", "stadium", "university"]
REGULARS = 5
"""Drivers each customer rides with; the first regular of customer ``2001 + i`` is driver ``1001 + i``."""

TS = pa.timestamp("us", tz="UTC")
SLOT = timedelta(minutes=15)


def _end(end: datetime | None) -> datetime:
    if end is None:
        now = datetime.now(UTC)
        end = datetime(now.year, now.month, now.day, tzinfo=UTC)
    return end


def _slot_end(end: datetime | None) -> datetime:
    """``end``, or the end of the current quarter hour (so the last 15-minute row is at most 15 min old)."""
    if end is not None:
        return end
    now = datetime.now(UTC)
    return now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0) + SLOT


def regulars(customer: int) -> list[int]:
    """The drivers a customer rides with (deterministic)."""
    i = CUSTOMERS.index(customer)
    return [DRIVERS[(i + 13 * k) % len(DRIVERS)] for k in range(REGULARS)]


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
        "event_timestamp": pa.array(ts, TS),
        "created": pa.array(created, TS),
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
        "event_timestamp": pa.array([r[1] for r in rows], TS),
        "current_balance": pa.array(rng.normal(100, 40, n).round(2), pa.float64()),
        "lifetime_trip_count": pa.array(rng.integers(0, 500, n), pa.int64()),
        "tier": pa.array(rng.choice(["bronze", "silver", "gold"], n)),
    })


def customer_driver(end: datetime | None = None, days: int = 60, seed: int = 3) -> pa.Table:
    """One row per trip of a customer with one of their regular drivers over ``days`` days:
    the trips taken together so far and the average rating the customer gave that driver.

    Every customer's first regular drove them within the last 3 days; other pairs' last trip
    may be older than the view's 30-day ttl."""
    end = _end(end)
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, int, datetime, int, float]] = []
    for customer in CUSTOMERS:
        for k, driver in enumerate(regulars(customer)):
            trips = int(rng.integers(1, 9))
            minutes = rng.integers(1, days * 24 * 60, trips)
            if k == 0:
                minutes[0] = rng.integers(1, 3 * 24 * 60)
            ratings = rng.choice([3, 4, 5], trips, p=[0.1, 0.3, 0.6])
            for n, (m, total) in enumerate(zip(sorted(minutes.tolist(), reverse=True),
                                               np.cumsum(ratings).tolist(), strict=True), start=1):
                rows.append((customer, driver, end - timedelta(minutes=m), n, round(total / n, 2)))
    return pa.table({
        "customer_id": pa.array([r[0] for r in rows], pa.int64()),
        "driver_id": pa.array([r[1] for r in rows], pa.int64()),
        "event_timestamp": pa.array([r[2] for r in rows], TS),
        "trips_together": pa.array([r[3] for r in rows], pa.int64()),
        "avg_rating_given": pa.array([r[4] for r in rows], pa.float64()),
    })


def zone_demand(end: datetime | None = None, days: int = 7, seed: int = 4) -> pa.Table:
    """Demand per city zone every 15 minutes over ``days`` days before ``end`` (default: now)."""
    end = _slot_end(end)
    rng = np.random.default_rng(seed)
    slots = days * 24 * 4
    times = [end - SLOT * (slots - s) for s in range(slots)]
    hour = np.array([t.hour + t.minute / 60 for t in times])
    # two rush hours (8:00 and 18:00), busier zones by a per-zone base
    rush = 1 + 0.8 * np.exp(-((hour - 8) ** 2) / 3) + 1.0 * np.exp(-((hour - 18) ** 2) / 4)
    base = rng.uniform(4, 20, len(ZONES))
    requests = rng.poisson(np.outer(base, rush)).reshape(-1)
    drivers = rng.poisson(np.repeat(base * 1.3, slots)).reshape(-1)
    ratio = requests / np.maximum(drivers, 1)
    surge = np.clip(np.round(0.6 + 0.5 * ratio, 1), 1.0, 3.0)
    wait = np.round(2 + 4 * ratio + rng.exponential(1.5, len(ratio)), 1)
    return pa.table({
        "zone_id": pa.array(np.repeat(ZONES, slots), pa.string()),
        "event_timestamp": pa.array(times * len(ZONES), TS),
        "open_requests": pa.array(requests, pa.int64()),
        "available_drivers": pa.array(drivers, pa.int64()),
        "surge_multiplier": pa.array(surge, pa.float64()),
        "avg_wait_minutes": pa.array(wait, pa.float32()),
    })


def driver_trips(end: datetime | None = None, days: int = 7, seed: int = 5) -> pa.Table:
    """One row per trip of each driver over ``days`` days before ``end`` (about one every two hours):
    its distance, duration and status (``done`` or ``cancelled``, a cancelled trip has no distance)."""
    end = _end(end)
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, datetime, float, float, str]] = []
    for driver in DRIVERS:
        minutes = np.sort(rng.integers(1, days * 24 * 60, days * 12))[::-1]
        for m in minutes.tolist():
            cancelled = bool(rng.random() < 0.1)
            km = 0.0 if cancelled else round(float(rng.gamma(2.0, 4.0)) + 0.5, 1)
            duration = round(float(rng.uniform(3, 8)) if cancelled else km / float(rng.uniform(15, 45)) * 60, 1)
            rows.append((driver, end - timedelta(minutes=m), km, duration, "cancelled" if cancelled else "done"))
    return pa.table({
        "driver_id": pa.array([r[0] for r in rows], pa.int64()),
        "event_timestamp": pa.array([r[1] for r in rows], TS),
        "km": pa.array([r[2] for r in rows], pa.float64()),
        "minutes": pa.array([r[3] for r in rows], pa.float64()),
        "status": pa.array([r[4] for r in rows], pa.string()),
    })


CARDS = list(range(3001, 3021))
"""The riders' payment cards (entity ``card``)."""
MERCHANTS = [f"m{i:02d}" for i in range(25)]


def _minute_end(end: datetime | None) -> datetime:
    """``end``, or the current minute (so that recent windows of the demo's lookups hold transactions)."""
    if end is not None:
        return end
    return datetime.now(UTC).replace(second=0, microsecond=0)


def txns(end: datetime | None = None, days: int = 30, seed: int = 6) -> pa.Table:
    """Card transactions over ``days`` days before ``end`` (default: the current minute), about 5 a day per
    card, busier cards more; each created up to 90 s after it (never after ``end``). Amounts are sometimes
    null or NaN and merchants null (aggregations skip them); about 1 in 12 is declined."""
    end = _minute_end(end)
    rng = np.random.default_rng(seed)
    span = days * 24 * 3600
    counts = rng.poisson(days * rng.uniform(2, 8, len(CARDS)))
    cards = np.repeat(np.array(CARDS, dtype=np.int64), counts)
    n = len(cards)
    ago = np.concatenate([np.sort(rng.integers(1, span, c))[::-1] for c in counts])  # per card, oldest first
    end_us = int(end.timestamp()) * 1_000_000 + end.microsecond
    at = end_us - ago * 1_000_000
    created = np.minimum(at + rng.integers(0, 91, n) * 1_000_000, end_us)
    kind = rng.random(n)
    amount = np.where(kind < 0.03, np.nan, np.round(rng.gamma(2.0, 18.0, n), 2))
    regular = np.array([rng.choice(len(MERCHANTS), 4, replace=False) for _ in CARDS])[np.repeat(
        np.arange(len(CARDS)), counts), rng.integers(0, 4, n)]
    merchant = np.where(rng.random(n) < 0.7, regular, rng.integers(0, len(MERCHANTS), n))
    return pa.table({
        "card_id": pa.array(cards),
        "event_timestamp": pa.array(at, pa.int64()).cast(TS),
        "created": pa.array(created, pa.int64()).cast(TS),
        "amount": pa.array(amount, pa.float64(), mask=kind < 0.02),  # null, NaN (1 %), or an amount
        "merchant_id": pa.array(np.array(MERCHANTS, dtype=object)[merchant], pa.string(), mask=rng.random(n) < 0.03),
        "status": pa.array(np.where(rng.random(n) < 0.08, "declined", "approved"), pa.string()),
    })


def card_frame(end: datetime | None = None, rows: int = 6, seed: int = 7) -> pa.Table:
    """A small entity frame of the card-fraud model: cards at times in the last 3 days, and a label."""
    end = _minute_end(end)
    rng = np.random.default_rng(seed)
    return pa.table({
        "card_id": pa.array(rng.choice(CARDS, rows), pa.int64()),
        "event_timestamp": pa.array([end - timedelta(minutes=int(m)) for m in rng.integers(1, 3 * 24 * 60, rows)],
                                    TS),
        "is_fraud": pa.array(rng.integers(0, 2, rows), pa.int64()),
    })


def write_duckdb_table(path: Path, name: str, table: pa.Table) -> None:
    """Replace the DuckDB file ``path`` by one holding ``table`` as table ``name`` (atomically)."""
    import duckdb

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    with duckdb.connect(str(tmp)) as con:
        con.register("arrow_rows", table)
        con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM arrow_rows')
    os.replace(tmp, path)


def write_driver_stats(repo: Path, end: datetime | None = None) -> Path:
    """Write ``repo/data/driver_stats.parquet`` only (what ``featurestore init``'s template reads)."""
    data = Path(repo) / "data"
    data.mkdir(parents=True, exist_ok=True)
    stats = data / "driver_stats.parquet"
    pq.write_table(driver_stats(end), stats)
    return stats


def write(repo: Path, end: datetime | None = None) -> list[Path]:
    """Write the sample files into ``repo/data``; returns their paths."""
    stats = write_driver_stats(repo, end)
    data = stats.parent
    profile = data / "customer_profile.csv"
    pacsv.write_csv(customer_profile(end), profile)
    pairs = data / "customer_driver.parquet"
    pq.write_table(customer_driver(end), pairs)
    city = data / "city.duckdb"
    write_duckdb_table(city, "zone_demand", zone_demand(end))
    trips = data / "driver_trips.parquet"
    pq.write_table(driver_trips(end), trips)
    transactions = data / "txns.parquet"
    pq.write_table(txns(end), transactions)
    for push in ("txn_push", "driver_stats_push"):  # rows pushed by an earlier demo run
        shutil.rmtree(data / "_push" / push, ignore_errors=True)
    shutil.rmtree(data / "feature_tables", ignore_errors=True)  # an earlier run's tables of the data replaced here
    return [stats, profile, pairs, city, trips, transactions]


def entity_frame(end: datetime | None = None, rows: int = 10, seed: int = 2) -> pa.Table:
    """A small entity frame for the demo's training set: a trip request (customer, driver offered,
    pickup zone, time) and its label, whether the trip was completed.

    Most requests go to one of the customer's regular drivers."""
    end = _end(end)
    rng = np.random.default_rng(seed)
    offsets = rng.integers(1, 6 * 24 * 60, rows)
    customers = rng.choice(CUSTOMERS, rows)
    drivers = [int(rng.choice(regulars(int(c)))) if rng.random() < 0.8 else int(rng.choice(DRIVERS))
               for c in customers]
    return pa.table({
        "driver_id": pa.array(drivers, pa.int64()),
        "customer_id": pa.array(customers, pa.int64()),
        "zone_id": pa.array(rng.choice(ZONES, rows), pa.string()),
        "event_timestamp": pa.array([end - timedelta(minutes=int(m)) for m in offsets], TS),
        "trip_completed": pa.array(rng.integers(0, 2, rows), pa.int64()),
    })
