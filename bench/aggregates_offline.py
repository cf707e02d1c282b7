"""Training sets with an aggregate view, against a DuckDB self-join with a time range written by hand.

``python -m bench.aggregates_offline [--rows N] [--entity-rows N] [--only NAME ...]``: generates the data once
(``bench/data/agg-<shape>/``: seeded ``events.parquet``, ``entity.parquet``, a featurestore repo), then runs each
workload in a fresh process (seconds from the call to the Arrow table; peak RSS of that process, from
``resource.getrusage``) and prints one JSON object per workload and a summary table.

Shapes (the issue's): ``1m`` 100k entity rows over 1M events; ``10m`` 1M entity rows over 10M events; ``skew``
like ``1m`` but one card holds half of the events and half of the entity rows. Events: 10k cards (100k for
10m) uniform over 30 days, ``amount`` float64, ``created`` 0-1 s after the event. The view: count, sum, mean and
max of ``amount`` over 1 h, 1 d and 7 d (12 features).

Workloads: ``featurestore`` (``get_historical_features``), ``by-hand`` (``JOIN ... ON key AND ts BETWEEN``
then ``GROUP BY`` the entity row: what a user writes without aggregate views; skipped on ``skew``, where it is
quadratic: pass ``--by-hand-skew`` to try it), ``featurestore-created`` (the same with ``as_of_created=True``).
Not part of ``make bench`` (yet).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).parent / "data"
SPAN_US = 30 * 86_400 * 10**6
BASE_US = 1_767_225_600 * 10**6  # 2026-01-01 UTC
FUNCTIONS = ("count", "sum", "mean", "max")
WINDOWS = ("1h", "1d", "7d")
WINDOW_US = {"1h": 3_600 * 10**6, "1d": 86_400 * 10**6, "7d": 7 * 86_400 * 10**6}
SHAPES = {"1m": (1_000_000, 100_000, 10_000, False), "10m": (10_000_000, 1_000_000, 100_000, False),
          "skew": (1_000_000, 100_000, 10_000, True), "tiny": (20_000, 2_000, 200, False)}
"""name -> (events, entity rows, cards, skewed)."""

DEFS = '''
from featurestore import AggregateView, Aggregation, Entity, Field, ParquetSource
from featurestore.types import Float64, Int64

card = Entity(name="card", join_keys=["card_id"])
txn = AggregateView(
    name="txn", entities=[card],
    source=ParquetSource(path="events.parquet", created_timestamp_field="created"),
    schema=[Field(name="card_id", dtype=Int64), Field(name="amount", dtype=Float64)],
    aggregations=[Aggregation(function="count", windows=WINDOWS)]
    + [Aggregation(column="amount", function=f, windows=WINDOWS) for f in ("sum", "mean", "max")],
)
'''


def features() -> list[str]:
    out = [f"count_{w}" for w in WINDOWS]
    return out + [f"amount_{f}_{w}" for f in FUNCTIONS[1:] for w in WINDOWS]


def make(shape: str, seed: int = 42) -> Path:
    """Write (once) the events, entity frame and repo of ``shape``; returns the folder."""
    rows, entity_rows, cards, skewed = SHAPES[shape]
    repo = ROOT / f"agg-{shape}-s{seed}"
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "featurestore.yaml").write_text("project: bench_agg\n")
    (repo / "defs.py").write_text(f"WINDOWS = {list(WINDOWS)!r}\n" + DEFS)
    if (repo / "entity.parquet").exists():
        return repo
    rng = np.random.default_rng(seed)

    def ids(n: int) -> np.ndarray:
        out = rng.integers(0, cards, n)
        if skewed:
            out[rng.random(n) < 0.5] = 0
        return out

    utc = pa.timestamp("us", tz="UTC")
    writer = None
    for lo in range(0, rows, 1_000_000):
        m = min(1_000_000, rows - lo)
        ev = BASE_US + rng.integers(0, SPAN_US, m)
        table = pa.table({
            "card_id": pa.array(ids(m), pa.int64()),
            "event_timestamp": pa.array(ev, pa.int64()).cast(utc),
            "created": pa.array(ev + rng.integers(0, 10**6, m), pa.int64()).cast(utc),
            "amount": pa.array(np.round(rng.exponential(40.0, m), 2)),
        })
        writer = writer or pq.ParquetWriter(repo / "events.parquet", table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()
    pq.write_table(pa.table({
        "card_id": pa.array(ids(entity_rows), pa.int64()),
        "event_timestamp": pa.array(BASE_US + rng.integers(0, SPAN_US, entity_rows), pa.int64()).cast(utc),
    }), repo / "entity.parquet")
    return repo


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_featurestore(repo: Path, as_of_created: bool) -> dict[str, Any]:
    from featurestore import FeatureStore
    from featurestore.config import parse_config

    store = FeatureStore(repo, config=parse_config({"project": "bench_agg"}, "bench", env={}))
    store.apply()
    entity = pq.read_table(repo / "entity.parquet")
    refs = [f"txn:{f}" for f in features()]
    t0 = time.perf_counter()
    table = store.get_historical_features(entity, refs, as_of_created=as_of_created).to_arrow()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rows": table.num_rows, "peak_rss_mb": peak_rss_mb(),
            "order_kept": table.select(["card_id", "event_timestamp"]).equals(entity)}


def run_by_hand(repo: Path) -> dict[str, Any]:
    """A self-join with a time range and a GROUP BY per entity row: the query a user writes by hand."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    entity = pq.read_table(repo / "entity.parquet")
    con.register("entity", entity)
    cols = []
    for w in WINDOWS:
        inside = f"s.event_timestamp >= e.event_timestamp - INTERVAL {WINDOW_US[w]} MICROSECONDS"
        cols += [f"count(*) FILTER (WHERE {inside}) AS count_{w}",
                 f"coalesce(sum(s.amount) FILTER (WHERE {inside}), 0) AS amount_sum_{w}",
                 f"avg(s.amount) FILTER (WHERE {inside}) AS amount_mean_{w}",
                 f"max(s.amount) FILTER (WHERE {inside}) AS amount_max_{w}"]
    widest = max(WINDOW_US.values())
    sql = (f"SELECT e.row, any_value(e.card_id) AS card_id, any_value(e.event_timestamp) AS event_timestamp, "
           f"{', '.join(cols)} FROM (SELECT *, row_number() OVER () AS row FROM entity) e "
           f"LEFT JOIN read_parquet('{repo / 'events.parquet'}') s ON e.card_id = s.card_id "
           f"AND s.event_timestamp < e.event_timestamp "
           f"AND s.event_timestamp >= e.event_timestamp - INTERVAL {widest} MICROSECONDS "
           "GROUP BY e.row ORDER BY e.row")
    t0 = time.perf_counter()
    table = con.sql(sql).to_arrow_table()
    return {"seconds": time.perf_counter() - t0, "rows": table.num_rows, "peak_rss_mb": peak_rss_mb()}


def child(workload: str, repo: Path) -> dict[str, Any]:
    if workload == "by-hand":
        return run_by_hand(repo)
    return run_featurestore(repo, as_of_created=workload == "featurestore-created")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shapes", nargs="*", default=["1m", "skew"], choices=list(SHAPES))
    parser.add_argument("--workloads", nargs="*", default=["featurestore", "by-hand"],
                        choices=["featurestore", "by-hand", "featurestore-created"])
    parser.add_argument("--by-hand-skew", action="store_true")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--child", nargs=2, metavar=("WORKLOAD", "REPO"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return
    results = []
    for shape in args.shapes:
        repo = make(shape)
        for workload in args.workloads:
            if workload == "by-hand" and shape == "skew" and not args.by_hand_skew:
                continue
            try:
                proc = subprocess.run([sys.executable, "-m", "bench.aggregates_offline", "--child", workload,
                                       str(repo)], capture_output=True, text=True, timeout=args.timeout)
                lines = proc.stdout.strip().splitlines()
                result = json.loads(lines[-1]) if proc.returncode == 0 and lines else {
                    "error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]}
            except subprocess.TimeoutExpired:
                result = {"error": f"timed out after {args.timeout:.0f} s"}
            result = {"shape": shape, "workload": workload, **result}
            print(json.dumps(result), flush=True)
            results.append(result)
    print(f"{'shape':6} {'workload':22} {'seconds':>8} {'peak MB':>8}")
    for r in results:
        if "error" in r:
            print(f"{r['shape']:6} {r['workload']:22} {r['error']}")
        else:
            print(f"{r['shape']:6} {r['workload']:22} {r['seconds']:8.2f} {r['peak_rss_mb']:8.0f}")


if __name__ == "__main__":
    main()
