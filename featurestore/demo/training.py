"""The demo's reproducibility step: a versioned training set with a cutoff, a late row landing after it, the set
re-created identically, a transformed view kept as an offline feature table, and the lineage of the service."""

from __future__ import annotations

import textwrap
from datetime import timedelta

import pyarrow as pa

from featurestore.demo import sample_data
from featurestore.store import FeatureStore

SERVICE = "trip_model"
NAME = "demo_training"
WIDTH = 100


def late_row(store: FeatureStore) -> None:
    """Push a row of driver 1001 with an event time a day ago, created now: a late row the cutoff keeps out."""
    now = store.clock()
    row = pa.table({"driver_id": pa.array([1001], pa.int64()),
                    "event_timestamp": pa.array([now - timedelta(days=1)], pa.timestamp("us", tz="UTC")),
                    "created": pa.array([now], pa.timestamp("us", tz="UTC")),
                    "conv_rate": pa.array([0.01], pa.float32()), "acc_rate": pa.array([0.5], pa.float32()),
                    "avg_daily_trips": pa.array([1], pa.int64())})
    store.push("driver_stats_push", row, to="offline")


def training(store: FeatureStore) -> None:
    """Create a training set with ``as_of``, let a late row land, re-create it identically; a feature table."""
    cutoff = store.clock() - timedelta(seconds=1)
    ts = store.create_training_set(NAME, sample_data.entity_frame(), store.get_feature_service(SERVICE),
                                   as_of=cutoff)
    m = ts.manifest
    print(f'store.create_training_set("{NAME}", entities, trip_model, as_of=now):')
    print(f"  version {ts.version}, {ts.rows} rows, content hash {ts.fingerprint[:16]}")
    print(f"  manifest: registry version {m.registry_version}, {sum(len(v) for v in m.definitions.values())} "
          f"definitions, {len(m.sources)} source files fingerprinted, engine duckdb {m.engine.get('duckdb')}")
    print(f"  files: {ts.folder.relative_to(store.repo_path)}/{{data.parquet, entities.parquet, manifest.json}}")
    late_row(store)
    print("a late row of driver 1001 lands (event time a day ago, created now, after the cutoff)")
    print(f"store.recreate_training_set({NAME!r}, version={ts.version}):")
    for line in str(store.recreate_training_set(NAME, ts.version)).splitlines():
        print(textwrap.fill(line.strip(), WIDTH, initial_indent="  " if not line.startswith(" ") else "    ",
                            subsequent_indent="      "))
    done = store.materialize_offline_incremental(store.clock(), ["trip_stats"])
    print(textwrap.fill(f'store.materialize_offline_incremental(now, ["trip_stats"]): {done[0].rows} transformed '
                        "rows appended to its offline feature table; training sets now read the view from it",
                        WIDTH, subsequent_indent="  "))
    print(f"lineage of {SERVICE}, the training sets that used it:")
    lineage = store.lineage(SERVICE)
    print("  " + ", ".join(n for n in lineage.downstream if n.startswith("training_set:")))
