"""What a customer and a driver have done together: two join keys, from Parquet, 30-day ttl."""

from datetime import timedelta

from customer_profile import customer
from driver_stats import driver

from featurestore import FeatureView, Field, ParquetSource
from featurestore.types import Float64, Int64

customer_driver = FeatureView(
    name="customer_driver",
    entities=[customer, driver],
    ttl=timedelta(days=30),
    schema=[
        Field(name="trips_together", dtype=Int64),
        Field(name="avg_rating_given", dtype=Float64),
    ],
    source=ParquetSource(path="data/customer_driver.parquet", timestamp_field="event_timestamp"),
    owner="growth@example.com",
    tags={"team": "growth"},
    description="Trips the customer took with the driver so far, and the average rating they gave",
)
