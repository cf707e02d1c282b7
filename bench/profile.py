"""Statistics and drift speed: ``store.profile`` of a view over 10M rows x 10 Float64 features from Parquet
(issue 13 target: <= 2.5 s on the 2-core bench machine), and ``store.drift`` between two 1M-row samples.

``python -m bench.profile [--rows N] [--repeat K] [--folder DIR]``: writes the seeded data once (a Parquet file
of ``N`` rows: a key, an event time, ``f0`` ... ``f9`` ~ N(i, 1 + i); under ``DIR``, default a folder in the
system's temp directory, kept between runs) and a repo with one view over it, then times the calls end to end
through the public API (the view's relation in DuckDB, the sample, the streaming pass; best of ``K``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from featurestore import FeatureStore

FEATURES = 10
START = datetime(2026, 1, 1, tzinfo=UTC)
VIEW = '''
from featurestore import Entity, FeatureView, Field, ParquetSource
from featurestore.types import Float64

key = Entity(name="key", join_keys=["key"])
wide = FeatureView(name="wide", entities=[key], schema=[Field(name=f"f{i}", dtype=Float64) for i in range(10)],
                   source=ParquetSource(path="data/wide.parquet", timestamp_field="event_timestamp"))
'''


def make(folder: Path, rows: int) -> Path:
    """The repo (written once per row count)."""
    repo = folder / f"profile-{rows}"
    data = repo / "data" / "wide.parquet"
    if data.exists():
        return repo
    (repo / "data").mkdir(parents=True, exist_ok=True)
    (repo / "featurestore.yaml").write_text("project: bench\nregistry: data/registry.json\nonline_store:\n"
                                            "  type: sqlite\n  path: data/online.db\noffline_store:\n  type: duckdb\n")
    (repo / "wide.py").write_text(VIEW)
    rng = np.random.default_rng(13)
    step = 30 * 86400 * 10**6 // rows  # rows spread over 30 days, in time order
    cols: dict[str, Any] = {
        "key": pa.array(np.arange(rows) % 100_000, pa.int64()),
        "event_timestamp": pa.array(int(START.timestamp() * 1e6) + np.arange(rows, dtype=np.int64) * step,
                                    pa.timestamp("us", tz="UTC")),
    }
    for i in range(FEATURES):
        cols[f"f{i}"] = pa.array(rng.normal(i, 1 + i, rows))
    tmp = data.with_suffix(".tmp")
    pq.write_table(pa.table(cols), tmp, row_group_size=1 << 20)
    tmp.replace(data)
    with FeatureStore(repo) as store:
        store.apply()
    return repo


def best(fn: Any, repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--drift-rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "featurestore-bench")
    args = parser.parse_args(argv)
    repo = make(args.folder, args.rows)
    results: dict[str, Any] = {"rows": args.rows, "features": FEATURES}
    with FeatureStore(repo) as store:
        seconds, prof = best(lambda: store.profile("wide"), args.repeat)
        assert prof.rows == args.rows
        results["profile_seconds"] = round(seconds, 3)
        results["profile_rows_per_second"] = round(args.rows / seconds)
        # drift: two samples of drift_rows each (the first and the last time range holding that many rows)
        span = timedelta(days=30) * args.drift_rows / args.rows
        ref = (START, START + span - timedelta(microseconds=1))
        cur = (START + timedelta(days=30) - span, START + timedelta(days=30))
        seconds, report = best(lambda: store.drift("wide", ref, cur), args.repeat)
        results["drift_seconds"] = round(seconds, 3)
        results["drift_rows_per_side"] = report.features["f0"].rows_reference
        results["drift_status"] = report.status
    print(f"{'measure':<28}{'value':>14}")
    for name, value in results.items():
        print(f"{name:<28}{value!s:>14}")
    print(f"target: profile of 10M x 10 <= 2.5 s ({'met' if results['profile_seconds'] <= 2.5 else 'NOT met'} "
          f"at {args.rows:,} rows)")
    return results


if __name__ == "__main__":
    print(json.dumps(main()))
