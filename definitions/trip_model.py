"""The trip-completion model: features of the driver, the customer, the pair and the pickup zone."""

from customer_driver import customer_driver
from customer_profile import customer_profile
from driver_stats import driver_stats
from trip_stats import trip_stats
from zone_demand import zone_demand

from featurestore import FeatureService

trip_model = FeatureService(
    name="trip_model",
    features=[
        driver_stats[["conv_rate", "avg_daily_trips"]],
        customer_profile,
        customer_driver,
        zone_demand[["surge_multiplier", "avg_wait_minutes"]],
        trip_stats[["speed_kmh"]],
    ],
    description="Features of the trip-completion model",
)
