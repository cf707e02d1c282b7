"""Benchmark of aggregate views online: materialize (seconds, peak RSS) and SDK lookups (p50, p99).

A view of 16 aggregate features (windows 1 h to 30 d and lifetime) over EVENTS events of ENTITIES entities spread
over the last 30 days; materialize at now (S = now), then ``get_online_features`` for 1 and 100 entities. Each
phase runs in a fresh process (its peak RSS is its own). Redis: a private redis-server when ``redis-server`` is on
PATH (``--url`` to use another), else SQLite.

Run: ``.venv/bin/python bench/aggregates_online.py [--events 10000000] [--entities 10000] [--store redis]``
(prints one JSON object).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import free_port, run_json, server  # noqa: E402

DAY_US = 86_400_000_000
CHUNK = 1_000_000
VIEW_CODE = '''
from featurestore import Aggregation, AggregateView, Entity, Field, ParquetSource
from featurestore.types import Float64, Int64, String

card = Entity(name="card", join_keys=["card_id"])
card_txn = AggregateView(
    name="card_txn", entities=[card],
    source=ParquetSource(path="events", timestamp_field="event_timestamp", created_timestamp_field="created"),
    schema=[Field(name="card_id", dtype=Int64), Field(name="amount", dtype=Float64),
            Field(name="merchant_id", dtype=Int64), Field(name="status", dtype=String)],
    aggregations=[
        Aggregation(function="count", windows=["1h", "1d", "7d", "30d"]),
        Aggregation(column="amount", function="sum", windows=["1d", "7d", "30d"]),
        Aggregation(column="amount", function="mean", windows=["7d"]),
        Aggregation(column="amount", function="max", windows=["1d"]),
        Aggregation(column="amount", function="min", windows=["7d"]),
        Aggregation(column="amount", function="stddev", windows=["30d"]),
        Aggregation(column="merchant_id", function="count_distinct", windows=["7d"]),
        Aggregation(column="merchant_id", function="last"),
        Aggregation(column="amount", function="first", windows=["30d"]),
        Aggregation(column="amount", function="sum", windows=["7d"], where="status = 'declined'",
                    name="declined_amount_7d"),
        Aggregation(function="count", windows=["30d"], where="status = 'declined'", name="declined_30d"),
    ],
)
'''


def cpu_seconds() -> float:
    """CPU time of this process (every thread): steadier than wall time on a busy machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_data(repo: Path, events: int, entities: int, now_us: int) -> None:
    """The events (Parquet files of CHUNK rows) and the repo's definitions."""
    folder = repo / "events"
    marker = repo / f"made-{events}-{entities}"
    if marker.exists() and abs(int(marker.read_text()) - now_us) < DAY_US // 4:
        return  # the same data, recent enough for windows up to 30 days to hold what they should
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(42)
    utc = pa.timestamp("us", tz="UTC")
    for i, lo in enumerate(range(0, events, CHUNK)):
        m = min(CHUNK, events - lo)
        ev = now_us - rng.integers(0, 30 * DAY_US, m)
        table = pa.table({
            "card_id": pa.array(rng.integers(0, entities, m), pa.int64()),
            "event_timestamp": pa.array(ev.astype("datetime64[us]")).cast(utc),
            "created": pa.array((ev + rng.integers(0, 10**6, m)).astype("datetime64[us]")).cast(utc),
            "amount": pa.array(np.round(rng.gamma(2.0, 30.0, m), 2)),
            "merchant_id": pa.array(rng.integers(0, 500, m), pa.int64()),
            "status": pa.array(np.where(rng.random(m) < 0.05, "declined", "ok")),
        })
        pq.write_table(table, folder / f"part-{i:04d}.parquet")
    (repo / "views.py").write_text(VIEW_CODE)
    marker.write_text(str(now_us))


def open_store(repo: Path, online: str) -> Any:
    from featurestore import FeatureStore
    from featurestore.config import parse_config

    cfg = {"type": "sqlite", "path": str(repo / "online.db")} if online == "sqlite" else {"type": "redis",
                                                                                         "url": online}
    return FeatureStore(repo, config=parse_config({"project": "bench", "online_store": cfg}, "bench", env={}))


def phase_materialize(repo: Path, online: str) -> dict[str, Any]:
    from featurestore.utc import now

    store = open_store(repo, online)
    store.apply()
    base = rss_mb()
    t0, c0 = time.perf_counter(), cpu_seconds()
    done = store.materialize(now(), now(), ["card_txn"])
    seconds, cpu = time.perf_counter() - t0, cpu_seconds() - c0
    store.close()
    return {"seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3), "entities": done[0].rows,
            "peak_rss_mb": round(rss_mb(), 1), "rss_before_mb": round(base, 1)}


def phase_lookup(repo: Path, online: str, entities: int, repeat: int) -> dict[str, Any]:
    store = open_store(repo, online)
    features = [f"card_txn:{n}" for n in store.state().aggregate_view("card_txn").feature_names]
    assert len(features) == 16, features
    rng = np.random.default_rng(1)
    out: dict[str, Any] = {}
    client = None
    if online.startswith("redis"):
        import redis

        client = redis.Redis.from_url(online)
    for n in (1, 100):
        before = commandstats(client) if client is not None and n == 1 else None
        times = []
        for _ in range(repeat // max(1, n // 10)):
            rows = {"card_id": [int(x) for x in rng.integers(0, entities, n)]}
            t0 = time.perf_counter()
            store.get_online_features(features, rows)
            times.append(time.perf_counter() - t0)
        if before is not None and client is not None:  # Redis commands per lookup (INFO itself not counted)
            after = commandstats(client)
            calls = {c: after.get(c, 0) - before.get(c, 0) for c in after}
            calls = {c: k for c, k in calls.items() if k and c != "info"}
            out["commands"] = calls
            out["commands_per_lookup"] = round(sum(calls.values()) / len(times), 3)
        out[f"n_{n}"] = len(times)
        times = times[len(times) // 10:]  # warm
        times.sort()
        out[f"p50_ms_{n}"] = round(statistics.median(times) * 1000, 3)
        out[f"p99_ms_{n}"] = round(times[int(len(times) * 0.99) - 1] * 1000, 3)
    # a 1-hour window alone vs a 30-day one alone (1 entity)
    for feature in ("card_txn:count_1h", "card_txn:count_30d"):
        times = []
        for _ in range(repeat):
            rows = {"card_id": [int(rng.integers(0, entities))]}
            t0 = time.perf_counter()
            store.get_online_features([feature], rows)
            times.append(time.perf_counter() - t0)
        out[f"p50_ms_{feature.split(':')[1]}"] = round(statistics.median(times[len(times) // 10:]) * 1000, 3)
    store.close()
    return out


def commandstats(client: Any) -> dict[str, int]:
    """Calls per Redis command so far (``INFO commandstats``)."""
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in client.info("commandstats").items()}


def phase_http(repo: Path, online: str, entities: int) -> dict[str, Any]:
    """``featurestore serve`` on the repo, then a sequential keep-alive client (wrk, else bench/loadgen.py) for
    lookups of 1 entity and the 16 features."""
    import os
    import tempfile

    from bench.run import http_client, loadgen

    store = open_store(repo, online)
    features = [f"card_txn:{n}" for n in store.state().aggregate_view("card_txn").feature_names]
    store.close()
    port = free_port()
    (repo / "featurestore.yaml").write_text(f"project: bench\nonline_store:\n  type: redis\n  url: {online}\n")
    env = dict(os.environ)
    argv = [str(Path(sys.executable).parent / "featurestore"), "serve", "--repo", str(repo), "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning"]
    body = {"features": features, "entities": {"card_id": [entities // 2]}}
    with server(argv, port, env=env) as url, tempfile.TemporaryDirectory() as folder:
        return loadgen(f"{url}/get-online-features", body, 1, Path(folder), True, http_client())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--store", choices=["redis", "sqlite"], default="redis")
    parser.add_argument("--url", default=None)
    parser.add_argument("--repo", default=None)
    parser.add_argument("--repeat", type=int, default=2000)
    parser.add_argument("--phase", default=None)
    parser.add_argument("--http", action="store_true", help="also HTTP lookups through featurestore serve (Redis)")
    args = parser.parse_args()
    repo = Path(args.repo or ROOT / "bench" / "data" / f"agg-online-e{args.entities}-r{args.events}")
    if args.phase == "materialize":
        print(json.dumps(phase_materialize(repo, args.url)))
        return
    if args.phase == "lookup":
        print(json.dumps(phase_lookup(repo, args.url, args.entities, args.repeat)))
        return
    t0 = time.perf_counter()
    make_data(repo, args.events, args.entities, time.time_ns() // 1000)
    result: dict[str, Any] = {"events": args.events, "entities": args.entities, "data_seconds":
                              round(time.perf_counter() - t0, 1)}

    def run(url: str) -> None:
        me = [sys.executable, str(Path(__file__).resolve()), "--repo", str(repo), "--url", url,
              "--entities", str(args.entities), "--repeat", str(args.repeat)]
        result["store"] = "sqlite" if url == "sqlite" else "redis"
        result["materialize"] = run_json([*me, "--phase", "materialize"], timeout=1800)
        result["lookup"] = run_json([*me, "--phase", "lookup"], timeout=1800)
        if args.http and url != "sqlite":
            result["http_1_seq"] = phase_http(repo, url, args.entities)

    if args.store == "sqlite":
        run("sqlite")
    elif args.url:
        run(args.url)
    else:
        port = free_port()
        with server(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"], port) as _:
            run(f"redis://127.0.0.1:{port}/0")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
