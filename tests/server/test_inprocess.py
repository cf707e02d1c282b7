"""Fine-grained cases in process (FastAPI's TestClient, SQLite online store): 500s, registry trouble,
readiness, keys, conversions."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from featurestore import (
    BusyError,
    ConfigError,
    DataSourceError,
    DefinitionError,
    FeatureStore,
    FeatureStoreError,
    FeatureView,
    Field,
    InputError,
    NotFoundError,
    OnlineStoreError,
    OnlineStoreUnavailableError,
    ParquetSource,
    PushSource,
    RegistryError,
)
from featurestore.types import Bytes, Float64, Timestamp
from server import create_app
from server.auth import ApiKeys
from server.errors import status_of
from server.frames import column_kinds, to_table
from tests.server.conftest import EXAMPLE
from tests.server.test_ops_http import sample

LOOKUP = {"features": ["driver_stats:conv_rate"], "entities": {"driver_id": [1001, 1]}}


def sqlite_repo(folder: Path, **server: Any) -> Path:
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("data", "__pycache__"))
    config = yaml.safe_load((folder / "featurestore.yaml").read_text())
    config["server"] = {"registry_poll_seconds": 0.05, **server}
    (folder / "featurestore.yaml").write_text(yaml.safe_dump(config))
    return folder


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("FEATURESTORE_REDIS_URL", "FEATURESTORE_ONLINE_STORE", "FEATURESTORE_READ_API_KEYS",
                 "FEATURESTORE_WRITE_API_KEYS", "FEATURESTORE_REPO"):
        monkeypatch.delenv(name, raising=False)
    return sqlite_repo(tmp_path / "repo")


@pytest.fixture
def applied(repo: Path) -> Path:
    from featurestore.demo import sample_data

    sample_data.write(repo)
    store = FeatureStore(repo)
    store.apply()
    store.materialize_incremental(datetime.now(UTC))
    store.close()
    return repo


@pytest.fixture
def client(applied: Path) -> Iterator[TestClient]:
    with TestClient(create_app(applied), raise_server_exceptions=False) as c:
        yield c


def test_lookup_in_process(client: TestClient) -> None:
    r = client.post("/get-online-features", json=LOOKUP)
    assert r.status_code == 200
    assert r.json()["results"][1]["statuses"] == ["PRESENT", "NOT_FOUND"]


def test_unexpected_error_is_a_plain_500(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    store = client.app.state.featurestore.store  # type: ignore[attr-defined]

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(store.online, "read", broken)  # what the lookup calls (SQLite: in a thread)
    for path in ("/get-online-features", "/v1/online"):
        r = client.post(path, json=LOOKUP)
        assert r.status_code == 500
        assert r.json() == {"detail": "internal server error (logged on the server)"}
        assert "secret" not in r.text and "Traceback" not in r.text
    metrics = client.get("/metrics").text
    assert 'featurestore_http_requests_total{endpoint="/get-online-features",method="POST",status="500"} 1.0' in metrics


def test_library_errors_map_to_statuses() -> None:
    cases: list[tuple[FeatureStoreError, int]] = [
        (NotFoundError("x"), 404), (InputError("x"), 400), (DefinitionError("x"), 400), (BusyError("x"), 409),
        (OnlineStoreUnavailableError("x"), 503), (RegistryError("x"), 503), (OnlineStoreError("x"), 500),
        (DataSourceError("x"), 500), (ConfigError("x"), 500), (FeatureStoreError("x"), 500),
    ]
    for err, status in cases:
        assert status_of(err) == status, type(err).__name__


def test_library_busy_error_is_409(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    store = client.app.state.featurestore.store  # type: ignore[attr-defined]

    def busy(*args: object, **kwargs: object) -> None:
        raise BusyError("another materialization holds the lock")

    monkeypatch.setattr(store, "materialize_incremental", busy)
    r = client.post("/materialize-incremental", json={"end_ts": "2026-01-01"})
    assert r.status_code == 409 and r.json()["error"] == "BusyError"


def test_not_ready_until_applied_then_ready(repo: Path) -> None:
    with TestClient(create_app(repo)) as c:
        r = c.get("/ready")
        assert r.status_code == 503 and "apply" in r.json()["detail"]
        assert c.get("/health").status_code == 200
        from featurestore.demo import sample_data

        sample_data.write(repo)
        FeatureStore(repo).apply()
        deadline = time.monotonic() + 10
        while c.get("/ready").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.get("/ready").json()["status"] == "ready"


def test_corrupt_registry_keeps_the_last_good_version(client: TestClient, applied: Path) -> None:
    registry = applied / "data" / "registry.json"
    good = registry.read_text()
    registry.write_text("{ not json")
    try:
        watcher = client.app.state.featurestore.watcher  # type: ignore[attr-defined]
        watcher.refresh()
        r = client.get("/ready")
        assert r.status_code == 503 and "registry" in r.json()["detail"]
        assert client.get("/features").status_code == 200  # the last good snapshot
        r = client.post("/get-online-features", json=LOOKUP)  # lookups keep serving the last good snapshot
        assert r.status_code == 200 and r.json()["results"][1]["statuses"] == ["PRESENT", "NOT_FOUND"]
        assert sample(client.get("/metrics").text, "featurestore_registry_reload_errors_total") >= 1
    finally:
        registry.write_text(good)
    watcher.refresh()
    assert client.get("/ready").status_code == 200
    assert client.post("/get-online-features", json=LOOKUP).status_code == 200


def test_lookups_serve_the_watchers_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lookup reads no file: it serves the snapshot the poll thread loaded, until the poll sees a change."""
    from featurestore.demo import sample_data

    for name in ("FEATURESTORE_REDIS_URL", "FEATURESTORE_ONLINE_STORE", "FEATURESTORE_REPO"):
        monkeypatch.delenv(name, raising=False)
    repo = sqlite_repo(tmp_path / "repo", registry_poll_seconds=3600)
    sample_data.write(repo)
    with FeatureStore(repo) as store:
        store.apply()
        store.materialize_incremental(datetime.now(UTC))
    with TestClient(create_app(repo), raise_server_exceptions=False) as c:
        expected = c.post("/get-online-features", json=LOOKUP).json()
        registry = repo / "data" / "registry.json"
        good = registry.read_text()
        registry.write_text("{ not json")
        assert c.post("/get-online-features", json=LOOKUP).json() == expected  # not polled yet
        watcher = c.app.state.featurestore.watcher  # type: ignore[attr-defined]
        watcher.refresh()
        assert c.post("/get-online-features", json=LOOKUP).json() == expected  # the poll saw it: the last good one
        assert c.get("/ready").status_code == 503
        registry.write_text(good)
        watcher.refresh()
        assert c.post("/get-online-features", json=LOOKUP).json() == expected


def test_api_keys_compare_every_key() -> None:
    keys = ApiKeys(read=["r1", "", "shared"], write=["w1", "shared"])
    assert keys.enabled
    assert keys.scope_of(b"r1") == "read"
    assert keys.scope_of(b"w1") == "write"
    assert keys.scope_of(b"shared") == "write"  # a key in both lists writes
    assert keys.scope_of(b"r") is None and keys.scope_of(b"") is None and keys.scope_of(b"r1 ") is None
    assert not ApiKeys(read=[""], write=[]).enabled


def test_config_keys_protect_the_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FEATURESTORE_REDIS_URL", "FEATURESTORE_READ_API_KEYS", "FEATURESTORE_WRITE_API_KEYS"):
        monkeypatch.delenv(name, raising=False)
    repo = sqlite_repo(tmp_path / "r", api_keys={"read": ["rk"], "write": ["wk"]})
    with TestClient(create_app(repo)) as c:
        assert c.get("/features").status_code == 401
        assert c.get("/features", headers={"Authorization": "Bearer rk"}).status_code == 200
        assert c.post("/materialize-incremental", json={}, headers={"Authorization": "Bearer rk"}).status_code == 403
        assert c.post("/materialize-incremental", json={}, headers={"Authorization": "bearer wk"}).status_code == 422


def test_create_app_reports_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        create_app(tmp_path)


def test_push_columns_follow_the_field_mapping() -> None:
    from featurestore import Entity

    source = PushSource(name="p", batch_source=ParquetSource(path="x.parquet", timestamp_field="ts_col",
                                                             created_timestamp_field="made",
                                                             field_mapping={"raw_col": "payload"}))
    view = FeatureView(name="v", entities=[Entity(name="e", join_keys=["k"])], source=source,
                       schema=[Field(name="payload", dtype=Bytes), Field(name="when", dtype=Timestamp),
                               Field(name="x", dtype=Float64)])
    pushed = column_kinds([view], source_names=True)
    assert pushed == {"ts_col": ("time", False), "made": ("time", False), "event_timestamp": ("time", False),
                      "raw_col": ("bytes", False), "when": ("time", False), "x": ("float", False)}
    assert "payload" in column_kinds([view], source_names=False)
    table = to_table({"ts_col": ["2026-01-01T00:00:00+01:00", None], "raw_col": ["AAE=", None], "x": ["NaN", 1]},
                     pushed)
    assert table.column("ts_col").to_pylist()[0] == datetime(2025, 12, 31, 23, tzinfo=UTC)
    assert table.column("raw_col").to_pylist() == [b"\x00\x01", None]
    with pytest.raises(InputError, match="'x'"):
        to_table({"x": ["nan"]}, pushed)


def test_join_key_outside_int64_is_a_400(client: TestClient) -> None:
    for value in (2**63, -2**63 - 1, 10**30):
        for path in ("/get-online-features", "/v1/online"):
            r = client.post(path, json={"features": ["driver_stats:conv_rate"], "entities": {"driver_id": [1, value]}})
            assert r.status_code == 400, (path, r.text)
            assert "driver_id" in r.text and str(value) in r.text and str(2**63 - 1) in r.text


def test_deleted_sqlite_file_is_noticed(client: TestClient, applied: Path) -> None:
    """The online file deleted and rewritten under the server: it reads the new file, not the unlinked one."""
    assert client.post("/get-online-features", json=LOOKUP).json()["results"][1]["statuses"] == ["PRESENT", "NOT_FOUND"]
    for suffix in ("", "-wal", "-shm"):
        (applied / "data" / f"online.db{suffix}").unlink(missing_ok=True)
    with FeatureStore(applied) as store:  # a new file, as a re-materialization after the delete makes
        store.write_to_online_store("driver_stats", {
            "driver_id": [1], "event_timestamp": [datetime.now(UTC)], "conv_rate": [0.25], "acc_rate": [0.5],
            "avg_daily_trips": [3]})
    assert client.get("/ready").status_code == 200  # the readiness check notices the new file
    r = client.post("/get-online-features", json=LOOKUP).json()["results"]
    assert r[1]["statuses"] == ["NOT_FOUND", "PRESENT"] and r[1]["values"] == [None, 0.25]


def test_deleted_sqlite_file_fails_ready_until_recreated(client: TestClient, applied: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        (applied / "data" / f"online.db{suffix}").unlink(missing_ok=True)
    r = client.get("/ready")
    assert r.status_code == 503 and "online.db" in r.json()["detail"] and "deleted" in r.json()["detail"]
    r = client.post("/get-online-features", json=LOOKUP)
    assert r.status_code == 503 and "deleted" in r.json()["detail"]


def test_missing_registry_keeps_the_last_good_version(client: TestClient, applied: Path) -> None:
    """A vanished registry file is unreadable, not "no definitions": lookups go on, /ready says why."""
    expected = client.post("/get-online-features", json=LOOKUP).json()
    registry = applied / "data" / "registry.json"
    good = registry.read_text()
    registry.unlink()
    watcher = client.app.state.featurestore.watcher  # type: ignore[attr-defined]
    watcher.refresh()
    r = client.get("/ready")
    assert r.status_code == 503 and "registry" in r.json()["detail"] and "missing" in r.json()["detail"]
    assert client.post("/get-online-features", json=LOOKUP).json() == expected
    assert "driver_stats" in client.get("/features").text
    registry.write_text(good)
    watcher.refresh()
    assert client.get("/ready").status_code == 200


def test_reshaped_view_over_http_answers_what_the_reference_says(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """After adding, removing and retyping features, /v1/online (with ``feature_statuses``) and
    /get-online-features serve the unchanged features of stored rows and NOT_FOUND for the others."""
    from tests.online.test_reshape import ENTITIES, Scenario

    for name in ("FEATURESTORE_REDIS_URL", "FEATURESTORE_ONLINE_STORE", "FEATURESTORE_REPO"):
        monkeypatch.delenv(name, raising=False)
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "featurestore.yaml").write_text(yaml.safe_dump({"project": "proj", "max_future_event_seconds": None,
                                                           "server": {"registry_poll_seconds": 0.05}}))
    scenario = Scenario(repo, 7)
    store = FeatureStore(repo)
    scenario.apply(store)
    uids = [*ENTITIES, "nobody"]
    with TestClient(create_app(repo), raise_server_exceptions=False) as c:
        for _step in range(6):
            scenario.write(store)
            scenario.change()
            scenario.apply(store)
            c.app.state.featurestore.watcher.refresh()  # type: ignore[attr-defined]
            features = [f"users:{f}" for f in scenario.schema]
            values, statuses = scenario.expected(uids)
            native = c.post("/v1/online", json={"features": features, "entities": {"uid": uids},
                                                "orient": "columns"})
            assert native.status_code == 200, native.text
            body = native.json()
            assert {f: body["columns"][f] for f in scenario.schema} == values
            own = body.get("feature_statuses", {})
            assert {f: own.get(f, body["statuses"]["users"]) for f in scenario.schema} == statuses
            feast = c.post("/get-online-features", json={"features": features, "entities": {"uid": uids}}).json()
            by_name = dict(zip(feast["metadata"]["feature_names"], feast["results"], strict=True))
            assert {f: by_name[f]["values"] for f in scenario.schema} == values
            assert {f: by_name[f]["statuses"] for f in scenario.schema} == statuses
    store.close()


def test_ready_is_503_naming_a_view_whose_batch_transform_differs_from_the_applied_code(applied: Path) -> None:
    defs = applied / "trip_stats.py"
    with FeatureStore(applied) as store:
        assert store.code_status() == []
    with TestClient(create_app(applied), raise_server_exceptions=False) as c:
        assert c.get("/ready").status_code == 200
        defs.write_text(defs.read_text().replace('pl.col("km") * 60', 'pl.col("km") * 61'))
        r = c.get("/ready")
        assert r.status_code == 503 and r.json()["code_mismatches"] == ["trip_stats"], r.text
        assert "trip_stats" in r.json()["detail"]
        with FeatureStore(applied) as store:
            assert [err.view for err in store.code_status()] == ["trip_stats"]
            store.apply()  # the edit applied: ready again once the server has read the new registry
        deadline = time.monotonic() + 30
        while c.get("/ready").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert c.get("/ready").status_code == 200
