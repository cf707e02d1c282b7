"""On-demand features of a trip quote: computed per request from the driver's stats and the trip's distance.

Both styles: Polars expressions (``eta``) and a Python function of one row (``fare``). The request field
``distance_km`` comes with each request online and as a column of the entity frame offline.
"""

import polars as pl
from driver_stats import driver_stats

from featurestore import FeatureService, Field, OnDemandFeatureView, RequestSource, on_demand_feature_view
from featurestore.types import Bool, Float64

trip = RequestSource(name="trip", schema=[Field(name="distance_km", dtype=Float64)],
                     description="The trip being quoted")

eta = OnDemandFeatureView(
    name="eta",
    sources=[driver_stats, trip],
    schema=[Field(name="eta_min", dtype=Float64, description="Minutes to destination at 30 km/h, slower for "
                  "drivers who accept fewer trips"),
            Field(name="long_trip", dtype=Bool)],
    expressions={
        "eta_min": pl.col("distance_km") / 30.0 * 60.0 * (2.0 - pl.col("acc_rate").fill_null(1.0)),
        "long_trip": pl.col("distance_km") > 20.0,
    },
    owner="ml-platform@example.com",
)


@on_demand_feature_view(sources=[driver_stats, trip], schema=[Field(name="fare", dtype=Float64)],
                        owner="ml-platform@example.com")
def fare(row: dict) -> dict:
    """Base fare plus distance, priced up for drivers with a high conversion rate (None when unknown)."""
    rate, km = row["conv_rate"], row["distance_km"]
    return {"fare": None if rate is None or km is None else 2.5 + 1.2 * km * (1.0 + rate)}


trip_quote = FeatureService(
    name="trip_quote",
    features=[eta, fare, driver_stats[["conv_rate"]]],
    description="A trip quote: minutes and fare computed on demand from the driver's stats and the trip's distance",
)
