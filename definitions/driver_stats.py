"""Driver statistics, hourly, from a Parquet file."""

from datetime import timedelta

from featurestore import Entity, FeatureService, FeatureView, Field, LoggingConfig, ParquetSource, PushSource, expect
from featurestore.types import Float32, Int64

driver = Entity(name="driver", join_keys=["driver_id"], description="A ride-hailing driver")

driver_stats = FeatureView(
    name="driver_stats",
    entities=[driver],
    ttl=timedelta(days=2),
    schema=[
        Field(name="conv_rate", dtype=Float32),
        Field(name="acc_rate", dtype=Float32),
        Field(name="avg_daily_trips", dtype=Int64),
    ],
    # rows can also be pushed: store.push("driver_stats_push", df, to="online_and_offline")
    source=PushSource(
        name="driver_stats_push",
        batch_source=ParquetSource(
            path="data/driver_stats.parquet",
            timestamp_field="event_timestamp",
            created_timestamp_field="created",
        ),
    ),
    # every batch written online (materialize, push, write_to_online_store) must pass these, or nothing is written
    expectations=[
        expect.not_null("conv_rate"),
        expect.between("conv_rate", 0, 1),
        expect.between("acc_rate", 0, 1),
        expect.between("avg_daily_trips", 0, None),
    ],
    on_invalid="reject",
    max_staleness="2h",
    owner="ml-platform@example.com",
    tags={"team": "pricing"},
)

# every served vector is logged (data/logs/driver_activity), for drift and consistency checks
driver_activity = FeatureService(name="driver_activity", features=[driver_stats],
                                 logging=LoggingConfig(sample_rate=1.0))
