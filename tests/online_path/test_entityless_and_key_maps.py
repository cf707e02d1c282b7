"""Views without entities (global features) and projections that map join keys, offline and online.

A ride has a driver, an origin and a destination. ``platform`` is a view without entities (a
platform-wide rate joined to every row by time only); ``location`` is keyed by ``location_id`` and
serves twice through projections: ``origin`` reads the key from ``origin_id``, ``dest`` from
``dest_id``. Offline answers are checked against the brute-force reference on random data, and
the online answer against the offline one at the same instant, on SQLite and Redis.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import (
    DefinitionError,
    Entity,
    FeatureService,
    FeatureStore,
    FeatureView,
    Field,
    InputError,
    ParquetSource,
)
from featurestore.config import parse_config
from featurestore.types import Float64, Int64
from tests.offline.reference import point_in_time

driver = Entity(name="driver", join_keys=["driver_id"])
location = Entity(name="location", join_keys=["location_id"])
TS = pa.timestamp("us", tz="UTC")


@pytest.fixture
def make_store(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Offline-only tests: one store on the embedded online store."""
    return lambda: FeatureStore(tmp_path, config=parse_config({"project": "t"}, "test", env={}))


def _views(platform_ttl: timedelta | None) -> tuple[FeatureView, FeatureView, FeatureView]:
    drv = FeatureView(name="drv", entities=[driver], schema=[Field(name="rating", dtype=Float64)],
                      source=ParquetSource(path="drv.parquet"))
    platform = FeatureView(name="platform", entities=[], ttl=platform_ttl,
                           schema=[Field(name="rate", dtype=Float64), Field(name="rides", dtype=Int64)],
                           source=ParquetSource(path="platform.parquet", created_timestamp_field="created"))
    loc = FeatureView(name="location", entities=[location], schema=[Field(name="temp", dtype=Float64)],
                      source=ParquetSource(path="location.parquet"))
    return drv, platform, loc


def _service(drv: FeatureView, platform: FeatureView, loc: FeatureView) -> FeatureService:
    return FeatureService(name="rides", features=[
        drv, platform,
        loc.with_name("origin").with_join_key_map({"location_id": "origin_id"}),
        loc.with_name("dest").with_join_key_map({"location_id": "dest_id"})[["temp"]],
    ])


def _write(tmp_path: Path, rng: random.Random, base: datetime) -> dict[str, list[dict]]:
    def t() -> datetime:
        return base + timedelta(minutes=rng.randint(0, 40))

    rows = {
        "drv": [{"driver_id": rng.randint(1, 4), "event_timestamp": t(), "rating": rng.random()}
                for _ in range(rng.randint(1, 30))],
        "platform": [],
        "location": [{"location_id": rng.randint(1, 5), "event_timestamp": t(), "temp": rng.random()}
                     for _ in range(rng.randint(1, 30))],
    }
    for _ in range(rng.randint(1, 25)):
        ev = t()
        rows["platform"].append({"event_timestamp": ev, "created": rng.choice([None, ev, ev + timedelta(seconds=5)]),
                                 "rate": rng.random(), "rides": rng.randint(0, 9)})
    pq.write_table(pa.Table.from_pylist(rows["drv"], schema=pa.schema(
        [("driver_id", pa.int64()), ("event_timestamp", TS), ("rating", pa.float64())])), tmp_path / "drv.parquet")
    pq.write_table(pa.Table.from_pylist(rows["platform"], schema=pa.schema(
        [("event_timestamp", TS), ("created", TS), ("rate", pa.float64()), ("rides", pa.int64())])),
        tmp_path / "platform.parquet")
    pq.write_table(pa.Table.from_pylist(rows["location"], schema=pa.schema(
        [("location_id", pa.int64()), ("event_timestamp", TS), ("temp", pa.float64())])),
        tmp_path / "location.parquet")
    return rows


def _entity_rows(rng: random.Random, base: datetime, n: int) -> list[dict]:
    return [{"driver_id": rng.choice([1, 2, 3, 4, 9]), "origin_id": rng.choice([1, 2, 3, 4, 5, 7]),
             "dest_id": rng.choice([1, 2, 3, 4, 5, None]),
             "event_timestamp": base + timedelta(minutes=rng.randint(-5, 50))} for _ in range(n)]


def _expected(rows: dict[str, list[dict]], entities: list[dict], platform_ttl: timedelta | None) -> list[dict]:
    drv = point_in_time(rows["drv"], ["driver_id"], ["rating"], entities)
    plat = point_in_time(rows["platform"], [], ["rate", "rides"], entities, ttl=platform_ttl, created_col="created")
    origin = point_in_time(rows["location"], ["location_id"], ["temp"],
                           [{**e, "location_id": e["origin_id"]} for e in entities])
    dest = point_in_time(rows["location"], ["location_id"], ["temp"],
                         [{**e, "location_id": e["dest_id"]} for e in entities])
    return [{"drv__rating": d["rating"], "platform__rate": p["rate"], "platform__rides": p["rides"],
             "origin__temp": o["temp"], "dest__temp": s["temp"]}
            for d, p, o, s in zip(drv, plat, origin, dest, strict=True)]


@pytest.mark.parametrize("seed", range(12))
def test_offline_matches_reference(make_store, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    base = datetime(2026, 5, 1, tzinfo=UTC)
    ttl = rng.choice([None, timedelta(minutes=10)])
    rows = _write(tmp_path, rng, base)
    store = make_store()
    views = _views(ttl)
    svc = _service(*views)
    store.apply([driver, location, *views, svc])
    entities = _entity_rows(rng, base, rng.randint(1, 60))
    table = pa.Table.from_pylist(entities, schema=pa.schema([("driver_id", pa.int64()), ("origin_id", pa.int64()),
                                                              ("dest_id", pa.int64()), ("event_timestamp", TS)]))
    got = store.get_historical_features(table, store.get_feature_service("rides"), full_feature_names=True).to_arrow()
    assert got.column_names == [*table.column_names, "drv__rating", "platform__rate", "platform__rides",
                                "origin__temp", "dest__temp"]
    assert got.select(table.column_names).equals(table)
    want = _expected(rows, entities, ttl)
    for i, row in enumerate(got.to_pylist()):
        assert {k: row[k] for k in want[i]} == want[i], f"entity row {i}: {entities[i]}"


def test_entityless_spine_is_every_event_time(make_store, tmp_path: Path) -> None:
    rng = random.Random(5)
    base = datetime(2026, 5, 1, tzinfo=UTC)
    rows = _write(tmp_path, rng, base)
    store = make_store()
    store.apply([driver, location, *_views(None)])
    got = store.get_historical_features(features=["platform:rate"], start_date=base.replace(tzinfo=None),
                                        end_date=base + timedelta(hours=1)).to_arrow()
    times = sorted({r["event_timestamp"] for r in rows["platform"]})
    assert got.column("event_timestamp").to_pylist() == times
    want = point_in_time(rows["platform"], [], ["rate"], [{"event_timestamp": t} for t in times],
                         created_col="created")
    assert got.column("rate").to_pylist() == [w["rate"] for w in want]


def test_projection_outputs_collide_without_full_names(make_store, tmp_path: Path) -> None:
    _write(tmp_path, random.Random(1), datetime(2026, 5, 1, tzinfo=UTC))
    store = make_store()
    views = _views(None)
    store.apply([driver, location, *views, _service(*views)])
    entity = {"driver_id": [1], "origin_id": [1], "dest_id": [2], "event_timestamp": [datetime(2026, 5, 2)]}
    with pytest.raises(InputError, match=r"'temp'.*full_feature_names"):
        store.get_historical_features(entity, store.get_feature_service("rides"))


def test_mapped_key_missing_from_entity_rows_is_named(make_store, tmp_path: Path) -> None:
    _write(tmp_path, random.Random(1), datetime(2026, 5, 1, tzinfo=UTC))
    store = make_store()
    views = _views(None)
    store.apply([driver, location, *views, _service(*views)])
    entity = {"driver_id": [1], "origin_id": [1], "event_timestamp": [datetime(2026, 5, 2)]}
    with pytest.raises(InputError, match="'dest_id'") as err:
        store.get_historical_features(entity, store.get_feature_service("rides"), full_feature_names=True)
    assert err.value.join_key == "dest_id"


def test_bad_projections_are_refused_at_definition() -> None:
    _, _, loc = _views(None)
    with pytest.raises(DefinitionError, match="no join key 'loc_id'"):
        loc.with_join_key_map({"loc_id": "origin_id"})
    with pytest.raises(DefinitionError, match="name 'location' for two different projections"):
        FeatureService(name="s", features=[loc, loc.with_join_key_map({"location_id": "origin_id"})])


@pytest.mark.parametrize("seed", range(3))
def test_online_equals_offline(make_fs, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    base = now - timedelta(hours=1)
    _write(tmp_path, rng, base)
    store = make_fs()
    views = _views(timedelta(days=1))
    store.apply([driver, location, *views, _service(*views)])
    store.materialize(base - timedelta(days=1), now)
    entities = _entity_rows(rng, base, 20)
    for e in entities:
        e["event_timestamp"] = now
        e["dest_id"] = 99 if e["dest_id"] is None else e["dest_id"]  # online refuses a null key
    svc = store.get_feature_service("rides")
    offline = store.get_historical_features(pa.Table.from_pylist(entities, schema=pa.schema(
        [("driver_id", pa.int64()), ("origin_id", pa.int64()), ("dest_id", pa.int64()), ("event_timestamp", TS)])),
        svc, full_feature_names=True).to_arrow()
    online = store.get_online_features(svc, [{k: v for k, v in e.items() if k != "event_timestamp"}
                                             for e in entities], full_feature_names=True).to_dict()
    for name in ("drv__rating", "platform__rate", "platform__rides", "origin__temp", "dest__temp"):
        assert online[name] == offline.column(name).to_pylist(), name
    for key in ("driver_id", "origin_id", "dest_id"):
        assert online[key] == [e[key] for e in entities]
    by_name = store.get_online_features("rides", [{"driver_id": 1, "origin_id": 2, "dest_id": 3}],
                                        full_feature_names=True).to_dict()
    assert set(by_name) == {"driver_id", "origin_id", "dest_id", *(n for n in online if "__" in n)}


def test_http_answers_equal_the_sdk(make_fs, tmp_path: Path) -> None:
    """Both HTTP forms serve the projections and the view without entities exactly as the SDK does."""
    from fastapi.testclient import TestClient

    from server import create_app

    rng = random.Random(7)
    now = datetime.now(UTC).replace(microsecond=0)
    _write(tmp_path, rng, now - timedelta(hours=1))
    store = make_fs()
    views = _views(timedelta(days=1))
    store.apply([driver, location, *views, _service(*views)])
    store.materialize(now - timedelta(days=1), now)
    rows = [{"driver_id": d, "origin_id": o, "dest_id": t} for d, o, t in [(1, 2, 3), (9, 7, 1), (2, 1, 1)]]
    sdk = store.get_online_features("rides", rows, full_feature_names=True)
    columns = {k: [r[k] for r in rows] for k in rows[0]}
    with TestClient(create_app(store=store)) as client:
        feast = client.post("/get-online-features", json={"feature_service": "rides", "entities": columns,
                                                           "full_feature_names": True})
        assert feast.status_code == 200, feast.text
        body = feast.json()
        got = {n: r["values"] for n, r in zip(body["metadata"]["feature_names"], body["results"], strict=True)}
        assert got == sdk.to_dict()
        native = client.post("/v1/online", json={"feature_service": "rides", "entities": rows,
                                                 "full_feature_names": True, "orient": "columns"})
        assert native.status_code == 200, native.text
        assert set(native.json()["statuses"]) == {"drv", "platform", "origin", "dest"}
        missing = client.post("/get-online-features", json={"feature_service": "rides", "entities": {
            "driver_id": [1], "origin_id": [2]}, "full_feature_names": True})
        assert missing.status_code == 400 and "'dest_id'" in missing.json()["detail"]


def test_apply_refuses_a_map_of_a_key_the_registered_view_lacks(make_store, tmp_path: Path) -> None:
    from featurestore.definitions.feature_view import FeatureViewProjection

    _write(tmp_path, random.Random(1), datetime(2026, 5, 1, tzinfo=UTC))
    store = make_store()
    views = _views(None)
    store.apply([driver, location, *views])
    bad = FeatureService(name="bad", features=[FeatureViewProjection("location", (), "o", {"zone_id": "o_id"})])
    with pytest.raises(DefinitionError, match="has no join key 'zone_id'"):
        store.apply([bad])
    assert "bad" not in [s.name for s in store.list_feature_services()]
