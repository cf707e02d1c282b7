"""Training sets with aggregate views: the rules one by one, entity inputs, mixing views, errors, determinism."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import (
    AggregateView,
    Aggregation,
    DataSourceError,
    Entity,
    FeatureStore,
    FeatureStoreError,
    FeatureView,
    Field,
    ParquetSource,
)
from featurestore.types import Float64, Int32, Int64, String
from featurestore.utc import epoch_us
from tests.aggregates.offline_repo import ENGINES, stores
from tests.aggregates.oracle import oracle, same

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
US = timedelta(microseconds=1)
H = timedelta(hours=1)
UTC_US = pa.timestamp("us", tz="UTC")
card = Entity(name="card", join_keys=["card_id"])


@pytest.fixture(params=ENGINES)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., FeatureStore]]:
    yield from stores(request.param, tmp_path)


def write_events(path: Path, rows: list[dict[str, Any]]) -> None:
    schema = pa.schema([("card_id", pa.int64()), ("event_timestamp", UTC_US), ("created", UTC_US),
                        ("amount", pa.float64()), ("n", pa.int64()), ("status", pa.string())])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def ev(card_id: int, at: datetime, amount: float | None = 1.0, n: int | None = 1, status: str | None = "ok",
       created: datetime | None = None) -> dict[str, Any]:
    return {"card_id": card_id, "event_timestamp": at, "created": created, "amount": amount, "n": n,
            "status": status}


SCHEMA = [Field(name="card_id", dtype=Int64), Field(name="amount", dtype=Float64), Field(name="n", dtype=Int64),
          Field(name="status", dtype=String)]


def agg_view(*aggregations: Aggregation, name: str = "txn", resolution: str | None = None,
             path: str = "events.parquet") -> AggregateView:
    return AggregateView(name=name, entities=[card], aggregations=list(aggregations), schema=SCHEMA,
                         resolution=resolution, source=ParquetSource(path=path, created_timestamp_field="created"))


def frame(times: list[datetime | None], ids: list[int | None] | None = None) -> pa.Table:
    return pa.table({"card_id": pa.array(ids if ids is not None else [1] * len(times), pa.int64()),
                     "event_timestamp": pa.array(times, UTC_US)})


def values(store: FeatureStore, entity: Any, refs: list[str], **kw: Any) -> dict[str, list[Any]]:
    table = store.get_historical_features(entity, refs, **kw).to_arrow()
    return {r.split(":")[1]: table.column(r.split(":")[1]).to_pylist() for r in refs}


def test_window_end_is_exclusive_and_start_inclusive(make_store: Callable[..., FeatureStore],
                                                     tmp_path: Path) -> None:
    write_events(tmp_path / "events.parquet", [ev(1, T0, 1.0), ev(1, T0 + H, 2.0)])
    store = make_store()
    store.apply([card, agg_view(Aggregation(column="amount", function="sum", windows=["1h"]))])
    got = values(store, frame([T0, T0 + US, T0 + H, T0 + H + US, T0 + 2 * H, T0 + 2 * H + US]),
                 ["txn:amount_sum_1h"])
    assert got["amount_sum_1h"] == [0.0, 1.0, 1.0, 2.0, 2.0, 0.0]


def test_resolution_floors_the_window_start(make_store: Callable[..., FeatureStore], tmp_path: Path) -> None:
    write_events(tmp_path / "events.parquet", [ev(1, T0, 1.0), ev(1, T0 + 10 * timedelta(minutes=1), 2.0)])
    store = make_store()
    store.apply([card, agg_view(Aggregation(column="amount", function="sum", windows=["1h"]), resolution="15m")])
    # at T0 + 1h 5m the window starts at floor(T0 + 5m, 15m) = T0: both events count (without resolution: one);
    # at T0 + 1h 15m at T0 + 15m: none
    minute = timedelta(minutes=1)
    got = values(store, frame([T0 + H + 5 * minute, T0 + H + 10 * minute + US, T0 + H + 15 * minute]),
                 ["txn:amount_sum_1h"])
    assert got["amount_sum_1h"] == [3.0, 3.0, 0.0]


def test_empty_windows_types_and_unknown_entities(make_store: Callable[..., FeatureStore], tmp_path: Path) -> None:
    write_events(tmp_path / "events.parquet", [ev(1, T0, 1.5, 3, "ok")])
    store = make_store()
    view = agg_view(*[Aggregation(column=c, function=f, windows=["1h"])
                      for f, c in [("count", None), ("sum", "amount"), ("sum", "n"), ("mean", "amount"),
                                   ("min", "status"), ("max", "n"), ("stddev", "amount"), ("count_distinct", "status"),
                                   ("first", "amount"), ("last", "status")]])
    store.apply([card, view])
    table = store.get_historical_features(frame([T0 + US, T0, None, T0 + US], [1, 1, 1, None]),
                                          [f"txn:{f}" for f in view.feature_names]).to_arrow()
    assert {f.name: str(f.type) for f in table.schema}["count_1h"] == "int64"
    want_types = {"count_1h": "int64", "amount_sum_1h": "double", "n_sum_1h": "int64", "amount_mean_1h": "double",
                  "status_min_1h": "string", "n_max_1h": "int64", "amount_stddev_1h": "double",
                  "status_count_distinct_1h": "int64", "amount_first_1h": "double", "status_last_1h": "string"}
    assert {f.name: str(f.type) for f in table.schema if f.name in want_types} == want_types
    rows = table.to_pylist()
    assert [rows[0][f] for f in want_types] == [1, 1.5, 3, 1.5, "ok", 3, None, 1, 1.5, "ok"]
    # no event before T, a null time, a null key: the empty window (an entity without events gets the same)
    empty = [0, 0.0, 0, None, None, None, None, 0, None, None]
    for row in rows[1:]:
        assert [row[f] for f in want_types] == empty
        assert all(type(row[f]) is type(e) for f, e in zip(want_types, empty, strict=True))


def test_as_of_created_hides_rows_created_at_or_after_t(make_store: Callable[..., FeatureStore],
                                                       tmp_path: Path) -> None:
    write_events(tmp_path / "events.parquet", [ev(1, T0, 1.0, created=T0 + H), ev(1, T0, 2.0, created=None)])
    store = make_store()
    store.apply([card, agg_view(Aggregation(column="amount", function="sum", windows=["1d"]),
                                Aggregation(column="amount", function="last"))])
    refs = ["txn:amount_sum_1d", "txn:amount_last"]
    entity = frame([T0 + US, T0 + H, T0 + H + US])
    assert values(store, entity, refs) == {"amount_sum_1d": [3.0, 3.0, 3.0], "amount_last": [1.0, 1.0, 1.0]}
    assert values(store, entity, refs, as_of_created=True) == {"amount_sum_1d": [2.0, 2.0, 3.0],
                                                               "amount_last": [2.0, 2.0, 1.0]}


def test_integer_sum_overflow_names_view_and_feature(make_store: Callable[..., FeatureStore], tmp_path: Path) -> None:
    big = 2**62
    write_events(tmp_path / "events.parquet", [ev(1, T0, n=big), ev(1, T0 + US, n=big), ev(1, T0 + 2 * US, n=-big),
                                               ev(2, T0, n=big)])
    store = make_store()
    store.apply([card, agg_view(Aggregation(column="n", function="sum", windows=["1h"]))])
    # the running sum leaves Int64 and comes back: windows that fit are exact
    ok = values(store, frame([T0 + 3 * US, T0 + H, T0 + H], [1, 1, 2]), ["txn:n_sum_1h"])
    assert ok["n_sum_1h"] == [big, big, big]
    for as_of_created in (False, True):
        with pytest.raises(DataSourceError) as info:
            store.get_historical_features(frame([T0 + 2 * US]), ["txn:n_sum_1h"],
                                          as_of_created=as_of_created).to_arrow()
        assert "'txn'" in str(info.value) and "'n_sum_1h'" in str(info.value) and str(2**63) in str(info.value)
        assert info.value.view == "txn"


def test_large_history_tiny_window_keeps_float_precision(make_store: Callable[..., FeatureStore],
                                                         tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n = 200_000
    ts = np.sort(rng.integers(0, 30 * 86_400 * 10**6, n)) + epoch_us(T0)
    amount = rng.uniform(0, 1000, n)
    amount[n // 2:] = rng.uniform(-1, 1, n - n // 2) * 1e-3  # a tiny, signed tail after a heavy history
    pq.write_table(pa.table({"card_id": pa.array(np.ones(n, np.int64)),
                             "event_timestamp": pa.array(ts).cast(UTC_US), "created": pa.nulls(n, UTC_US),
                             "amount": amount, "n": pa.nulls(n, pa.int64()), "status": pa.nulls(n, pa.string())}),
                   tmp_path / "events.parquet")
    store = make_store()
    store.apply([card, agg_view(*[Aggregation(column="amount", function=f, windows=["10s", "1h"])
                                  for f in ("sum", "mean", "stddev")])])
    at = [int(t) for t in rng.choice(ts[n // 2:], 200)] + [int(ts[-1]) + 1]
    refs = [f"txn:amount_{f}_{w}" for f in ("sum", "mean", "stddev") for w in ("10s", "1h")]
    got = values(store, pa.table({"card_id": pa.array([1] * len(at), pa.int64()),
                                  "event_timestamp": pa.array(at, pa.int64()).cast(UTC_US)}), refs)
    events = [{"key": (1,), "ts": int(t), "created": -(2**63), "ord": i, "amount": float(a)}
              for i, (t, a) in enumerate(zip(ts, amount, strict=True))]
    for ref in refs:
        f, w = ref.split("_")[1], ref.split("_")[2]
        window = {"10s": 10 * 10**6, "1h": 3600 * 10**6}[w]
        for t, g in zip(at, got[ref.split(":")[1]], strict=True):
            lo, hi = np.searchsorted(ts, t - window), np.searchsorted(ts, t)  # the oracle on the window's neighbours
            want = oracle(events[max(lo - 2, 0):hi + 2], [((1,), t)], f, "amount", window)[0]
            assert same(g, want), (ref, t, g, want)


def test_same_query_twice_gives_identical_floats(make_store: Callable[..., FeatureStore], tmp_path: Path) -> None:
    rng = random.Random(3)
    rows = [ev(rng.randint(1, 3), T0 + rng.randint(0, 50) * timedelta(minutes=1), rng.uniform(-1e6, 1e6),
               created=T0 + rng.randint(0, 60) * timedelta(minutes=1)) for _ in range(20_000)]
    write_events(tmp_path / "events.parquet", rows)
    store = make_store(offline_store={"type": "duckdb", "threads": 2})
    store.apply([card, agg_view(*[Aggregation(column="amount", function=f, windows=["10m"]) for f in
                                  ("sum", "mean", "stddev")])])
    entity = frame([T0 + rng.randint(0, 60) * timedelta(minutes=1) for _ in range(500)],
                   [rng.randint(1, 3) for _ in range(500)])
    refs = ["txn:amount_sum_10m", "txn:amount_mean_10m", "txn:amount_stddev_10m"]
    for as_of_created in (False, True):
        runs = [store.get_historical_features(entity, refs, as_of_created=as_of_created).to_arrow() for _ in range(3)]
        assert runs[0].equals(runs[1]) and runs[0].equals(runs[2])


def test_parquet_entity_path_and_key_types(make_store: Callable[..., FeatureStore], tmp_path: Path) -> None:
    write_events(tmp_path / "events.parquet", [ev(1, T0, 1.0), ev(2, T0, 5.0), ev(1, T0 + H, 2.0)])
    store = make_store()
    store.apply([card, agg_view(Aggregation(column="amount", function="sum", windows=["1d"]))])
    entity = pa.table({"card_id": pa.array([2, 1, 1, 3], pa.int32()),
                       "event_timestamp": pa.array([T0 + US, T0 + 2 * H, T0 + US, T0 + US], UTC_US),
                       "label": ["a", "b", "c", "d"]})
    pq.write_table(entity, tmp_path / "entity.parquet")
    want = [5.0, 3.0, 1.0, 0.0]
    from_path = store.get_historical_features(str(tmp_path / "entity.parquet"), ["txn:amount_sum_1d"])
    assert from_path.to_arrow().column("amount_sum_1d").to_pylist() == want
    assert from_path.to_arrow().column("label").to_pylist() == ["a", "b", "c", "d"]
    out = tmp_path / "train.parquet"
    from_path.to_parquet(out)
    assert pq.read_table(out).column("amount_sum_1d").to_pylist() == want
    assert values(store, entity, ["txn:amount_sum_1d"])["amount_sum_1d"] == want


def test_plain_and_aggregate_views_in_one_request_and_a_spine(make_store: Callable[..., FeatureStore],
                                                              tmp_path: Path) -> None:
    write_events(tmp_path / "events.parquet", [ev(1, T0, 1.0), ev(1, T0 + H, 2.0), ev(2, T0 + H, 4.0)])
    plain = FeatureView(name="latest", entities=[card], schema=[Field(name="amount", dtype=Float64)],
                        source=ParquetSource(path="events.parquet", created_timestamp_field="created"))
    store = make_store()
    store.apply([card, plain, agg_view(Aggregation(column="amount", function="sum", windows=["1d"]),
                                       Aggregation(function="count"))])
    refs = ["txn:amount_sum_1d", "latest:amount", "txn:count"]
    # the plain view includes T, the aggregate view does not
    got = store.get_historical_features(frame([T0 + H, T0 + H, T0], [1, 2, 1]), refs,
                                        full_feature_names=True).to_arrow()
    assert sorted(got.column_names) == ["card_id", "event_timestamp", "latest__amount", "txn__amount_sum_1d",
                                        "txn__count"]
    assert got.column("txn__amount_sum_1d").to_pylist() == [1.0, 0.0, 0.0]
    assert got.column("latest__amount").to_pylist() == [2.0, 4.0, 1.0]
    assert got.column("txn__count").to_pylist() == [1, 0, 0]
    # no entity frame: the spine is every (key, event time) of the views' events in [start, end]
    spine = store.get_historical_features(None, ["txn:amount_sum_1d", "txn:count"], start_date=T0,
                                          end_date=T0 + 2 * H).to_arrow()
    assert spine.select(["card_id", "amount_sum_1d", "count"]).to_pylist() == [
        {"card_id": 1, "amount_sum_1d": 0.0, "count": 0}, {"card_id": 1, "amount_sum_1d": 1.0, "count": 1},
        {"card_id": 2, "amount_sum_1d": 0.0, "count": 0}]


def test_on_demand_view_over_an_aggregate_view(tmp_path: Path) -> None:
    write_events(tmp_path / "events.parquet", [ev(1, T0, 1.0), ev(1, T0 + H, 2.0)])
    (tmp_path / "featurestore.yaml").write_text("project: t\n")
    (tmp_path / "defs.py").write_text('''
import polars as pl
from featurestore import AggregateView, Aggregation, Entity, Field, OnDemandFeatureView, ParquetSource
from featurestore.types import Float64, Int64

card = Entity(name="card", join_keys=["card_id"])
txn = AggregateView(name="txn", entities=[card], source=ParquetSource(path="events.parquet"),
                    schema=[Field(name="card_id", dtype=Int64), Field(name="amount", dtype=Float64)],
                    aggregations=[Aggregation(column="amount", function="sum", windows=["1d"])])
double = OnDemandFeatureView(name="double", sources=[txn], schema=[Field(name="twice", dtype=Float64)],
                             expressions={"twice": pl.col("amount_sum_1d") * 2})
''')
    store = FeatureStore(tmp_path)
    store.apply()
    got = store.get_historical_features(frame([T0 + 2 * H]), ["double:twice", "txn:amount_sum_1d"]).to_arrow()
    assert got.column("twice").to_pylist() == [6.0]
    assert got.column("amount_sum_1d").to_pylist() == [3.0]


def test_errors_name_the_view_and_column(make_store: Callable[..., FeatureStore], tmp_path: Path) -> None:
    write_events(tmp_path / "events.parquet", [ev(1, T0, 1.0, status="12"), ev(1, T0, 1.0, status="x")])
    store = make_store()
    store.apply([card, agg_view(Aggregation(column="amount", function="sum", windows=["1d"],
                                            where="CAST(status AS INTEGER) > 3"))])
    with pytest.raises(FeatureStoreError) as info:  # the where fails on 'x' when the query runs
        store.get_historical_features(frame([T0 + H]), ["txn:amount_sum_1d"]).to_arrow()
    assert "'txn'" in str(info.value) and "'x'" in str(info.value) and "CAST(status AS INTEGER) > 3" in str(info.value)
    assert "duckdb" not in type(info.value).__module__
    pq.write_table(pq.read_table(tmp_path / "events.parquet").drop_columns(["amount"]), tmp_path / "events.parquet")
    with pytest.raises(DataSourceError) as gone:
        store.get_historical_features(frame([T0 + H]), ["txn:amount_sum_1d"]).to_arrow()
    assert "'txn'" in str(gone.value) and "'amount'" in str(gone.value)
    assert gone.value.column == "amount"


def test_multi_key_entities_and_key_only_in_the_entity_frame(make_store: Callable[..., FeatureStore],
                                                             tmp_path: Path) -> None:
    rows = [{"a": 1, "b": "x", "event_timestamp": T0, "v": 1}, {"a": 1, "b": "y", "event_timestamp": T0, "v": 2},
            {"a": 2, "b": "x", "event_timestamp": T0, "v": 4}]
    pq.write_table(pa.Table.from_pylist(rows, pa.schema([("a", pa.int32()), ("b", pa.string()),
                                                         ("event_timestamp", UTC_US), ("v", pa.int32())])),
                   tmp_path / "pairs.parquet")
    pair = Entity(name="pair", join_keys=["a", "b"])
    view = AggregateView(name="pairs", entities=[pair], source=ParquetSource(path="pairs.parquet"),
                         schema=[Field(name="a", dtype=Int32), Field(name="b", dtype=String),
                                 Field(name="v", dtype=Int32)],
                         aggregations=[Aggregation(column="v", function="sum"),
                                       Aggregation(column="v", function="max")])
    store = make_store()
    store.apply([pair, view])
    entity = pa.table({"a": pa.array([1, 1, 2, 2, 1], pa.int32()), "b": ["y", "x", "x", "y", None],
                       "event_timestamp": pa.array([T0 + US] * 5, UTC_US)})
    got = store.get_historical_features(entity, ["pairs:v_sum", "pairs:v_max"]).to_arrow()
    assert got.column("v_sum").to_pylist() == [2, 1, 4, 0, 0]
    assert got.column("v_max").to_pylist() == [2, 1, 4, None, None]
    assert got.schema.field("v_max").type == pa.int32() and got.schema.field("v_sum").type == pa.int64()



def test_times_centuries_apart_with_many_keys(make_store: Callable[..., FeatureStore], tmp_path: Path) -> None:
    # (key, time) no longer packs into a BIGINT as an offset: times are ranked instead; same answers
    rng = random.Random(11)
    anchors = [datetime(1, 1, 2, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC)]
    rows = [ev(rng.randint(1, 100), rng.choice(anchors) + rng.randint(0, 30) * H, rng.choice([1.0, 2.5, None]),
               created=rng.choice([None, anchors[1], anchors[2] + 40 * H])) for _ in range(3000)]
    write_events(tmp_path / "events.parquet", rows)
    store = make_store()
    store.apply([card, agg_view(*[Aggregation(column="amount", function=f, windows=["5h"])
                                  for f in ("sum", "count", "last", "max")], Aggregation(function="count"))])
    spine = [(rng.randint(1, 101), rng.choice(anchors) + rng.randint(0, 32) * H) for _ in range(400)]
    refs = ["txn:amount_sum_5h", "txn:amount_count_5h", "txn:amount_last_5h", "txn:amount_max_5h", "txn:count"]
    events = [{"key": (r["card_id"],), "ts": epoch_us(r["event_timestamp"]), "ord": i, "amount": r["amount"],
               "created": -(2**63) if r["created"] is None else epoch_us(r["created"])} for i, r in enumerate(rows)]
    for as_of_created in (False, True):
        got = values(store, frame([t for _, t in spine], [k for k, _ in spine]), refs, as_of_created=as_of_created)
        points = [((k,), epoch_us(t)) for k, t in spine]
        for ref in refs:
            name = ref.split(":")[1]
            five_hours = 5 * 3600 * 10**6
            fn, col, window = ("count", None, None) if name == "count" else (name.split("_")[1], "amount", five_hours)
            want = oracle(events, points, fn, col, window, as_of_created=as_of_created)
            assert all(same(g, w) for g, w in zip(got[name], want, strict=True)), (name, as_of_created)
