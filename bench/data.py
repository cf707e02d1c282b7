"""Benchmark data: seeded, sized by environment variables, written once and reused.

Base sizes (``scale`` multiplies all three):

============================  =========  ==========================================
variable                      default    meaning
============================  =========  ==========================================
``BENCH_ENTITIES``            10000      distinct ``driver_id`` values
``BENCH_ROWS``                1000000    source rows, spread over 30 days
``BENCH_ENTITY_ROWS``         100000     rows of the entity frame of the training set
``BENCH_SEED``                42         random seed
============================  =========  ==========================================

A data folder ``bench/data/e<entities>-r<rows>-q<entity rows>-s<seed>/`` holds:

- ``source.parquet``: ``driver_id`` int64, ``event_timestamp`` and ``created`` (timestamp[us, UTC]),
  ``f0`` … ``f9`` float32. Event times are uniform over 2026-01-01 .. 2026-01-31 UTC; ``created`` is
  0–1 s after the event. With as many entities as rows, each driver has exactly one row.
- ``entity.parquet``: ``driver_id`` int64, ``event_timestamp`` timestamp[us, UTC], ``label`` int64.
- ``meta.json``: the sizes and seed.
- ``featurestore.yaml`` and ``defs.py``: the featurestore repo over these files (views ``stats``
  with a 7-day ttl for training sets, ``stats_live`` without ttl for online lookups, ``stats_tx``: ``stats``
  through a Polars batch transform, a filter keeping every row plus ``f01 = f0 * f1``; on-demand views
  ``od_expr``/``od_py`` over ``stats`` and ``od_expr_live``/``od_py_live`` over ``stats_live``, with the request
  field ``distance_km``: three Polars expressions, and a Python row function).

The same files are read by the Feast side (``bench/feast_workload.py``).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).parent / "data"
START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_US = 30 * 86400 * 10**6
FEATURES = [f"f{i}" for i in range(10)]
TTL_DAYS = 7

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


def with_f01(lf):
    # polars imported here, not at the top: the other views' workloads do not pay for it
    import polars as pl
    return lf.filter(pl.col("f0").is_not_null()).with_columns(f01=pl.col("f0") * pl.col("f1"))


# a Polars batch transform over the same source: a filter keeping every row and one derived column
stats_tx = FeatureView(name="stats_tx", entities=[driver], ttl=timedelta(days=7), source=source, transform=with_f01,
                       schema=[*features, Field(name="f01", dtype=Float32)])


# on-demand views (issue 11): three Polars expressions and a Python row function over a view plus request data;
# the *_live ones over stats_live for lookups, the others over stats for training sets
import polars as pl
from featurestore import OnDemandFeatureView, RequestSource, on_demand_feature_view
from featurestore.types import Bool, Float64

trip = RequestSource(name="trip", schema=[Field(name="distance_km", dtype=Float64)])
OUT3 = [Field(name="eta", dtype=Float64), Field(name="far", dtype=Bool), Field(name="price", dtype=Float64)]
EXPR3 = {"eta": pl.col("distance_km") / 30.0 * 60.0 * (2.0 - pl.col("f0").fill_null(1.0)),
         "far": pl.col("distance_km") > pl.col("f1") * 50.0,
         "price": 2.5 + 1.2 * pl.col("distance_km") * (1.0 + pl.col("f2"))}
od_expr = OnDemandFeatureView(name="od_expr", sources=[stats, trip], schema=OUT3, expressions=EXPR3)
od_expr_live = OnDemandFeatureView(name="od_expr_live", sources=[stats_live, trip], schema=OUT3, expressions=EXPR3)


def _score(row):
    f0, km = row["f0"], row["distance_km"]
    return {"score": None if f0 is None or km is None else 2.5 + 1.2 * km * (1.0 + f0)}


od_py = on_demand_feature_view(sources=[stats, trip], schema=[Field(name="score", dtype=Float64)],
                               name="od_py")(_score)
od_py_live = on_demand_feature_view(sources=[stats_live, trip], schema=[Field(name="score", dtype=Float64)],
                                    name="od_py_live")(_score)
'''


@dataclass(frozen=True)
class Sizes:
    entities: int = 10_000
    rows: int = 1_000_000
    entity_rows: int = 100_000
    seed: int = 42

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Sizes:
        env = dict(os.environ if env is None else env)
        base = cls()
        return cls(*(int(env.get(f"BENCH_{name.upper()}", getattr(base, name))) for name in
                     ("entities", "rows", "entity_rows", "seed")))

    def times(self, scale: int) -> Sizes:
        return Sizes(self.entities * scale, self.rows * scale, self.entity_rows * scale, self.seed)

    @property
    def tag(self) -> str:
        return f"e{self.entities}-r{self.rows}-q{self.entity_rows}-s{self.seed}"

    def describe(self) -> str:
        return f"{self.rows:,} source rows, {self.entities:,} entities, {self.entity_rows:,} entity rows"


def _source_chunk(rng: np.random.Generator, sizes: Sizes, lo: int, m: int, base: int) -> pa.Table:
    ev = base + rng.integers(0, SPAN_US, m)
    ids = rng.integers(0, sizes.entities, m) if sizes.entities < sizes.rows else np.arange(lo, lo + m)
    utc = pa.timestamp("us", tz="UTC")
    cols = {
        "driver_id": pa.array(ids, pa.int64()),
        "event_timestamp": pa.array(ev.astype("datetime64[us]")).cast(utc),
        "created": pa.array((ev + rng.integers(0, 10**6, m)).astype("datetime64[us]")).cast(utc),
    }
    for f in FEATURES:
        cols[f] = pa.array(rng.random(m, dtype=np.float32))
    return pa.table(cols)


def make(sizes: Sizes | None = None, scale: int = 1) -> Path:
    """Write (once) the data and featurestore repo for ``sizes`` x ``scale``; returns the folder."""
    sizes = (sizes or Sizes.from_env()).times(scale)
    repo = ROOT / sizes.tag
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "featurestore.yaml").write_text("project: bench\n")
    (repo / "defs.py").write_text(REPO_DEFS)
    if (repo / "meta.json").exists():
        return repo
    rng = np.random.default_rng(sizes.seed)
    base = int(np.datetime64(START.replace(tzinfo=None), "us").astype(np.int64))
    writer = None
    chunk = 1_000_000
    for lo in range(0, sizes.rows, chunk):
        table = _source_chunk(rng, sizes, lo, min(chunk, sizes.rows - lo), base)
        if writer is None:
            writer = pq.ParquetWriter(repo / "source.parquet", table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()
    pq.write_table(pa.table({
        "driver_id": pa.array(rng.integers(0, sizes.entities, sizes.entity_rows), pa.int64()),
        "event_timestamp": pa.array((base + rng.integers(0, SPAN_US, sizes.entity_rows)).astype("datetime64[us]"))
        .cast(pa.timestamp("us", tz="UTC")),
        "label": pa.array(rng.integers(0, 2, sizes.entity_rows), pa.int64()),
    }), repo / "entity.parquet")
    (repo / "meta.json").write_text(json.dumps({**asdict(sizes), "start": START.isoformat(), "days": 30,
                                                "features": FEATURES, "ttl_days": TTL_DAYS}, indent=1))
    return repo


if __name__ == "__main__":
    for s in (1, 10):
        print(make(scale=s))
