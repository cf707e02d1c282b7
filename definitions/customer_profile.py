"""Customer profiles, daily, from a CSV file; no ttl (the last known profile always applies)."""

from featurestore import CsvSource, Entity, FeatureView, Field
from featurestore.types import Float64, Int64, String

customer = Entity(name="customer", join_keys=["customer_id"], description="A rider")

customer_profile = FeatureView(
    name="customer_profile",
    entities=[customer],
    schema=[
        Field(name="current_balance", dtype=Float64),
        Field(name="lifetime_trip_count", dtype=Int64),
        Field(name="tier", dtype=String),
    ],
    source=CsvSource(path="data/customer_profile.csv", timestamp_field="event_timestamp"),
    owner="growth@example.com",
    tags={"team": "growth"},
)
