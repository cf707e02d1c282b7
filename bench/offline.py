"""Training-set benchmark: get_historical_features over 1M source rows x 100k entity rows (and 10x).

Each measurement runs in a fresh process so peak RSS (ru_maxrss) is its own.
Prints a table; `python -m bench.offline [--scales 1 10]`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from bench.data import make

CASE = r'''
import json, resource, sys, time
import pyarrow.parquet as pq
repo, mode = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
if mode == "featurestore":
    from featurestore import FeatureStore
    store = FeatureStore(repo)
    store.apply()
    entity = pq.read_table(f"{repo}/entity.parquet")
    t0 = time.perf_counter()
    out = store.get_historical_features(entity, [f"stats:f{i}" for i in range(10)]).to_arrow()
elif mode == "featurestore-parquet":
    from featurestore import FeatureStore
    store = FeatureStore(repo)
    store.apply()
    t0 = time.perf_counter()
    store.get_historical_features(f"{repo}/entity.parquet", [f"stats:f{i}" for i in range(10)]).to_parquet(
        f"{repo}/train.parquet")
    out = pq.ParquetFile(f"{repo}/train.parquet").metadata
else:
    import duckdb
    con = duckdb.connect()
    entity = pq.read_table(f"{repo}/entity.parquet")
    t0 = time.perf_counter()
    out = con.sql("SELECT e.*, " + ", ".join(f"s.f{i}" for i in range(10)) +
        f" FROM entity e ASOF LEFT JOIN read_parquet('{repo}/source.parquet') s "
        "ON e.driver_id = s.driver_id AND e.event_timestamp >= s.event_timestamp").to_arrow_table()
elapsed = time.perf_counter() - t0
print(json.dumps({"seconds": elapsed, "rows": out.num_rows,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
'''

MODES = {
    "featurestore": "get_historical_features(...).to_arrow()",
    "featurestore-parquet": "Parquet entity path -> to_parquet (streamed)",
    "duckdb-raw-asof": "raw DuckDB ASOF join (no ttl, no tie-break)",
}


def measure(repo: str, mode: str, repeat: int) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", CASE, repo, mode], capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = min(runs, key=lambda r: r["seconds"])
    best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    return best


def main(argv: list[str] | None = None) -> list[dict[str, object]]:
    p = argparse.ArgumentParser()
    p.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    rows = []
    print(f"{'scale':<6} {'case':<22} {'seconds':>8} {'peak RSS MB':>12} {'rows':>10}  what")
    for scale in args.scales:
        repo = str(make(scale))
        for mode, what in MODES.items():
            r = measure(repo, mode, args.repeat if scale == 1 else 1)
            rows.append({"scale": scale, "case": mode, **r})
            print(f"x{scale:<5} {mode:<22} {r['seconds']:>8.3f} {r['peak_rss_mb']:>12.0f} {r['rows']:>10}  {what}",
                  flush=True)
    return rows


if __name__ == "__main__":
    main()
