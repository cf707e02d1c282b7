"""The featurestore side of the benchmark, one workload per fresh process: ``python -m bench.fs_workload``.

Mirrors ``bench/feast_workload.py`` command for command, so the runner treats both alike; each
command prints one JSON object on its last line of stdout. DATA is a folder made by ``bench.data``
(it is also the featurestore repo).

- ``training-set DATA [--parquet] [--warm] [--view stats]``: ``get_historical_features`` of ``stats:f0..f9``
  (ttl 7 days) for the entity frame read from ``entity.parquet`` into Arrow (timed from the call to the Arrow
  table; ``--parquet``: the entity file's path in, ``to_parquet`` out, streamed). ``--warm``: then time the
  same call again in the same process (``warm_seconds``; the peak RSS is taken before it). ``--view stats_tx``:
  the same features plus ``f01`` through the view's Polars batch transform; the process and its store are
  fresh, so the first call runs the transform (what a user sees the first time), the warm one reuses its file.
- ``materialize DATA --redis-url URL [--view stats_live]``: materialize the whole range into Redis.
- ``lookup DATA --redis-url URL --entities N``: ``get_online_features`` of ``stats_live:f0..f9``.
- ``online-ttl DATA --redis-url URL``: materialize ``stats`` (ttl 7 days; all its rows are older) and count
  the values a lookup of 100 drivers still serves (a ttl enforced online serves none).
- ``serve DATA --redis-url URL --port P``: ``featurestore serve`` in the foreground (replaces this process).
- Floors: ``raw-asof DATA`` (DuckDB's ASOF join alone: no ttl, no tie-break, no input order),
  ``raw-mget DATA --redis-url URL --entities N`` (redis-py ``MGET`` of the same keys, decoding nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FEATURES = [f"f{i}" for i in range(10)]
TRAINING_FEATURES = {"stats_tx": [*FEATURES, "f01"]}
"""The features a training set of a view asks for, when not f0..f9 (the transformed view: its derived one too)."""
ON_DEMAND = {"expr": "od_expr", "py": "od_py"}
"""``--on-demand``: the on-demand view asked for beside the view's features (``*_live`` for lookups)."""


def distances(n: int, seed: int = 7) -> list[float]:
    """The request field ``distance_km`` of the on-demand views: seeded, 0-50 km."""
    import numpy as np

    return [float(x) for x in np.random.default_rng(seed).uniform(0, 50, n)]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {"p50_ms": ordered[len(ordered) // 2] * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, "n": len(ordered)}


def timed_calls(call: Any, batches: list[Any], iterations: int, warmup: int) -> dict[str, float]:
    for i in range(warmup):
        call(batches[i % len(batches)])
    times = []
    for i in range(iterations):
        batch = batches[i % len(batches)]
        t0 = time.perf_counter()
        call(batch)
        times.append(time.perf_counter() - t0)
    return percentiles(times)


def id_batches(data: Path, size: int, count: int = 200) -> list[list[int]]:
    """``count`` batches of ``size`` consecutive existing driver ids, each batch a different slice."""
    entities = int(json.loads((data / "meta.json").read_text())["entities"])
    step = max(1, (entities - size) // count)
    return [list(range(i * step % entities, i * step % entities + size)) for i in range(count)
            if i * step % entities + size <= entities]


def store_for(data: Path, redis_url: str | None = None) -> Any:
    from featurestore import FeatureStore
    from featurestore.config import parse_config

    online = {"type": "redis", "url": redis_url} if redis_url else {"type": "sqlite", "path": str(data / "online.db")}
    config = parse_config({"project": "bench", "online_store": online}, "bench", env={})
    store = FeatureStore(data, config=config)
    store.apply()
    return store


def training_set(args: argparse.Namespace) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    store = store_for(args.data)
    view = args.view or "stats"
    refs = [f"{view}:{f}" for f in TRAINING_FEATURES.get(view, FEATURES)]
    entity = pq.read_table(args.data / "entity.parquet")
    if args.on_demand:  # the on-demand view's outputs too; its request field is a column of the entity frame
        refs.append(f"{ON_DEMAND[args.on_demand]}:*")
        entity = entity.append_column("distance_km", pa.array(distances(entity.num_rows), pa.float64()))
    if args.parquet:
        out = Path(args.data) / "train.parquet"
        t0 = time.perf_counter()
        store.get_historical_features(str(args.data / "entity.parquet"), refs).to_parquet(out)
        seconds = time.perf_counter() - t0
        rows = pq.ParquetFile(out).metadata.num_rows
        order_kept = pq.read_table(out, columns=["driver_id"]).column(0).equals(entity.column("driver_id"))
    else:
        t0 = time.perf_counter()
        table = store.get_historical_features(entity, refs).to_arrow()
        seconds = time.perf_counter() - t0
        rows = table.num_rows
        order_kept = table.select(["driver_id", "event_timestamp"]).equals(
            entity.select(["driver_id", "event_timestamp"]))
    result: dict[str, Any] = {"seconds": seconds, "rows": rows, "rows_in": entity.num_rows, "order_kept": order_kept,
                              "peak_rss_mb": peak_rss_mb(), "view": view, "features": len(refs),
                              "on_demand": args.on_demand}
    if args.warm and not args.parquet:
        del table
        t0 = time.perf_counter()
        store.get_historical_features(entity, refs).to_arrow()
        result["warm_seconds"] = time.perf_counter() - t0
    return result


def raw_asof(args: argparse.Namespace) -> dict[str, Any]:
    import duckdb
    import pyarrow.parquet as pq

    con = duckdb.connect()
    entity = pq.read_table(args.data / "entity.parquet")
    con.register("entity", entity)
    t0 = time.perf_counter()
    table = con.sql(f"SELECT e.*, {', '.join('s.' + f for f in FEATURES)} FROM entity e ASOF LEFT JOIN "
                    f"read_parquet('{args.data / 'source.parquet'}') s ON e.driver_id = s.driver_id "
                    "AND e.event_timestamp >= s.event_timestamp").to_arrow_table()
    return {"seconds": time.perf_counter() - t0, "rows": table.num_rows, "peak_rss_mb": peak_rss_mb()}


def materialize(args: argparse.Namespace) -> dict[str, Any]:
    store = store_for(args.data, args.redis_url)
    t0 = time.perf_counter()
    (result,) = store.materialize(datetime(2025, 12, 31, tzinfo=UTC), datetime.now(UTC),
                                  feature_views=[args.view or "stats_live"])
    return {"seconds": time.perf_counter() - t0, "entities": result.rows, "peak_rss_mb": peak_rss_mb()}


def lookup(args: argparse.Namespace) -> dict[str, Any]:
    store = store_for(args.data, args.redis_url)
    refs = [f"stats_live:{f}" for f in FEATURES]
    batches: list[dict[str, list[Any]]] = [{"driver_id": ids} for ids in id_batches(args.data, args.entities)]
    first = "f0"
    if args.on_demand:  # the on-demand view alone (it reads every feature of stats_live), with its request field
        view = f"{ON_DEMAND[args.on_demand]}_live"
        refs = [f"{view}:*"]
        batches = [{**b, "distance_km": distances(len(b["driver_id"]), i)} for i, b in enumerate(batches)]
        first = "eta" if args.on_demand == "expr" else "score"
    check = store.get_online_features(refs, batches[0])
    if set(check.statuses[first]) != {"PRESENT"}:
        raise SystemExit(f"lookup found no values: {check.statuses[first][:5]} (materialize first)")
    return timed_calls(lambda rows: store.get_online_features(refs, rows), batches, args.iterations, args.warmup)


def online_ttl(args: argparse.Namespace) -> dict[str, Any]:
    """Materialize ``stats`` (ttl 7 days, every row older than that) and count the values a lookup still serves."""
    store = store_for(args.data, args.redis_url)
    store.materialize(datetime(2025, 12, 31, tzinfo=UTC), datetime.now(UTC), feature_views=["stats"])
    values = store.get_online_features(["stats:f0"], {"driver_id": list(range(100))}).to_dict()["f0"]
    return {"asked": len(values), "values_served": sum(v is not None for v in values)}


def raw_mget(args: argparse.Namespace) -> dict[str, Any]:
    import redis

    client = redis.Redis.from_url(args.redis_url)
    batches = [[f"fs:bench:stats_live:{{driver_id={i}}}" for i in ids] for ids in id_batches(args.data, args.entities)]
    if not all(client.mget(batches[0])):
        raise SystemExit("raw MGET found no values (materialize first)")
    return timed_calls(client.mget, batches, args.iterations, args.warmup)


def serve(args: argparse.Namespace) -> dict[str, Any]:
    store_for(args.data, args.redis_url).close()  # applied, so the server finds the views
    env = {**os.environ, "FEATURESTORE_ONLINE_STORE": "redis", "FEATURESTORE_REDIS_URL": args.redis_url,
           "FEATURESTORE_PROJECT": "bench"}
    script = str(Path(sys.executable).parent / "featurestore")
    os.execve(script, [script, "serve", "--repo", str(args.data), "--host", "127.0.0.1", "--port", str(args.port),
                       "--log-level", "warning"], env)
    raise AssertionError("unreachable")


COMMANDS = {"training-set": training_set, "raw-asof": raw_asof, "materialize": materialize, "lookup": lookup,
            "raw-mget": raw_mget, "serve": serve, "online-ttl": online_ttl}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.fs_workload")
    p.add_argument("command", choices=sorted(COMMANDS))
    p.add_argument("data", type=Path)
    p.add_argument("--redis-url", default="")
    p.add_argument("--view", default=None, help="training-set: stats (default) or stats_tx; materialize: "
                   "stats_live (default)")
    p.add_argument("--on-demand", choices=sorted(ON_DEMAND), default=None,
                   help="training-set and lookup: also (lookup: only) an on-demand view: expr (3 Polars "
                   "expressions) or py (a Python row function), with the request field distance_km")
    p.add_argument("--parquet", action="store_true")
    p.add_argument("--warm", action="store_true", help="training-set: time a second call too")
    p.add_argument("--entities", type=int, default=1)
    p.add_argument("--iterations", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--port", type=int, default=6566)
    args = p.parse_args(argv)
    args.data = args.data.resolve()
    print(json.dumps(COMMANDS[args.command](args)))


if __name__ == "__main__":
    main()
