"""A small repo with on-demand views (Polars expressions and a Python row function) over randomized data,
and a brute-force reference of the training set / lookup they must give.

Data at time ``T`` (the test's start): per driver, rows within the views' ttl, rows only older than the
ttl (``OUTSIDE_MAX_AGE`` online), no rows (``NOT_FOUND``), rows after ``T`` (never read), nulls in every
feature, Float32 speeds incl. 0.0.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from featurestore import FeatureStore
from featurestore.config import load_config

DEFS = '''\
"""On-demand views over two driver views and the trip's distance."""

from datetime import timedelta

import polars as pl

from featurestore import (Entity, FeatureService, FeatureView, Field, OnDemandFeatureView, ParquetSource,
                          RequestSource, on_demand_feature_view)
from featurestore.types import Bool, Float32, Float64, Int64, String

driver = Entity(name="driver", join_keys=["driver_id"])
stats = FeatureView(name="stats", entities=[driver], ttl=timedelta(days=1),
                    schema=[Field(name="driver_id", dtype=Int64), Field(name="speed", dtype=Float32),
                            Field(name="rate", dtype=Float64), Field(name="trips", dtype=Int64),
                            Field(name="tier", dtype=String)],
                    source=ParquetSource(path="data/stats.parquet", timestamp_field="event_timestamp"))
extra = FeatureView(name="extra", entities=[driver], ttl=timedelta(hours=6),
                    schema=[Field(name="driver_id", dtype=Int64), Field(name="bonus", dtype=Float64),
                            Field(name="label", dtype=String)],
                    source=ParquetSource(path="data/extra.parquet", timestamp_field="event_timestamp"))
trip = RequestSource(name="trip", schema=[Field(name="distance_km", dtype=Float64)])

pol = OnDemandFeatureView(
    name="pol", sources=[stats, trip],
    schema=[Field(name="eta_min", dtype=Float64), Field(name="long_trip", dtype=Bool),
            Field(name="score", dtype=Float64)],
    expressions={"eta_min": pl.col("distance_km") / pl.col("speed") * 60.0,
                 "long_trip": pl.col("distance_km") > 20.0,
                 "score": pl.col("rate").fill_null(0.5) * pl.col("trips") + pl.col("distance_km").fill_null(0.0)})


@on_demand_feature_view(sources=[stats, extra, trip],
                        schema=[Field(name="fare", dtype=Float64), Field(name="fast", dtype=Bool),
                                Field(name="tag", dtype=String)])
def py(row: dict) -> dict:
    rate, km, speed, bonus = row["rate"], row["distance_km"], row["speed"], row["bonus"]
    fare = None if rate is None or km is None else 2.5 + 1.2 * km * (1.0 + rate) + (bonus or 0.0)
    return {"fare": fare, "fast": None if speed is None else speed > 40.0,
            "tag": (row["tier"] or "none") + ("-long" if km is not None and km > 20 else "")}


quote = FeatureService(name="quote", features=[pol, py[["fare"]], stats[["rate"]]])
'''

STATS_TTL = timedelta(days=1)
EXTRA_TTL = timedelta(hours=6)
MARGIN = timedelta(minutes=30)
"""Rows are never closer than this to a ttl boundary: the lookup runs a little after ``T``."""


def py_reference(row: dict[str, Any]) -> dict[str, Any]:
    """The row function of ``py``, written again in plain Python."""
    rate, km, speed, bonus = row["rate"], row["distance_km"], row["speed"], row["bonus"]
    fare = None if rate is None or km is None else 2.5 + 1.2 * km * (1.0 + rate) + (bonus if bonus is not None
                                                                                    else 0.0)
    fast = None if speed is None else speed > 40.0
    tag = (row["tier"] if row["tier"] else "none") + ("-long" if km is not None and km > 20 else "")
    return {"fare": fare, "fast": fast, "tag": tag}


@dataclass
class Data:
    t: datetime
    stats: list[dict[str, Any]]
    extra: list[dict[str, Any]]
    entity_rows: list[dict[str, Any]]
    """``driver_id`` and ``distance_km`` per entity row (offline: event_timestamp ``t`` too)."""


def _f32(x: float) -> float:
    return float(np.float32(x))


def _rows(rng: random.Random, t: datetime, ttl: timedelta, make: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for driver in range(1, 31):
        case = rng.choice(["none", "old", "fresh", "fresh", "fresh"])
        times: list[datetime] = []
        if case == "old":
            times = [t - ttl - MARGIN - timedelta(minutes=rng.randrange(1, 3000)) for _ in range(rng.randint(1, 2))]
        elif case == "fresh":
            span = int((ttl - 2 * MARGIN).total_seconds() // 60)
            times = [t - MARGIN - timedelta(minutes=rng.randrange(0, span))]
            times += [t - ttl - MARGIN - timedelta(minutes=rng.randrange(1, 3000)) for _ in range(rng.randint(0, 2))]
        if case != "none" and rng.random() < 0.3:
            times.append(t + timedelta(minutes=rng.randrange(1, 600)))  # after T: never read
        for ts in sorted(set(times)):
            out.append({"driver_id": driver, "event_timestamp": ts, **make(rng)})
    return out


def make_data(seed: int, t: datetime) -> Data:
    rng = random.Random(seed)

    def maybe(v: Any) -> Any:
        return None if rng.random() < 0.15 else v

    stats = _rows(rng, t, STATS_TTL, lambda r: {
        "speed": maybe(_f32(r.choice([0.0, 35.5, 40.0, r.uniform(-5, 90)]))),
        "rate": maybe(r.choice([0.0, 1.0, r.random()])),
        "trips": maybe(r.choice([0, 1, r.randrange(-3, 500)])),
        "tier": maybe(r.choice(["", "gold", "silver"])),
    })
    extra = _rows(rng, t, EXTRA_TTL, lambda r: {"bonus": maybe(r.uniform(0, 5)), "label": maybe("x")})
    entity_rows = [{"driver_id": rng.choice([*range(1, 31), 77, 78]),
                    "distance_km": rng.choice([None, 0.0, 5.5, 20.0, 25.0, round(rng.uniform(0, 60), 3)])}
                   for _ in range(60)]
    return Data(t, stats, extra, entity_rows)


STATS_SCHEMA = pa.schema([("driver_id", pa.int64()), ("event_timestamp", pa.timestamp("us", tz="UTC")),
                          ("speed", pa.float32()), ("rate", pa.float64()), ("trips", pa.int64()),
                          ("tier", pa.string())])
EXTRA_SCHEMA = pa.schema([("driver_id", pa.int64()), ("event_timestamp", pa.timestamp("us", tz="UTC")),
                          ("bonus", pa.float64()), ("label", pa.string())])


def make_repo(folder: Path, data: Data, project: str, defs: str = DEFS) -> Path:
    (folder / "data").mkdir(parents=True)
    (folder / "featurestore.yaml").write_text(
        f"project: {project}\nregistry: data/registry.json\nonline_store:\n  type: sqlite\n  path: data/online.db\n"
        "offline_store:\n  type: duckdb\n  threads: 1\nserver:\n  registry_poll_seconds: 0.5\n")
    (folder / "defs.py").write_text(defs)
    pq.write_table(pa.Table.from_pylist(data.stats, STATS_SCHEMA), folder / "data" / "stats.parquet")
    pq.write_table(pa.Table.from_pylist(data.extra, EXTRA_SCHEMA), folder / "data" / "extra.parquet")
    with FeatureStore(folder) as fs:
        fs.apply()
    return folder


def open_store(repo: Path, redis_url: str | None) -> FeatureStore:
    if redis_url is None:
        return FeatureStore(repo)
    return FeatureStore(repo, config=load_config(repo, env={"FEATURESTORE_REDIS_URL": redis_url}))


def now_t() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def latest(rows: list[dict[str, Any]], driver: int, t: datetime, ttl: timedelta) -> tuple[str, dict[str, Any] | None,
                                                                                             datetime | None]:
    """The brute-force lookup of one view at ``t``: status, the row (None unless PRESENT), its event time."""
    found = [r for r in rows if r["driver_id"] == driver and r["event_timestamp"] <= t]
    if not found:
        return "NOT_FOUND", None, None
    row = max(found, key=lambda r: r["event_timestamp"])
    if row["event_timestamp"] < t - ttl:
        return "OUTSIDE_MAX_AGE", None, row["event_timestamp"]
    return "PRESENT", row, row["event_timestamp"]


RANK = {"PRESENT": 0, "OUTSIDE_MAX_AGE": 1, "NOT_FOUND": 2}


def reference_py(data: Data) -> list[dict[str, Any]]:
    """Per entity row: the outputs of ``py``, its status and event time, computed by brute force."""
    out = []
    for e in data.entity_rows:
        s_status, s_row, s_ts = latest(data.stats, e["driver_id"], data.t, STATS_TTL)
        x_status, x_row, x_ts = latest(data.extra, e["driver_id"], data.t, EXTRA_TTL)
        row = {"speed": None, "rate": None, "trips": None, "tier": None, "bonus": None, "label": None,
               **{k: v for k, v in (s_row or {}).items() if k not in ("driver_id", "event_timestamp")},
               **{k: v for k, v in (x_row or {}).items() if k not in ("driver_id", "event_timestamp")},
               "distance_km": e["distance_km"]}
        status = max(s_status, x_status, key=RANK.__getitem__)
        stamps = [s for s in (s_ts, x_ts) if s is not None]
        out.append({**py_reference(row), "status": status, "ts": max(stamps) if stamps else None})
    return out


def same(a: Any, b: Any) -> bool:
    """Equal values, NaN equal to NaN (and Feast JSON's "NaN"/"Infinity" strings equal to the floats)."""
    if isinstance(a, str) and a in ("NaN", "Infinity", "-Infinity") and isinstance(b, float):
        a = float(a.replace("Infinity", "inf"))
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    return type(a) is type(b) and a == b
