"""On-demand views computed offline (training set at T) and online (after materializing at T) agree exactly:
values, statuses (PRESENT, NOT_FOUND, OUTSIDE_MAX_AGE), over SQLite and Redis, from the SDK and over HTTP;
and the Python row function's answers equal a brute-force reference."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from featurestore import FeatureStore
from featurestore.utc import epoch_us
from tests.on_demand.conftest import Data, make_data, make_repo, now_t, open_store, reference_py, same
from tests.server.conftest import base_env, start_server

FEATURES = ["pol:eta_min", "pol:long_trip", "pol:score", "py:fare", "py:fast", "py:tag", "stats:rate"]
REDIS_DB = 9


@pytest.fixture(scope="module", params=[11, 12])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          redis_url: str) -> Iterator[tuple[Path, Data, str]]:
    import redis

    url = redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    data = make_data(request.param, now_t())
    repo = make_repo(tmp_path_factory.mktemp("odfv") / "repo", data, f"odfv{request.param}")
    for target in (None, url):
        with open_store(repo, target) as fs:
            fs.materialize(data.t - timedelta_days(30), data.t)
    yield repo, data, url


def timedelta_days(n: int) -> Any:
    from datetime import timedelta

    return timedelta(days=n)


def offline_rows(fs: FeatureStore, data: Data, features: Any = FEATURES) -> list[dict[str, Any]]:
    entity = pa.table({"driver_id": pa.array([e["driver_id"] for e in data.entity_rows], pa.int64()),
                       "event_timestamp": pa.array([data.t] * len(data.entity_rows), pa.timestamp("us", tz="UTC")),
                       "distance_km": pa.array([e["distance_km"] for e in data.entity_rows], pa.float64())})
    rows: list[dict[str, Any]] = fs.get_historical_features(entity, features).to_arrow().to_pylist()
    return rows


def check_equal(got: list[Any], want: list[Any], what: str) -> None:
    bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, want, strict=True)) if not same(g, w)]
    assert not bad, f"{what}: rows differ (row, got, want): {bad[:5]}"


@pytest.mark.parametrize("online", ["sqlite", "redis"])
def test_offline_online_and_reference_agree(world: tuple[Path, Data, str], online: str) -> None:
    repo, data, url = world
    with open_store(repo, url if online == "redis" else None) as fs:
        offline = offline_rows(fs, data)
        answer = fs.get_online_features(FEATURES, data.entity_rows)
    online_values = answer.to_dict()
    assert list(online_values) == ["driver_id", *(f.split(":")[1] for f in FEATURES)]
    assert list(offline[0]) == ["driver_id", "event_timestamp", "distance_km", *online_values][:3] + [
        f.split(":")[1] for f in FEATURES]
    for name in online_values:
        if name != "driver_id":
            check_equal(online_values[name], [r[name] for r in offline], f"{online} {name}")
    reference = reference_py(data)
    for name in ("fare", "fast", "tag"):
        check_equal(online_values[name], [r[name] for r in reference], f"reference {name}")
    check_equal(answer.statuses["fare"], [r["status"] for r in reference], "py statuses")
    py_view = next(v for v in answer.views if v.name == "py")
    check_equal(py_view.event_times_us, [None if r["ts"] is None else epoch_us(r["ts"]) for r in reference],
                "py event times")
    assert [v.name for v in answer.views] == ["pol", "py", "stats"]  # request order; extra (read hidden) not shown
    statuses = set(answer.statuses["fare"])
    assert statuses == {"PRESENT", "NOT_FOUND", "OUTSIDE_MAX_AGE"}, statuses  # the data covers every status
    # pol reads stats only: its statuses are the stats view's
    assert answer.statuses["eta_min"] == answer.statuses["rate"]


def test_feature_service_and_batches_agree(world: tuple[Path, Data, str]) -> None:
    repo, data, _ = world
    with open_store(repo, None) as fs:
        whole = offline_rows(fs, data, fs.get_feature_service("quote"))
        entity = pa.Table.from_pylist([{**e, "event_timestamp": data.t} for e in data.entity_rows])
        job = fs.get_historical_features(entity, fs.get_feature_service("quote"), full_feature_names=True)
        batches = pa.Table.from_batches(list(job.to_batches(7))).to_pylist()
        table = job.to_arrow().to_pylist()
        parquet = pa.parquet.read_table(job.to_parquet(repo / "out.parquet")).to_pylist()
        answer = fs.get_online_features("quote", data.entity_rows)
    assert list(whole[0])[3:] == ["eta_min", "long_trip", "score", "fare", "rate"]
    assert list(table[0])[3:] == ["pol__eta_min", "pol__long_trip", "pol__score", "py__fare", "stats__rate"]
    for other in (batches, parquet):
        for name in table[0]:
            check_equal([r[name] for r in other], [r[name] for r in table], name)
    for name in ("eta_min", "score", "fare", "rate"):
        check_equal(answer.to_dict()[name], [r[name] for r in whole], name)


def test_http_agrees_with_the_sdk(world: tuple[Path, Data, str]) -> None:
    repo, data, url = world
    with open_store(repo, url) as fs:
        offline = offline_rows(fs, data)
        sdk = fs.get_online_features(FEATURES, data.entity_rows)
    server = start_server(repo, base_env(url))
    try:
        client = server.client()
        ids = [e["driver_id"] for e in data.entity_rows]
        km = [e["distance_km"] for e in data.entity_rows]
        feast = client.post("/get-online-features", json={"features": FEATURES, "entities": {"driver_id": ids},
                                                           "request_context": {"distance_km": km}})
        assert feast.status_code == 200, feast.text
        body = feast.json()
        names = body["metadata"]["feature_names"]
        assert names == ["driver_id", *(f.split(":")[1] for f in FEATURES)]
        for name, result in zip(names[1:], body["results"][1:], strict=True):
            check_equal(result["values"], [r[name] for r in offline], f"feast {name}")
            assert result["statuses"] == sdk.statuses[name]
        native = client.post("/v1/online", json={"features": FEATURES, "entities": data.entity_rows,
                                                  "orient": "columns"})
        assert native.status_code == 200, native.text
        out = native.json()
        for name in names[1:]:
            check_equal(out["columns"][name], [r[name] for r in offline], f"native {name}")
        assert out["statuses"]["py"] == sdk.statuses["fare"] and "extra" not in out["statuses"]
        catalog = client.get("/features").json()
        assert {v["name"]: v["mode"] for v in catalog["on_demand_feature_views"]} == {"pol": "polars", "py": "python"}
    finally:
        server.stop()
