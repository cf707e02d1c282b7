"""Materialize + online lookups against both stores: equal to the offline answer, incremental, ttl, errors."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import Entity, FeatureView, Field, InputError, NotFoundError, ParquetSource
from featurestore.online.lookup import OnlineReader
from featurestore.types import Float64, String

T = datetime(2026, 6, 1, 12, tzinfo=UTC)
driver = Entity(name="driver", join_keys=["driver_id"])
city = Entity(name="city", join_keys=["city"])
SCHEMA = pa.schema([("driver_id", pa.int64()), ("city", pa.string()), ("event_timestamp", pa.timestamp("us", tz="UTC")),
                    ("created", pa.timestamp("us", tz="UTC")), ("x", pa.float64()), ("x2", pa.float64()),
                    ("label", pa.string())])


def views(ttl: timedelta | None = timedelta(minutes=30), path: str = "src") -> list[FeatureView]:
    return [
        FeatureView(name="by_driver", entities=[driver], ttl=ttl,
                    schema=[Field(name="x", dtype=Float64), Field(name="x2", dtype=Float64),
                            Field(name="label", dtype=String)],
                    source=ParquetSource(path=path, created_timestamp_field="created")),
        FeatureView(name="by_pair", entities=[driver, city], ttl=None,
                    schema=[Field(name="x", dtype=Float64)],
                    source=ParquetSource(path=path, created_timestamp_field="created")),
    ]


def write_rows(tmp_path, rows, name="part-0.parquet"):  # type: ignore[no-untyped-def]
    (tmp_path / "src").mkdir(exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), tmp_path / "src" / name)


def random_rows(rng: random.Random, n: int, drivers: int = 30) -> list[dict]:
    rows = []
    for _ in range(n):
        ev = T - timedelta(minutes=rng.randint(0, 90)) + timedelta(minutes=rng.choice([0, 0, 5]))
        x = rng.random()
        rows.append({"driver_id": rng.randint(1, drivers), "city": rng.choice(["a", "b,c", "é"]),
                     "event_timestamp": ev, "created": rng.choice([None, ev, ev + timedelta(seconds=1)]),
                     "x": x, "x2": 2 * x, "label": rng.choice(["", "u", None])})
    return rows


def online_at(store, features, rows, now=T):  # type: ignore[no-untyped-def]
    return OnlineReader(store.online).read(store.state(), features, rows, now=now)


@pytest.mark.parametrize("seed", range(6))
def test_online_equals_offline_after_materializing_in_any_order(make_fs, tmp_path, seed: int) -> None:
    rng = random.Random(seed)
    write_rows(tmp_path, random_rows(rng, 300))
    store = make_fs()
    store.apply([driver, city, *views()])
    cuts = sorted(T - timedelta(minutes=rng.randint(0, 90)) for _ in range(2))
    windows = [(T - timedelta(days=1), cuts[0]), (cuts[0], cuts[1]), (cuts[1], T)]
    rng.shuffle(windows)  # never-older-wins makes the order irrelevant
    for start, end in windows:
        store.materialize(start, end)
    entities = [{"driver_id": d, "city": c} for d in range(0, 32) for c in ["a", "b,c", "é", "zz"]]
    rng.shuffle(entities)
    entities += entities[:7]  # duplicates
    feats = ["by_driver:x", "by_driver:x2", "by_driver:label", "by_pair:x"]
    got = OnlineReader(store.online).read(store.state(), feats, entities, full_feature_names=True, now=T)
    ent = pa.Table.from_pylist([{**e, "event_timestamp": T} for e in entities])
    offline = store.get_historical_features(ent, feats, full_feature_names=True).to_arrow().to_pydict()
    online = got.to_dict()
    assert list(online) == ["driver_id", "city", "by_driver__x", "by_driver__x2", "by_driver__label", "by_pair__x"]
    for name in ["driver_id", "city", "by_driver__x", "by_driver__x2", "by_driver__label", "by_pair__x"]:
        assert online[name] == offline[name], name
    assert "PRESENT" in got.statuses["by_driver__x"] and "NOT_FOUND" in got.statuses["by_pair__x"]


def test_statuses_and_event_timestamps(make_fs, tmp_path) -> None:
    write_rows(tmp_path, [
        {"driver_id": 1, "city": "a", "event_timestamp": T - timedelta(minutes=10), "created": None, "x": 1.0,
         "x2": 2.0, "label": "fresh"},
        {"driver_id": 2, "city": "a", "event_timestamp": T - timedelta(minutes=31), "created": None, "x": 3.0,
         "x2": 6.0, "label": "stale"},
    ])
    store = make_fs()
    store.apply([driver, city, *views()])
    store.materialize(T - timedelta(days=1), T)
    r = online_at(store, ["by_driver:x", "by_driver:label"], {"driver_id": [2, 1, 3, 1]})
    assert r.to_dict() == {"driver_id": [2, 1, 3, 1], "x": [None, 1.0, None, 1.0],
                           "label": [None, "fresh", None, "fresh"]}
    assert r.statuses["x"] == ["OUTSIDE_MAX_AGE", "PRESENT", "NOT_FOUND", "PRESENT"]
    assert r.event_timestamps["x"][1] == T - timedelta(minutes=10) and r.event_timestamps["x"][2] is None
    assert r.to_arrow().column("x").type == pa.float64() and r.to_pandas().shape == (4, 3)
    assert r.to_polars().shape == (4, 3)


def test_incremental_runs_and_late_rows(make_fs, tmp_path) -> None:
    row = {"city": "a", "created": None, "x2": 0.0, "label": "l"}
    write_rows(tmp_path, [{**row, "driver_id": 1, "event_timestamp": T - timedelta(minutes=40), "x": 1.0},
                          {**row, "driver_id": 2, "event_timestamp": T - timedelta(minutes=20), "x": 2.0}])
    store = make_fs()
    store.apply([driver, city, *views()])
    store.materialize_incremental(T, feature_views=["by_driver"])  # first run: from T - ttl (30 min)
    state = store.watermarks()["by_driver"]
    assert datetime.fromisoformat(state["watermark"]) == T and state["last_rows"] == 1
    now = T + timedelta(minutes=10)
    assert online_at(store, ["by_driver:x"], {"driver_id": [1, 2]}, now=now).to_dict()["x"] == [None, 2.0]
    write_rows(tmp_path, [{**row, "driver_id": 3, "event_timestamp": T + timedelta(minutes=5), "x": 3.0},
                          {**row, "driver_id": 2, "event_timestamp": T - timedelta(minutes=5), "x": 9.0}],
               name="part-1.parquet")  # driver 2's row arrives late: its event time is before the watermark
    store.materialize_incremental(now, feature_views=["by_driver"])
    assert online_at(store, ["by_driver:x"], {"driver_id": [2, 3]}, now=now).to_dict()["x"] == [2.0, 3.0]
    store.materialize(T - timedelta(hours=1), now, feature_views=["by_driver"])  # a backfill picks it up
    assert online_at(store, ["by_driver:x"], {"driver_id": [2, 3]}, now=now).to_dict()["x"] == [9.0, 3.0]
    assert datetime.fromisoformat(store.watermarks()["by_driver"]["watermark"]) == now


@pytest.mark.parametrize(("features", "rows", "error", "match"), [
    (["by_driver:x"], [{"city": "a"}], InputError, "'driver_id'"),
    (["by_driver:nope"], [{"driver_id": 1}], NotFoundError, "'nope'"),
    (["nope:x"], [{"driver_id": 1}], NotFoundError, "'nope'"),
    (["by_driver:x"], [{"driver_id": "1"}], InputError, "'driver_id'"),
    (["by_driver:x"], [{"driver_id": True}], InputError, "'driver_id'"),
    (["by_pair:x"], {"driver_id": [1, 2], "city": ["a"]}, InputError, "lengths"),
])
def test_lookup_errors_name_the_culprit(make_fs, tmp_path, features, rows, error, match) -> None:
    write_rows(tmp_path, random_rows(random.Random(0), 5))
    store = make_fs()
    store.apply([driver, city, *views()])
    with pytest.raises(error, match=match):
        store.get_online_features(features, rows)


def test_removed_view_loses_online_data_and_teardown_is_per_project(make_fs, tmp_path) -> None:
    write_rows(tmp_path, random_rows(random.Random(1), 50, drivers=3))
    store, other = make_fs("t"), make_fs("t2", registry="data/other.json")
    for s in (store, other):
        s.apply([driver, city, *views()])
        s.materialize(T - timedelta(days=1), T)
    pair = {"driver_id": [1, 2, 3], "city": ["a", "a", "a"]}
    assert "PRESENT" in online_at(store, ["by_pair:x"], pair).statuses["x"]
    store.apply([], objects_to_delete=[views()[1]])
    assert "by_pair" not in store.state().objects["feature_views"]
    store.apply([views()[1]])  # back again: its old online data is gone
    assert online_at(store, ["by_pair:x"], pair).statuses["x"] == ["NOT_FOUND"] * 3
    assert "PRESENT" in online_at(store, ["by_driver:x"], {"driver_id": [1, 2, 3]}).statuses["x"]
    store.teardown()
    assert online_at(store, ["by_driver:x"], {"driver_id": [1, 2, 3]}).statuses["x"] == ["NOT_FOUND"] * 3
    assert "PRESENT" in online_at(other, ["by_driver:x"], {"driver_id": [1, 2, 3]}).statuses["x"]
    assert "PRESENT" in online_at(other, ["by_pair:x"], pair).statuses["x"]


def test_reshaped_view_keeps_its_unchanged_features_online_and_resets_its_watermark(make_fs, tmp_path) -> None:
    write_rows(tmp_path, random_rows(random.Random(2), 50, drivers=3))
    store = make_fs()
    store.apply([driver, city, *views()])
    store.materialize(T - timedelta(days=1), T)
    rows = {"driver_id": [1, 2, 3]}
    v = views()[0]
    store.apply([replace(v, description="now documented")])
    assert "PRESENT" in online_at(store, ["by_driver:x"], rows).statuses["x"]
    assert "by_driver" in store.watermarks()
    before = online_at(store, ["by_driver:x"], rows).to_dict()
    store.apply([replace(v, schema=v.schema[:2])])  # label dropped: x stays readable
    after = online_at(store, ["by_driver:x"], rows)
    assert after.statuses["x"] == ["PRESENT"] * 3 and after.to_dict() == before
    assert "by_driver" not in store.watermarks()  # materialize-incremental reloads the view


def test_apply_with_redis_down_still_applies_and_warns(tmp_path, redis_factory) -> None:  # type: ignore[no-untyped-def]
    from featurestore import FeatureStore
    from featurestore.config import parse_config

    write_rows(tmp_path, random_rows(random.Random(3), 20, drivers=3))
    server = redis_factory()
    cfg = parse_config({"project": "t", "online_store": {"type": "redis", "url": server.url,
                                                         "socket_timeout_seconds": 0.5}}, "test", env={})
    store = FeatureStore(tmp_path, config=cfg)
    store.apply([driver, city, *views()])
    store.materialize(T - timedelta(days=1), T)
    server.stop()
    with pytest.warns(UserWarning, match="could not be deleted"):
        store.apply([], objects_to_delete=[views()[1]])
    assert "by_pair" not in store.state().objects["feature_views"]
