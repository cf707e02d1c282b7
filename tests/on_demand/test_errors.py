"""On-demand errors on every path: missing request data, user code that raises, code changed since apply;
and what resolution refuses (colliding names)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from featurestore import CodeMismatchError, FeatureStore, InputError, TransformError, resolve
from featurestore.resolution import HIDDEN
from tests.on_demand.conftest import DEFS, Data, make_data, make_repo, now_t, open_store
from tests.server.conftest import Server, base_env, start_server

BOOM = DEFS + '''

@on_demand_feature_view(sources=[trip], schema=[Field(name="inverse", dtype=Float64)])
def boom(row: dict) -> dict:
    return {"inverse": 1.0 / row["distance_km"]}
'''
REDIS_DB = 10


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[tuple[Path, Data, str]]:
    import redis

    url = redis_url.rsplit("/", 1)[0] + f"/{REDIS_DB}"
    with redis.Redis.from_url(url) as client:
        client.flushdb()
    data = make_data(5, now_t())
    repo = make_repo(tmp_path_factory.mktemp("odfv-errors") / "repo", data, "odfverrors", BOOM)
    with open_store(repo, url) as fs:
        fs.materialize(data.t - timedelta(days=30), data.t)
    yield repo, data, url


@pytest.fixture(scope="module")
def server(world: tuple[Path, Data, str]) -> Iterator[Server]:
    repo, _, url = world
    s = start_server(repo, base_env(url))
    yield s
    s.stop()


def entity_df(data: Data, **extra: list[Any]) -> pa.Table:
    return pa.table({"driver_id": [1, 2, 3], "event_timestamp": pa.array([data.t] * 3, pa.timestamp("us", tz="UTC")),
                     **extra})


def test_offline_missing_request_column_names_it(world: tuple[Path, Data, str]) -> None:
    repo, data, _ = world
    with FeatureStore(repo) as fs, pytest.raises(InputError, match="distance_km") as err:
        fs.get_historical_features(entity_df(data), ["pol:eta_min"])
    assert err.value.column == "distance_km" and err.value.view == "pol"
    assert "request source 'trip'" in err.value.message


def test_online_missing_request_field_names_it(world: tuple[Path, Data, str], server: Server) -> None:
    repo, _, url = world
    with open_store(repo, url) as fs:
        with pytest.raises(InputError, match="distance_km") as err:
            fs.get_online_features(["py:fare"], [{"driver_id": 1}])
        assert err.value.field == "distance_km" and err.value.view == "py"
        assert fs.get_online_features(["py:fare"], []).to_dict() == {"driver_id": [], "fare": []}
    client = server.client()
    for path, body in (("/get-online-features", {"features": ["py:fare"], "entities": {"driver_id": [1]}}),
                       ("/v1/online", {"features": ["py:fare"], "entities": [{"driver_id": 1}]})):
        r = client.post(path, json=body)
        assert r.status_code == 400, r.text
        assert r.json()["fields"] == {"view": "py", "field": "distance_km"}
    r = client.post("/get-online-features", json={"features": ["py:fare"], "entities": {"driver_id": [1]},
                                                   "request_context": {"distance_km": ["far"]}})
    assert r.status_code == 400 and r.json()["fields"]["field"] == "distance_km", r.text
    r = client.post("/get-online-features", json={"features": ["py:fare"], "entities": {"driver_id": [1],
                    "distance_km": [3.0]}, "request_context": {"distance_km": [4.0]}})
    assert r.status_code == 400 and "both" in r.json()["detail"], r.text


def test_exception_in_user_code(world: tuple[Path, Data, str], server: Server) -> None:
    repo, data, url = world
    with FeatureStore(repo) as fs:
        job = fs.get_historical_features(entity_df(data, distance_km=[1.0, 2.0, 0.0]), ["boom:inverse"])
        with pytest.raises(TransformError) as err:
            job.to_arrow()
        assert err.value.view == "boom" and "ZeroDivisionError" in err.value.message
        assert (err.value.row or "").startswith("entity row 2 (driver_id=3, distance_km=0.0, event_timestamp=")
        with pytest.raises(TransformError, match="entity row 2"):  # streamed in batches: the row counts on
            list(job.to_batches(2))
    with open_store(repo, url) as fs, pytest.raises(TransformError, match="boom"):
        fs.get_online_features(["boom:inverse"], [{"driver_id": 1, "distance_km": 0.0}])
    client = server.client()
    for path in ("/get-online-features", "/v1/online"):
        r = client.post(path, json={"features": ["boom:inverse"], "entities": {"driver_id": [1, 2]},
                                    "request_context": {"distance_km": [2.0, 0.0]}})
        assert r.status_code == 500, r.text
        body = r.json()
        assert body["error"] == "TransformError" and body["fields"]["view"] == "boom", body
        assert "Traceback" not in r.text
    ok = client.post("/v1/online", json={"features": ["boom:inverse"], "entities": [{"driver_id": 1,
                                                                                      "distance_km": 4.0}]})
    assert ok.status_code == 200 and ok.json()["rows"] == [{"inverse": 0.25}], ok.text


def test_code_changed_since_apply(world: tuple[Path, Data, str], tmp_path: Path) -> None:
    repo, data, url = world
    copy = tmp_path / "repo"
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns("__pycache__", "server-*.log"))
    (copy / "defs.py").write_text(BOOM.replace("2.5 + 1.2 * km", "3.5 + 1.2 * km"))
    with open_store(copy, url) as fs:
        with pytest.raises(CodeMismatchError) as err:
            fs.get_online_features(["py:fare"], [{"driver_id": 1, "distance_km": 2.0}])
        assert err.value.view == "py"
        with pytest.raises(CodeMismatchError):
            fs.get_historical_features(entity_df(data, distance_km=[1.0, 2.0, 3.0]), ["py:fare"])
        assert fs.get_online_features(["pol:eta_min"], [{"driver_id": 1, "distance_km": 2.0}]).statuses
    server = start_server(copy, base_env(url))
    try:
        client = server.client()
        r = client.post("/get-online-features", json={"features": ["py:fare"], "entities": {"driver_id": [1]},
                                                       "request_context": {"distance_km": [2.0]}})
        assert r.status_code == 503 and r.json()["fields"]["view"] == "py", r.text
        assert client.get("/ready").status_code == 503
    finally:
        server.stop()


def test_resolution_hidden_inputs_shared_and_collisions(world: tuple[Path, Data, str]) -> None:
    repo, data, _ = world
    with FeatureStore(repo) as fs:
        state = fs.state()
        r = resolve(["stats:rate", "pol:score", "py:fare"], state)
        assert [(v.name, v.features, v.out_names) for v in r.views] == [
            ("stats", ("rate", "speed", "trips", "tier"),
             ("rate", f"{HIDDEN}stats__speed", f"{HIDDEN}stats__trips", f"{HIDDEN}stats__tier")),
            ("extra", ("bonus", "label"), (f"{HIDDEN}extra__bonus", f"{HIDDEN}extra__label"))]
        assert r.columns == ("rate", "score", "fare") and r.request_fields == ("distance_km",)
        assert [o.name for o in r.on_demand] == ["pol", "py"] and r.on_demand[1].sources == (0, 1)
        assert resolve(["pol:*"], state, True).columns == ("pol__eta_min", "pol__long_trip", "pol__score")
        with pytest.raises(InputError, match=r"'score'.*collides"):
            fs.get_historical_features(entity_df(data, distance_km=[1.0, 2.0, 3.0], score=[1, 2, 3]), ["pol:score"])
