"""Benchmark of issue 16 (Redis Cluster): lookups of 1 and 100 entities and materialize, on a local 3-master Redis
Cluster beside one standalone redis-server, same repo, same rows.

The repo: one feature view of 10 Float64 features keyed by ``driver_id`` over ``--entities`` entities (one row
each, one Parquet file). For each store (a private ``redis-server``, then a local cluster of three
``redis-server --cluster-enabled yes`` started as the tests start it, ``tests/redis_cluster.py``, no replicas,
all on loopback): ``materialize`` of every row (rows/s, best of ``--repeat`` into an emptied store), then
``get_online_features`` of 1 entity and of 100 random entities through the SDK (``--lookups`` each, p50 and p99
in ms), then the same reads at the store level (``OnlineStore.read``: key building, the MGETs, decoding) and
through ``read_async`` (what the HTTP server awaits).

Run: ``.venv/bin/python -m bench.cluster`` (prints one JSON line), or ``BENCH_SECTIONS=cluster .venv/bin/python -m
bench.run`` (``BENCH_CLUSTER_ENTITIES``, ``BENCH_CLUSTER_LOOKUPS``) to re-measure only this section.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FEATURES = 10
T = datetime(2026, 6, 1, 12, tzinfo=UTC)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def write_repo(folder: Path, entities: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)
    ages = rng.integers(0, 86_400_000_000, entities).astype("timedelta64[us]")
    ev = np.datetime64(T.replace(tzinfo=None), "us") - ages
    cols: dict[str, Any] = {"driver_id": np.arange(entities, dtype=np.int64),
                            "event_timestamp": pa.array(ev, pa.timestamp("us", tz="UTC"))}
    cols.update({f"f{i}": rng.random(entities) for i in range(FEATURES)})
    (folder / "src").mkdir(parents=True)
    pq.write_table(pa.table(cols), folder / "src" / "part-0.parquet")


def definitions() -> list[Any]:
    from featurestore import Entity, FeatureView, Field, ParquetSource
    from featurestore.types import Float64

    driver = Entity(name="driver", join_keys=["driver_id"])
    view = FeatureView(name="stats", entities=[driver], ttl=None, source=ParquetSource(path="src"),
                       schema=[Field(name=f"f{i}", dtype=Float64) for i in range(FEATURES)])
    return [driver, view]


def measure(repo: Path, online: dict[str, Any], entities: int, lookups: int, repeat: int) -> dict[str, Any]:
    from featurestore import FeatureStore
    from featurestore.config import parse_config
    from featurestore.online.lookup import spec_of

    cfg = parse_config({"project": "bench", "online_store": online}, "bench", env={})
    store = FeatureStore(repo, config=cfg)
    store.apply(definitions())
    rates = []
    for _ in range(repeat):
        store.teardown()
        started = time.perf_counter()
        store.materialize(T - timedelta(days=2), T)
        rates.append(entities / (time.perf_counter() - started))
    features = [f"stats:f{i}" for i in range(FEATURES)]
    rng = random.Random(1)
    out: dict[str, Any] = {"materialize_rows_per_s": max(rates)}
    spec = spec_of(store.state().feature_view("stats"), store.state())
    for n in (1, 100):
        batches = [[{"driver_id": rng.randrange(entities)} for _ in range(n)] for _ in range(lookups)]
        for rows in batches[:50]:
            store.get_online_features(features, rows)
        times = []
        for rows in batches:
            started = time.perf_counter()
            store.get_online_features(features, rows)
            times.append((time.perf_counter() - started) * 1000)
        keys = [[(r["driver_id"],) for r in rows] for rows in batches]
        raw = []
        for k in keys:
            started = time.perf_counter()
            store.online.read([(spec, k)])
            raw.append((time.perf_counter() - started) * 1000)
        out[f"lookup_{n}"] = {"p50_ms": statistics.median(times), "p99_ms": percentile(times, 99),
                              "store_read_p50_ms": statistics.median(raw),
                              "store_read_async_p50_ms": asyncio.run(_async_reads(store.online, spec, keys)),
                              "n": len(times)}
    got = store.get_online_features(features, [{"driver_id": 3}]).to_dict()
    assert got["f0"][0] is not None, "the materialized rows must be readable"
    store.close()
    return out


async def _async_reads(online: Any, spec: Any, keys: list[list[tuple[int]]]) -> float:
    """The p50 of ``read_async`` (what the HTTP server awaits) over ``keys``, one at a time, on one event loop."""
    for k in keys[:50]:
        await online.read_async([(spec, k)])
    times = []
    for k in keys:
        started = time.perf_counter()
        await online.read_async([(spec, k)])
        times.append((time.perf_counter() - started) * 1000)
    await online.aclose()
    return statistics.median(times)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entities", type=int, default=200_000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    from tests.conftest import start_redis
    from tests.redis_cluster import cluster_tools, start_cluster

    result: dict[str, Any] = {"entities": args.entities, "features": FEATURES, "lookups": args.lookups}
    with tempfile.TemporaryDirectory(prefix="fs-bench-cluster-") as tmp:
        repo = Path(tmp) / "repo"
        write_repo(repo, args.entities)
        (repo / "featurestore.yaml").write_text("project: bench\n")
        standalone = start_redis(Path(tmp) / "redis")
        try:
            result["standalone"] = measure(repo, {"type": "redis", "url": standalone.url}, args.entities,
                                           args.lookups, args.repeat)
        finally:
            standalone.stop()
        if cluster_tools() is None:
            result["cluster"] = {"error": "redis-server and redis-cli are needed for a local cluster"}
        else:
            cluster = start_cluster(Path(tmp) / "cluster")
            try:
                result["cluster"] = measure(repo, {"type": "redis", "cluster": True, "url": cluster.url},
                                            args.entities, args.lookups, args.repeat)
            finally:
                cluster.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
