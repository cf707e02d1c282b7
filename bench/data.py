"""Benchmark data: N entities, R source rows over 30 days, 10 Float32 features, E entity rows.

Deterministic (seeded); written once to bench/data/<scale>/ and reused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).parent / "data"
START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_US = 30 * 86400 * 10**6
FEATURES = [f"f{i}" for i in range(10)]

REPO_DEFS = '''
from datetime import timedelta
from featurestore import Entity, FeatureView, Field, ParquetSource
from featurestore.types import Float32
driver = Entity(name="driver", join_keys=["driver_id"])
source = ParquetSource(path="source.parquet", created_timestamp_field="created")
features = [Field(name=f"f{i}", dtype=Float32) for i in range(10)]
stats = FeatureView(name="stats", entities=[driver], ttl=timedelta(days=7), schema=features, source=source)
# the same features without ttl, so online lookups of this old data come back PRESENT
stats_live = FeatureView(name="stats_live", entities=[driver], schema=features, source=source)
'''


def make(scale: int = 1, entities: int = 10_000, rows: int = 1_000_000, entity_rows: int = 100_000) -> Path:
    """Write the data and a feature repo for ``scale`` x the base sizes; returns the repo folder."""
    repo = ROOT / (f"x{scale}" if (entities, rows) == (10_000, 1_000_000) else f"e{entities}-r{rows}")
    if (repo / "entity.parquet").exists():
        (repo / "defs.py").write_text(REPO_DEFS)
        return repo
    repo.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(42)
    base = np.datetime64(START.replace(tzinfo=None), "us").astype(np.int64)
    n_ent, n_rows, n_q = entities * scale, rows * scale, entity_rows * scale
    writer = None
    chunk = 1_000_000
    for lo in range(0, n_rows, chunk):
        m = min(chunk, n_rows - lo)
        ev = base + rng.integers(0, SPAN_US, m)
        cols = {
            "driver_id": pa.array(rng.integers(0, n_ent, m) if n_ent < n_rows else np.arange(lo, lo + m)),
            "event_timestamp": pa.array(ev.astype("datetime64[us]")).cast(pa.timestamp("us", tz="UTC")),
            "created": pa.array((ev + rng.integers(0, 10**6, m)).astype("datetime64[us]")),
        }
        for f in FEATURES:
            cols[f] = pa.array(rng.random(m, dtype=np.float32))
        table = pa.table(cols)
        if writer is None:
            writer = pq.ParquetWriter(repo / "source.parquet", table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()
    pq.write_table(pa.table({
        "driver_id": pa.array(rng.integers(0, n_ent, n_q)),
        "event_timestamp": pa.array((base + rng.integers(0, SPAN_US, n_q)).astype("datetime64[us]"))
        .cast(pa.timestamp("us", tz="UTC")),
        "label": pa.array(rng.integers(0, 2, n_q)),
    }), repo / "entity.parquet")
    (repo / "featurestore.yaml").write_text("project: bench\n")
    (repo / "defs.py").write_text(REPO_DEFS)
    return repo
