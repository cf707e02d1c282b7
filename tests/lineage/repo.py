"""A small repo applied in several registry versions (entities, a view, a service, an on-demand view)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from featurestore import (
    Entity,
    FeatureService,
    FeatureStore,
    FeatureView,
    Field,
    ParquetSource,
    PushSource,
    RequestSource,
    on_demand_feature_view,
)
from featurestore.types import Float64, Int64

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
driver = Entity(name="driver", join_keys=["driver_id"])
SOURCE = ParquetSource(name="stats_file", path="data/stats.parquet", timestamp_field="ts")
trip = RequestSource(name="trip", schema=[Field(name="km", dtype=Float64)])


def stats(ttl_hours: int = 24, push: bool = False) -> FeatureView:
    source = PushSource(name="stats_push", batch_source=SOURCE) if push else SOURCE
    return FeatureView(name="stats", entities=[driver], source=source, ttl=timedelta(hours=ttl_hours),
                       schema=[Field(name="conv", dtype=Float64), Field(name="trips", dtype=Int64)], owner="ml")


def make_repo(folder: Path, **config: Any) -> Path:
    (folder / "data").mkdir(parents=True)
    (folder / "featurestore.yaml").write_text(yaml.safe_dump({"project": "lin", **config}))
    pq.write_table(pa.table({"driver_id": [1, 2], "conv": [0.1, 0.2], "trips": [3, 4],
                             "ts": pa.array([NOW - timedelta(hours=2)] * 2, pa.timestamp("us", tz="UTC"))}),
                   folder / "data" / "stats.parquet")
    return folder


def odfv(view: FeatureView) -> Any:
    @on_demand_feature_view(sources=[view, trip], schema=[Field(name="per_km", dtype=Float64)])
    def per_km(row: dict[str, Any]) -> dict[str, Any]:
        return {"per_km": row["conv"] / row["km"]}

    return per_km


def versions(folder: Path, **config: Any) -> FeatureStore:
    """Registry versions: 1 entity + view; 2 + service; 3 ttl 24h -> 6h; 4 + on-demand view and a service over it.
    ``config``: settings of featurestore.yaml (e.g. ``registry``)."""
    store = FeatureStore(make_repo(folder, **config), clock=lambda: NOW)
    view = stats()
    store.apply([driver, view])
    store.apply([FeatureService(name="ranking", features=[view])])
    view = stats(ttl_hours=6)
    store.apply([view])
    ondemand = odfv(view)
    store.apply([ondemand, FeatureService(name="quotes", features=[ondemand, view[["trips"]]])])
    return store
