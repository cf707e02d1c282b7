"""Aggregate view definitions: feature names, construction errors, output types, round trips, on-demand views and
feature services over them (no store: what the classes decide on their own)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl
import pytest

from featurestore import (
    AggregateView,
    Aggregation,
    DefinitionError,
    Entity,
    FeatureService,
    Field,
    OnDemandFeatureView,
    ParquetSource,
    PushSource,
    types,
)
from featurestore.definitions.feature_view import FeatureViewProjection

card = Entity(name="card", join_keys=["card_id"])
txns = ParquetSource(path="data/txns.parquet", timestamp_field="event_timestamp", created_timestamp_field="created")


def view(*aggs: Aggregation, **kwargs: Any) -> AggregateView:
    args: dict[str, Any] = {"name": "card_txn", "entities": [card], "source": txns,
                            "aggregations": list(aggs) or [Aggregation(function="count", windows=["1h"])]}
    args.update(kwargs)
    return AggregateView(**args)


def issue_view() -> AggregateView:
    """The view of the issue's example."""
    return AggregateView(
        name="card_txn",
        entities=[card],
        source=PushSource(name="txn_push", batch_source=txns),
        aggregations=[
            Aggregation(function="count", windows=["1h", "1d", "7d"]),
            Aggregation(column="amount", function="sum", windows=["1d", "7d", "30d"]),
            Aggregation(column="amount", function="mean", windows=["7d"]),
            Aggregation(column="amount", function="max", windows=["1d"]),
            Aggregation(column="amount", function="stddev", windows=["30d"]),
            Aggregation(column="merchant_id", function="count_distinct", windows=["7d"]),
            Aggregation(column="merchant_id", function="last"),
            Aggregation(column="amount", function="sum", windows=["7d"], where="status = 'declined'",
                        name="declined_amount_7d"),
        ],
    )


def test_feature_names_of_the_issue_example() -> None:
    assert issue_view().feature_names == (
        "count_1h", "count_1d", "count_7d", "amount_sum_1d", "amount_sum_7d", "amount_sum_30d", "amount_mean_7d",
        "amount_max_1d", "amount_stddev_30d", "merchant_id_count_distinct_7d", "merchant_id_last",
        "declined_amount_7d")


@pytest.mark.parametrize(("agg", "names"), [
    (Aggregation(function="count", windows=["1h"]), ("count_1h",)),
    (Aggregation(function="count"), ("count",)),  # lifetime: no window suffix
    (Aggregation(function="count", column="amount", windows=["2d"]), ("amount_count_2d",)),
    (Aggregation(function="min", column="amount", windows=[timedelta(minutes=90)]), ("amount_min_90m",)),
    (Aggregation(function="max", column="amount", windows=[timedelta(hours=36)]), ("amount_max_36h",)),
    (Aggregation(function="first", column="amount", windows=["90s", "15m"]), ("amount_first_90s", "amount_first_15m")),
    (Aggregation(function="last", column="amount"), ("amount_last",)),
    (Aggregation(function="sum", column="amount", windows="1d"), ("amount_sum_1d",)),  # one window as text
    (Aggregation(function="sum", column="amount", windows=["1d"], name="spend"), ("spend",)),
    (Aggregation(function="sum", column="amount", windows=["1d", "7d"], name="spend"), ("spend_1d", "spend_7d")),
    (Aggregation(function="sum", column="amount", name="spend"), ("spend",)),
])
def test_feature_names(agg: Aggregation, names: tuple[str, ...]) -> None:
    assert agg.feature_names == names
    assert len(agg.window_us) == len(names)


def test_windows_are_spelled_and_measured_in_microseconds() -> None:
    agg = Aggregation(function="count", windows=[timedelta(days=7), "90s", "1h"])
    assert agg.windows == ("7d", "90s", "1h")
    assert agg.window_us == (7 * 86_400_000_000, 90_000_000, 3_600_000_000)
    assert Aggregation(function="count").window_us == (None,)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"function": "avg", "column": "amount"}, "aggregation 'avg': unknown function 'avg'; use one of count, sum"),
    ({"function": "median", "column": "amount", "name": "m"}, "aggregation 'm': unknown function 'median'"),
    ({"function": "sum"}, "function 'sum' needs a column \\(only count counts rows\\)"),
    ({"function": "mean"}, "function 'mean' needs a column"),
    ({"function": "last"}, "function 'last' needs a column"),
    ({"function": "count_distinct"}, "function 'count_distinct' needs a column"),
    ({"function": "sum", "column": ""}, "column must be a source column name"),
    ({"function": "count", "windows": ["1w"]}, "window '1w' is not a duration: write a whole number and a unit"),
    ({"function": "count", "windows": ["abc"]}, "window 'abc' is not a duration"),
    ({"function": "count", "windows": ["1.5h"]}, "window '1.5h' is not a duration"),
    ({"function": "count", "windows": ["0h"]}, "window '0h' must be positive"),
    ({"function": "count", "windows": [timedelta(seconds=-1)]}, "window .* must be positive"),
    ({"function": "count", "windows": [timedelta(0)]}, "window .* must be positive"),
    ({"function": "count", "windows": [5]}, "window must be a duration text"),
    ({"function": "count", "windows": ["1h", "60m"]}, "lists a window twice"),
    ({"function": "sum", "column": "amount", "where": " "}, "where must be a DuckDB SQL predicate"),
    ({"function": "sum", "column": "amount", "name": "bad name"}, "aggregation name 'bad name' is invalid"),
])
def test_construction_errors_name_the_aggregation(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(DefinitionError, match=match):
        Aggregation(**kwargs)


def test_view_construction_errors_name_the_view() -> None:
    with pytest.raises(DefinitionError, match="aggregate view 'card_txn': two aggregations make feature 'n_1h'"):
        view(Aggregation(function="count", windows=["1h"], name="n_1h"),
             Aggregation(function="sum", column="amount", windows=["1h", "1d"], name="n"))
    with pytest.raises(DefinitionError, match="two aggregations make feature 'amount_sum_1d'"):
        view(Aggregation(function="sum", column="amount", windows=["1d"]),
             Aggregation(function="sum", column="amount", windows=["1d"], where="amount > 0"))
    with pytest.raises(DefinitionError, match="aggregate view 'card_txn': a ttl is not allowed"):
        view(ttl=timedelta(days=1))
    with pytest.raises(DefinitionError, match="feature 'card_id' has the name of a join key"):
        view(Aggregation(function="count", name="card_id"))
    with pytest.raises(DefinitionError, match="aggregate view 'card_txn' has no aggregations"):
        view(aggregations=[])
    with pytest.raises(DefinitionError, match="aggregations must be a list of Aggregation"):
        view(aggregations=[{"function": "count"}])
    with pytest.raises(DefinitionError, match="needs a source"):
        view(source="data/txns.parquet")
    with pytest.raises(DefinitionError, match="serving_horizon '2x' is not a duration"):
        view(serving_horizon="2x")
    with pytest.raises(DefinitionError, match="resolution '0m' must be positive"):
        view(resolution="0m")
    with pytest.raises(DefinitionError, match="aggregate view name"):
        view(name="card txn")
    plain = ParquetSource(path="data/txns.parquet", timestamp_field="event_timestamp")
    with pytest.raises(DefinitionError, match="push source 'p' needs a created_timestamp_field on its batch source: a "
                                              "push stamps each row's created time"):
        view(source=PushSource(name="p", batch_source=plain))
    assert view(source=plain).source is plain  # a batch source needs no created column


def test_output_types_follow_the_column_types() -> None:
    cols = {"i32": types.Int32, "i64": types.Int64, "f32": types.Float32, "f64": types.Float64, "s": types.String,
            "ts": types.Timestamp, "b": types.Bool, "by": types.Bytes, "l": types.Array(types.Int64)}
    aggs = [Aggregation(function="count", windows=["1h"]), Aggregation(function="count", column="l")]
    aggs += [Aggregation(function=f, column=c) for f in ("sum", "mean", "stddev") for c in ("i32", "i64", "f32", "f64")]
    aggs += [Aggregation(function=f, column=c) for f in ("min", "max", "first", "last", "count_distinct")
             for c in ("i32", "f32", "s", "ts", "b", "by")]
    v = view(*aggs, schema=[Field(name=c, dtype=t) for c, t in cols.items()])
    got = {f.name: f.dtype for f in v.features}
    assert got["count_1h"] is types.Int64 and got["l_count"] is types.Int64
    assert [got[f"{c}_sum"] for c in ("i32", "i64", "f32", "f64")] == [types.Int64, types.Int64, types.Float64,
                                                                       types.Float64]
    for f in ("mean", "stddev"):
        assert {got[f"{c}_{f}"] for c in ("i32", "i64", "f32", "f64")} == {types.Float64}
    for f in ("min", "max", "first", "last"):
        for c in ("i32", "f32", "s", "ts", "b", "by"):
            assert got[f"{c}_{f}"] is cols[c], (c, f)
    assert {got[f"{c}_count_distinct"] for c in ("i32", "f32", "s", "ts", "b", "by")} == {types.Int64}
    assert v.input_fields == tuple(Field(name=c, dtype=t) for c, t in cols.items())
    assert v.key_fields == ()


def test_outputs_and_inputs() -> None:
    v = issue_view()
    with pytest.raises(DefinitionError, match="the type of column 'amount' is known once the view is applied"):
        v.outputs  # noqa: B018 - the property raises
    v = view(*v.aggregations, schema=[Field(name="amount", dtype=types.Float64),
                                      Field(name="merchant_id", dtype=types.String)])
    assert [(i.column, i.where) for i in v.inputs] == [(None, None), ("amount", None), ("merchant_id", None),
                                                       ("amount", "status = 'declined'")]
    out = {o.name: o for o in v.outputs}
    assert out["declined_amount_7d"].input == 3 and out["declined_amount_7d"].window_us == 7 * 86_400_000_000
    assert out["merchant_id_last"].window_us is None and out["merchant_id_last"].dtype is types.String
    assert out["count_1h"].input == 0 and out["amount_max_1d"].input == 1
    assert v.columns == ("amount", "merchant_id")


def test_window_start_floors_to_the_resolution() -> None:
    assert view().window_start(10_000, 3_000) == 7_000
    r = view(resolution="1s")
    assert r.resolution_us == 1_000_000 and r.window_start(2_500_000, 1_000_000) == 1_000_000
    assert r.window_start(-1, 1_000_000) == -2_000_000  # toward minus infinity before 1970 too
    assert view().serving_horizon == "2d" and view(serving_horizon=timedelta(hours=6)).serving_horizon == "6h"


def test_round_trip_is_stable() -> None:
    v = view(*issue_view().aggregations, source=issue_view().source, resolution=timedelta(minutes=1),
             serving_horizon="36h", schema=[Field(name="amount", dtype=types.Float64)], description="d", owner="o",
             tags={"team": "risk"}, online=False)
    again = AggregateView.from_dict(v.to_dict())
    assert again == v and again.to_dict() == v.to_dict()
    assert AggregateView.from_dict(again.to_dict()).to_dict() == v.to_dict()
    assert again.resolution == "1m" and again.serving_horizon == "36h" and again.online is False
    assert Aggregation.from_dict(v.aggregations[-1].to_dict()) == v.aggregations[-1]


def test_projections_and_services_take_aggregate_views() -> None:
    v = issue_view()
    svc = FeatureService(name="fraud", features=[v, v[["count_1h"]], v[["amount_sum_7d"]].with_name("again")])
    assert svc.refs()[:2] == ["card_txn:count_1h", "card_txn:count_1d"]
    assert svc.refs()[-2:] == ["card_txn:count_1h", "again:amount_sum_7d"]
    assert FeatureService.from_dict(svc.to_dict()) == svc
    with pytest.raises(Exception, match="aggregate view 'card_txn' has no feature 'nope'"):
        v[["nope"]]
    with pytest.raises(DefinitionError, match="aggregate view 'card_txn' has no join key 'x' to map"):
        v.with_join_key_map({"x": "y"})
    assert v.with_join_key_map({"card_id": "payer"}).entity_column("card_id") == "payer"


def test_on_demand_views_take_aggregate_views_as_sources() -> None:
    v = issue_view()
    odfv = OnDemandFeatureView(name="ratio", sources=[v[["count_1h", "count_1d"]]],
                               schema=[Field(name="hour_share", dtype=types.Float64)],
                               expressions={"hour_share": pl.col("count_1h") / pl.col("count_1d")})
    assert odfv.view_sources == (FeatureViewProjection("card_txn", ("count_1h", "count_1d")),)
    whole = OnDemandFeatureView(name="whole", sources=[v], schema=[Field(name="x", dtype=types.Int64)],
                                expressions={"x": pl.col("count_1h") * 2})
    assert whole.view_sources == (FeatureViewProjection("card_txn"),)
    again = OnDemandFeatureView.from_dict(odfv.to_dict())
    assert again == odfv and again.to_dict() == odfv.to_dict()
