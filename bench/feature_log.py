"""Benchmark of feature logging on the HTTP path: p50/p99 of a sequential 1-entity lookup of a feature service
with ``logging=LoggingConfig(sample_rate=1.0)`` against the same service without logging.

One ``featurestore serve`` process over a private redis-server serves both services (a view of 3 features,
``DRIVERS`` drivers materialized); the runs alternate (plain, logged, plain, logged, ...) so machine noise hits
both alike; each run is a keep-alive client (wrk, else bench/loadgen.py) for ``BENCH_HTTP_SECONDS`` (default 5).
The answer of each run must hold values (all PRESENT). Target: logged p50 <= 1.05 x plain p50.

Run: ``.venv/bin/python bench/feature_log.py [--runs 10]`` (prints a table, then one JSON object).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import free_port, server  # noqa: E402

DRIVERS = 10_000
DEFINITIONS = '''
from featurestore import Entity, FeatureService, FeatureView, Field, LoggingConfig, ParquetSource
from featurestore.types import Float32, Float64, Int64

driver = Entity(name="driver", join_keys=["driver_id"])
stats = FeatureView(name="stats", entities=[driver], source=ParquetSource(path="data/stats.parquet"),
                    schema=[Field(name="conv_rate", dtype=Float32), Field(name="acc_rate", dtype=Float64),
                            Field(name="trips", dtype=Int64)])
plain = FeatureService(name="plain", features=[stats])
logged = FeatureService(name="logged", features=[stats], logging=LoggingConfig(sample_rate=1.0))
'''


def make_repo(folder: Path, redis_url: str) -> Path:
    """The bench repo, applied and materialized into ``redis_url``."""
    from featurestore import FeatureStore

    (folder / "data").mkdir(parents=True)
    (folder / "featurestore.yaml").write_text(f"project: logbench\nonline_store:\n  type: redis\n  url: {redis_url}\n")
    (folder / "defs.py").write_text(DEFINITIONS)
    now = datetime.now(UTC)
    pq.write_table(pa.table({
        "driver_id": pa.array(range(DRIVERS), pa.int64()),
        "event_timestamp": pa.array([now - timedelta(minutes=i % 600) for i in range(DRIVERS)],
                                    pa.timestamp("us", tz="UTC")),
        "conv_rate": pa.array([(i % 100) / 100 for i in range(DRIVERS)], pa.float32()),
        "acc_rate": pa.array([(i % 37) / 37 for i in range(DRIVERS)], pa.float64()),
        "trips": pa.array([i % 50 for i in range(DRIVERS)], pa.int64()),
    }), folder / "data" / "stats.parquet")
    with FeatureStore(folder) as store:
        store.apply()
        store.materialize(now - timedelta(days=1), now)
    return folder


def measure(runs: int) -> dict[str, Any]:
    from bench.run import http_client, loadgen

    client = http_client()
    redis_port = free_port()
    with server(["redis-server", "--port", str(redis_port), "--save", "", "--appendonly", "no"], redis_port), \
            tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(Path(tmp) / "repo", f"redis://127.0.0.1:{redis_port}/0")
        port = free_port()
        argv = [str(Path(sys.executable).parent / "featurestore"), "serve", "--repo", str(repo), "--host",
                "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}
        results: dict[str, list[dict[str, Any]]] = {"plain": [], "logged": []}
        with server(argv, port, env=env) as url:
            for i in range(runs * 2):
                service = ("plain", "logged")[i % 2]
                body = {"feature_service": service, "entities": {"driver_id": [1234]}}
                folder = Path(tmp) / f"run{i}"
                folder.mkdir()
                got = loadgen(f"{url}/get-online-features", body, 1, folder, True, client)
                if "error" in got:
                    return {"error": f"{service}: {got['error']}"}
                results[service].append(got)
        files = (repo / "data" / "logs" / "logged").glob("part-*.parquet")
        logged_rows = sum(pq.read_metadata(f).num_rows for f in files)
    out: dict[str, Any] = {"client": client, "runs": runs}
    for service, got in results.items():
        out[service] = {"p50_ms": statistics.median(r["p50_ms"] for r in got),
                        "p99_ms": statistics.median(r["p99_ms"] for r in got),
                        "rps": statistics.median(r["rps"] for r in got),
                        "requests": sum(r.get("requests", 0) for r in got),
                        "p50_ms_runs": [round(r["p50_ms"], 4) for r in got],
                        "p99_ms_runs": [round(r["p99_ms"], 4) for r in got], "rps_runs": [round(r["rps"]) for r in got]}
    out["logged_rows"] = logged_rows
    out["p50_overhead_pct"] = round(100 * (out["logged"]["p50_ms"] / out["plain"]["p50_ms"] - 1), 2)
    out["p99_overhead_pct"] = round(100 * (out["logged"]["p99_ms"] / out["plain"]["p99_ms"] - 1), 2)
    out["target_met"] = out["p50_overhead_pct"] <= 5.0
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs per service (alternated)")
    args = parser.parse_args(argv)
    result = measure(args.runs)
    if "error" in result:
        print(f"feature-log bench failed: {result['error']}")
    else:
        print(f"HTTP lookup, 1 entity, sequential ({result['client']}, median of {args.runs} alternated runs each)")
        print(f"{'service':<10} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
        for service in ("plain", "logged"):
            r = result[service]
            print(f"{service:<10} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f} {r['rps']:>8.0f}")
        print(f"p50 overhead {result['p50_overhead_pct']:+.2f} % (target <= 5 %), "
              f"p99 {result['p99_overhead_pct']:+.2f} %; rows logged {result['logged_rows']}")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
