"""Benchmark of the Spark offline engine: the training set of ``stats:f0..f9`` at 1x and 10x (bench/data.py) on
``local[N]`` beside the DuckDB engine, with the answers compared.

Per scale and engine: seconds of the first call (Spark: session start included, reported apart) and of a warm
call, rows/s (source rows + entity rows per second) and per-row costs (core-microseconds per source row and per
entity row, from the warm call: seconds x cores / rows), plus whether Spark's table equals DuckDB's. From the
per-row cost, ``estimate`` gives the cores (and 8-core workers) for 1B source rows (and 100M entity rows) in 10
minutes, assuming Spark's per-row cost holds on a cluster (no skew, shuffle over the network not measured here).

Run: ``.venv/bin/python -m bench.spark [--scales 1,10] [--master local[2]]`` (one JSON line), or
``BENCH_SECTIONS=spark .venv/bin/python -m bench.run`` (``BENCH_SPARK_SCALES``). Without Java or pyspark it prints
``{"skipped": reason}`` and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import data as bench_data  # noqa: E402

REFS = [f"stats:f{i}" for i in range(10)]
TARGET_SOURCE_ROWS, TARGET_ENTITY_ROWS, TARGET_SECONDS = 10**9, 10**8, 600


def _store(repo: Path, offline: dict[str, Any]) -> Any:
    from featurestore import FeatureStore
    from featurestore.config import parse_config
    from featurestore.offline.factory import open_offline_store

    config = parse_config({"project": "bench", "offline_store": offline,
                           "online_store": {"type": "sqlite", "path": str(repo / "online.db")}}, "bench", env={})
    store = FeatureStore(repo, config=config, offline=open_offline_store(config.offline_store, repo))
    store.apply()
    return store


def _timed(store: Any, entity: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    table = store.get_historical_features(entity, REFS).to_arrow()
    return time.perf_counter() - t0, table


def measure(scale: int, sizes: bench_data.Sizes, master: str, cores: int) -> dict[str, Any]:
    import pyarrow.parquet as pq

    repo = bench_data.make(sizes, scale)
    scaled = sizes.times(scale)
    entity = pq.read_table(repo / "entity.parquet")
    out: dict[str, Any] = {"source_rows": scaled.rows, "entity_rows": scaled.entity_rows, "master": master}
    duck = _store(repo, {"type": "duckdb", "threads": cores})
    first, want = _timed(duck, entity)
    warm, _ = _timed(duck, entity)
    out["duckdb"] = {"first_seconds": first, "warm_seconds": warm}
    spark = _store(repo, {"type": "spark", "master": master})
    first, got = _timed(spark, entity)
    warm, got = _timed(spark, entity)
    out["spark"] = {"first_seconds": first, "warm_seconds": warm,
                    "buckets": spark.offline.buckets}
    out["spark_equals_duckdb"] = _equal(want, got)
    rows = scaled.rows + scaled.entity_rows
    for engine in ("duckdb", "spark"):
        found = out[engine]
        found["rows_per_s"] = rows / found["warm_seconds"]
        found["core_us_per_row"] = found["warm_seconds"] * cores * 1e6 / rows
    duck.close()
    spark.close()
    return out


def _equal(a: Any, b: Any) -> bool:
    """Exact equality with NaN equal to NaN (the bench's features have no NaN; nulls must match)."""
    return bool(a.schema == b.schema and a.equals(b))


def estimate(per_row_us: float) -> dict[str, Any]:
    """Cores (and 8-core workers) for 1B source rows + 100M entity rows in 10 minutes at ``per_row_us``."""
    rows = TARGET_SOURCE_ROWS + TARGET_ENTITY_ROWS
    cores = rows * per_row_us / 1e6 / TARGET_SECONDS
    return {"source_rows": TARGET_SOURCE_ROWS, "entity_rows": TARGET_ENTITY_ROWS, "minutes": TARGET_SECONDS / 60,
            "core_us_per_row": per_row_us, "cores": round(cores, 1), "workers_8_cores": int(-(-cores // 8))}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--scales", default="1,10")
    p.add_argument("--master", default="local[2]")
    args = p.parse_args(argv)
    cores = 2 if args.master == "local" else int(args.master.removeprefix("local[").rstrip("]") or 1)
    try:
        import pyspark  # noqa: F401

        from featurestore.config import SparkOfflineConfig
        from featurestore.errors import ConfigError
        from featurestore.offline.spark.session import open_session

        t0 = time.perf_counter()
        open_session(SparkOfflineConfig(type="spark", master=args.master))
        started = time.perf_counter() - t0
    except (ImportError, ConfigError) as err:
        print(json.dumps({"skipped": f"Spark cannot start: {err}"}))
        return
    sizes = bench_data.Sizes.from_env()
    result: dict[str, Any] = {"cores": cores, "session_start_seconds": started, "scales": {}}
    for scale in [int(s) for s in args.scales.split(",") if s]:
        result["scales"][str(scale)] = measure(scale, sizes, args.master, cores)
    largest = result["scales"][max(result["scales"], key=int)]
    result["estimate"] = estimate(largest["spark"]["core_us_per_row"])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
