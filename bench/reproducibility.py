"""Benchmark of issue 14: what keeping a versioned training set costs, and what a feature table saves.

1. ``create_training_set`` against ``get_historical_features(...).to_parquet()`` of the same 10 features of the 1x
   data (``bench/data.py``: 1M source rows, 100k entity rows), in one warm store, medians of ``--pairs``
   alternated pairs (target: create <= 1.10x). Creation also hashes the output and the entity frame, stores the
   frame, fingerprints the source from its Parquet footer and profiles a 100k-row sample of the output.
2. The training set of a transformed view read from its offline feature table against the same training set
   recomputing the transform from the raw source, each in a fresh store (the transform's output is cached per
   store), alternated, medians of ``--runs`` (target: >= 2x faster), for two transforms: ``stats_tx`` (the
   bench's cheap one: a filter keeping every row and one product) and ``stats_roll`` (a window: per driver, the
   rolling mean of its last 10 rows of three features). The ``materialize-offline`` run filling each table is
   timed too.

Run: ``.venv/bin/python bench/reproducibility.py`` (prints one JSON line).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import data  # noqa: E402

FEATURES = [f"stats:f{i}" for i in range(10)]
TX = [f"stats_tx:f{i}" for i in range(10)] + ["stats_tx:f01"]
ROLL = [f"stats_roll:f{i}_roll" for i in range(3)]
ROLLING = '''

def rolling(lf):
    # a window transform: per driver, the mean of its last 10 rows of f0, f1 and f2 (rows sorted by time)
    import polars as pl
    return lf.sort("driver_id", "event_timestamp").with_columns(
        [pl.col(f"f{i}").rolling_mean(window_size=10, min_samples=1).over("driver_id").cast(pl.Float64)
         .alias(f"f{i}_roll") for i in range(3)])


from featurestore.types import Float64 as _F64
stats_roll = FeatureView(name="stats_roll", entities=[driver], ttl=timedelta(days=7), source=source,
                         transform=rolling, schema=[Field(name=f"f{i}_roll", dtype=_F64) for i in range(3)])
'''


def _repo(source: Path, folder: Path, use_tables: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("source.parquet", "entity.parquet"):
        if not (folder / name).exists():
            (folder / name).symlink_to(source / name)
    (folder / "defs.py").write_text((source / "defs.py").read_text() + ROLLING)
    (folder / "featurestore.yaml").write_text(
        f"project: bench\nfeature_tables:\n  use_for_training: {str(use_tables).lower()}\n")
    return folder


def _timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def creation(repo: Path, pairs: int) -> dict[str, Any]:
    from featurestore import FeatureStore

    store = FeatureStore(repo)
    store.apply()
    entity = str(repo / "entity.parquet")
    out = repo / "plain.parquet"
    store.get_historical_features(entity, FEATURES).to_parquet(out)  # warm the DuckDB instance and the OS cache
    plain, create = [], []
    for i in range(pairs):
        runs = [("plain", lambda: store.get_historical_features(entity, FEATURES).to_parquet(out)),
                ("create", lambda: store.create_training_set("bench", entity, FEATURES))]
        for name, fn in runs if i % 2 == 0 else runs[::-1]:
            (plain if name == "plain" else create).append(_timed(fn))
    ts = store.get_training_set("bench")
    t0 = time.perf_counter()
    done = store.recreate_training_set("bench")
    recreate = time.perf_counter() - t0
    store.close()
    return {"plain_s": statistics.median(plain), "create_s": statistics.median(create),
            "ratio": statistics.median(create) / statistics.median(plain), "pairs": pairs, "rows": ts.rows,
            "recreate_s": recreate, "identical": done.identical, "bytes_identical": done.bytes_identical}


def tables(source: Path, folder: Path, runs: int, view: str = "stats_tx", features: list[str] = TX) -> dict[str, Any]:
    from featurestore import FeatureStore

    with_tables = _repo(source, folder / f"tables-{view}", use_tables=True)
    without = _repo(source, folder / f"source-{view}", use_tables=False)
    for repo in (with_tables, without):
        FeatureStore(repo).apply()
    store = FeatureStore(with_tables)
    t0 = time.perf_counter()
    written = store.materialize_offline(datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC),
                                        [view])
    materialize = time.perf_counter() - t0
    store.close()
    entity = str(source / "entity.parquet")
    found: dict[str, list[float]] = {"table": [], "transform": []}
    results: dict[str, Any] = {}
    for i in range(runs):
        order = [("table", with_tables), ("transform", without)]
        for name, repo in order if i % 2 == 0 else order[::-1]:
            fresh = FeatureStore(repo)  # a fresh store: no transform output cached
            t0 = time.perf_counter()
            results[name] = fresh.get_historical_features(entity, features).to_arrow()
            found[name].append(time.perf_counter() - t0)
            fresh.close()
    same = results["table"].equals(results["transform"])
    table_s, transform_s = statistics.median(found["table"]), statistics.median(found["transform"])
    return {"materialize_offline_s": materialize, "rows_written": written[0].rows, "table_s": table_s,
            "transform_s": transform_s, "speedup": transform_s / table_s, "runs": runs, "same_result": same}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    source = data.make(data.Sizes.from_env())
    import polars  # noqa: F401  (imported once, before any timing: a training set through a transform needs it)

    with tempfile.TemporaryDirectory(prefix="fs-bench-repro-") as tmp:
        out = {"creation": creation(_repo(source, Path(tmp) / "create"), args.pairs),
               "feature_table": tables(source, Path(tmp), args.runs),
               "feature_table_window": tables(source, Path(tmp), args.runs, "stats_roll", ROLL)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
