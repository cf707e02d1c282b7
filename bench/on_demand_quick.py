"""Quick measurement of on-demand views (not a test): SDK lookup p50 of one entity with and without an
on-demand view, and the offline cost on 100k entity rows.

    .venv/bin/python bench/on_demand_quick.py
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from featurestore import FeatureStore

ROOT = Path(__file__).resolve().parents[1]
ETA3 = '''
import polars as pl
from driver_stats import driver_stats
from trip_pricing import trip

from featurestore import Field, OnDemandFeatureView
from featurestore.types import Bool, Float64

eta3 = OnDemandFeatureView(
    name="eta3", sources=[driver_stats, trip],
    schema=[Field(name="eta3_min", dtype=Float64), Field(name="far", dtype=Bool), Field(name="price", dtype=Float64)],
    expressions={"eta3_min": pl.col("distance_km") / 30.0 * 60.0 * (2.0 - pl.col("acc_rate").fill_null(1.0)),
                 "far": pl.col("distance_km") > 20.0,
                 "price": 2.5 + 1.2 * pl.col("distance_km") * (1.0 + pl.col("conv_rate"))})
'''


def p50_ms(fn: Callable[[], object], n: int = 3000) -> float:
    for _ in range(200):
        fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def best_s(fn: Callable[[], object], n: int = 5) -> float:
    fn()
    return min(_timed(fn) for _ in range(n))


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    repo = Path(tempfile.mkdtemp()) / "repo"
    shutil.copytree(ROOT / "definitions", repo, ignore=shutil.ignore_patterns("data", "__pycache__"))
    (repo / "eta3.py").write_text(ETA3)
    cli = str(Path(sys.executable).parent / "featurestore")
    subprocess.run([cli, "--repo", str(repo), "generate-data"], check=True, capture_output=True)
    subprocess.run([cli, "--repo", str(repo), "apply"], check=True, capture_output=True)
    with FeatureStore(repo) as fs:
        fs.materialize_incremental(datetime.now(UTC))
        plain = ["driver_stats:conv_rate", "driver_stats:acc_rate", "driver_stats:avg_daily_trips"]
        row = [{"driver_id": 1001, "distance_km": 12.0}]
        base = p50_ms(lambda: fs.get_online_features(plain, row))
        eta3 = p50_ms(lambda: fs.get_online_features(["eta3:*"], row))
        fare = p50_ms(lambda: fs.get_online_features(["fare:fare"], row))
        both = p50_ms(lambda: fs.get_online_features([*plain, "eta3:*"], row))
        print(f"online p50, 1 entity (SQLite): plain driver_stats {base:.3f} ms; eta3 (3 expressions) {eta3:.3f} ms "
              f"(+{eta3 - base:.3f}); fare (row function) {fare:.3f} ms (+{fare - base:.3f}); "
              f"driver_stats + eta3 {both:.3f} ms (+{both - base:.3f})")
        n = 100_000
        rng = np.random.default_rng(1)
        now = datetime.now(UTC).timestamp()
        entity = pa.table({
            "driver_id": pa.array(rng.integers(1001, 1050, n), pa.int64()),
            "event_timestamp": pa.array(((now - rng.uniform(0, 6 * 86400, n)) * 1e6).astype("int64"),
                                        pa.timestamp("us", tz="UTC")),
            "distance_km": pa.array(rng.uniform(0, 50, n)),
        })
        t_plain = best_s(lambda: fs.get_historical_features(entity, plain).to_arrow())
        t_eta3 = best_s(lambda: fs.get_historical_features(entity, [*plain, "eta3:*"]).to_arrow())
        t_fare = best_s(lambda: fs.get_historical_features(entity, [*plain, "fare:fare"]).to_arrow())
        print(f"offline, {n:,} entity rows: plain {t_plain * 1000:.0f} ms; + eta3 {t_eta3 * 1000:.0f} ms "
              f"(+{(t_eta3 / t_plain - 1) * 100:.1f} %); + fare {t_fare * 1000:.0f} ms "
              f"(row function ~{n / max(t_fare - t_plain, 1e-9) / 1000:.0f}k rows/s incl. its inputs)")


if __name__ == "__main__":
    main()
