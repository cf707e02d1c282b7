"""Driver trip statistics: a Polars batch transform of the raw trips (finished trips only, with their speed)."""

from datetime import timedelta

import polars as pl
from driver_stats import driver

from featurestore import FeatureView, Field, ParquetSource
from featurestore.types import Float64

trip_stats = FeatureView(
    name="trip_stats",
    entities=[driver],
    ttl=timedelta(days=2),
    source=ParquetSource(path="data/driver_trips.parquet", timestamp_field="event_timestamp"),
    # runs wherever the source rows are read (training sets, materialize); cancelled trips are dropped
    transform=lambda lf: lf.filter(pl.col("status") == "done").with_columns(
        speed_kmh=pl.col("km") * 60 / pl.col("minutes")),
    schema=[Field(name="speed_kmh", dtype=Float64), Field(name="km", dtype=Float64)],
    owner="ml-platform@example.com",
    tags={"team": "pricing"},
    description="The driver's last finished trip: its distance and average speed",
)
