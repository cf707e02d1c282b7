"""Online benchmarks: materialize into Redis, throughput at 1M entities, SDK lookup latency.

Starts its own redis-server (loopback, no persistence). Each materialization runs in a
fresh process sampling its RSS every 20 ms, so "flat memory" is visible as the
difference between the RSS after the first batch and the peak.
`python -m bench.online`.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path

from bench.data import make

MATERIALIZE = r'''
import json, sys, threading, time, psutil
from datetime import datetime, timezone
from featurestore import FeatureStore
from featurestore.config import parse_config
repo, url, view, limit = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
proc = psutil.Process()
samples = []
stop = threading.Event()
def sample():
    while not stop.is_set():
        samples.append(proc.memory_info().rss / 2**20)
        time.sleep(0.02)
offline = {"memory_limit": limit} if limit else {}
store = FeatureStore(repo, config=parse_config({"project": "bench", "online_store": {"type": "redis", "url": url},
                                                "offline_store": offline}, "bench", env={}))
store.apply()
store.online.teardown()
first = {}
def progress(p):
    if p.rows and "rss" not in first:
        first["rss"] = proc.memory_info().rss / 2**20
threading.Thread(target=sample, daemon=True).start()
t0 = time.perf_counter()
res = store.materialize(datetime(2020, 1, 1), datetime.now(timezone.utc), feature_views=[view], progress=progress)
elapsed = time.perf_counter() - t0
stop.set()
print(json.dumps({"seconds": elapsed, "entities": res[0].rows, "rss_first_batch_mb": first.get("rss", 0),
                  "peak_rss_mb": max(samples)}))
'''


def materialize(repo: Path, url: str, view: str, memory_limit: str = "") -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", MATERIALIZE, str(repo), url, view, memory_limit],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _timed(fn, n: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    for _ in range(min(200, n)):
        fn()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def lookups(repo: Path, online: dict[str, object], n: int = 3000) -> list[tuple[str, float, float]]:
    from datetime import datetime

    import redis

    from featurestore import FeatureStore
    from featurestore.config import parse_config

    store = FeatureStore(repo, config=parse_config({"project": "bench", "online_store": online}, "bench", env={}))
    store.apply()
    if online["type"] == "sqlite":
        store.materialize(datetime(2020, 1, 1), datetime.now(UTC), feature_views=["stats_live"])
    feats = [f"stats_live:f{i}" for i in range(10)]
    one = [{"driver_id": 17}]
    hundred = {"driver_id": list(range(1000, 1100))}
    rows = [(f"{online['type']}: 1 entity x 10 features", *_timed(lambda: store.get_online_features(feats, one), n)),
            (f"{online['type']}: 100 entities x 10 features",
             *_timed(lambda: store.get_online_features(feats, hundred), n))]
    if online["type"] == "redis":
        client = redis.Redis.from_url(str(online["url"]))
        keys = [f"fs:bench:stats_live:driver_id={i}" for i in range(1000, 1100)]
        assert all(client.mget(keys))
        rows.append(("redis: raw MGET of 100 keys (redis-py)", *_timed(lambda: client.mget(keys), n)))
        rows.append(("redis: raw GET of 1 key (redis-py)", *_timed(lambda: client.get(keys[0]), n)))
    store.close()
    return rows


def main() -> None:
    from tests.conftest import start_redis

    base = make(1)
    big = make(10)
    wide = make(1, entities=1_000_000, rows=1_000_000, entity_rows=1000)
    with tempfile.TemporaryDirectory() as tmp:
        server = start_redis(Path(tmp) / "redis")
        try:
            print(f"{'materialize into Redis':<48} {'seconds':>8} {'entities':>9} {'entities/s':>11} "
                  f"{'RSS@batch1':>10} {'peak RSS':>9}")
            for label, repo, limit in [("1M rows -> 10k entities", base, ""),
                                       ("10M rows -> 100k entities", big, ""),
                                       ("10M rows -> 100k entities, memory_limit 256MB", big, "256MB"),
                                       ("1M rows -> 1M entities", wide, "")]:
                r = min((materialize(repo, server.url, "stats_live", limit) for _ in range(3 if repo is base else 1)),
                        key=lambda r: r["seconds"])
                print(f"{label:<48} {r['seconds']:>8.3f} {r['entities']:>9.0f} "
                      f"{r['entities'] / r['seconds']:>11,.0f} {r['rss_first_batch_mb']:>8.0f}MB "
                      f"{r['peak_rss_mb']:>7.0f}MB", flush=True)
            materialize(base, server.url, "stats_live")
            print(f"\n{'SDK lookup (loopback)':<44} {'p50 ms':>8} {'p99 ms':>8}")
            for online in ({"type": "redis", "url": server.url}, {"type": "sqlite", "path": f"{tmp}/online.db"}):
                for label, p50, p99 in lookups(base, online):
                    print(f"{label:<44} {p50:>8.3f} {p99:>8.3f}", flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
