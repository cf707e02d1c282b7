"""Card transactions of riders, aggregated over time windows (an aggregate view); rows can also be pushed.

    store.push("txn_push", df)   # appended offline and counted online at once (count_1h goes up)
"""

from featurestore import AggregateView, Aggregation, Entity, FeatureService, ParquetSource, PushSource

card = Entity(name="card", join_keys=["card_id"], description="A rider's payment card")

card_txn = AggregateView(
    name="card_txn",
    entities=[card],
    source=PushSource(
        name="txn_push",
        batch_source=ParquetSource(path="data/txns.parquet", timestamp_field="event_timestamp",
                                   created_timestamp_field="created"),
    ),
    aggregations=[
        Aggregation(function="count", windows=["1h", "1d", "7d"]),                 # count_1h, count_1d, count_7d
        Aggregation(column="amount", function="sum", windows=["1d", "7d", "30d"]),  # amount_sum_1d, ...
        Aggregation(column="amount", function="mean", windows=["7d"]),
        Aggregation(column="amount", function="max", windows=["1d"]),
        Aggregation(column="amount", function="stddev", windows=["30d"]),
        Aggregation(column="merchant_id", function="count_distinct", windows=["7d"]),
        Aggregation(column="merchant_id", function="last"),                          # no window: lifetime
        Aggregation(column="amount", function="sum", windows=["7d"], where="status = 'declined'",
                    name="declined_amount_7d"),
    ],
    owner="risk@example.com",
    tags={"team": "risk"},
    description="Spend and activity of a card over the last hour to 30 days",
)

card_risk = FeatureService(name="card_risk", features=[card_txn],
                           description="Features of the card-fraud model: windowed aggregates of its transactions")
