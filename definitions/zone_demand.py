"""Demand per city zone every 15 minutes, from a table of a DuckDB file; stale after one hour."""

from datetime import timedelta

from featurestore import DuckDBSource, Entity, FeatureView, Field
from featurestore.types import Float32, Float64, Int64, String

zone = Entity(name="zone", join_keys=["zone_id"], description="A pickup zone of the city")

zone_demand = FeatureView(
    name="zone_demand",
    entities=[zone],
    ttl=timedelta(hours=1),
    schema=[
        Field(name="zone_id", dtype=String),
        Field(name="open_requests", dtype=Int64),
        Field(name="available_drivers", dtype=Int64),
        Field(name="surge_multiplier", dtype=Float64),
        Field(name="avg_wait_minutes", dtype=Float32),
    ],
    source=DuckDBSource(table="zone_demand", database="data/city.duckdb", timestamp_field="event_timestamp"),
    owner="marketplace@example.com",
    tags={"team": "pricing"},
    description="Open ride requests, available drivers, surge and wait time per zone (15-minute windows)",
)
