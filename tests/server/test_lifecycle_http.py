"""A real server across changes: live reload after `featurestore apply`, one materialization at a time
(409), and an online store that goes away and comes back (503, then recovery)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RedisProcess
from tests.server.conftest import Server, base_env, make_repo, run_cli, start_server
from tests.server.test_ops_http import sample

LOOKUP = {"features": ["driver_stats:conv_rate", "customer_profile:tier"],
          "entities": {"driver_id": [1001, 1002], "customer_id": [2001, 2002]}}
SLOW_VIEW = '''\
"""A view whose source query takes seconds: materializing it is slow."""

from featurestore import DuckDBSource, Entity, FeatureView, Field
from featurestore.types import Float64, Int64

thing = Entity(name="thing", join_keys=["thing_id"])
slow = FeatureView(
    name="slow", entities=[thing], schema=[Field(name="thing_id", dtype=Int64), Field(name="x", dtype=Float64)],
    source=DuckDBSource(query="SELECT i::BIGINT AS thing_id, TIMESTAMPTZ '2026-01-01 00:00:00+00' AS "
                              "event_timestamp, (SELECT sum(hash(j) % 1000)::DOUBLE FROM range(150000000) r(j)) AS x "
                              "FROM range(10) t(i)"),
)
'''
NEW_VIEW = '''\
from datetime import timedelta

from driver_stats import driver

from featurestore import FeatureView, Field, ParquetSource
from featurestore.types import Float32

driver_stats_v2 = FeatureView(
    name="driver_stats_v2", entities=[driver], ttl=timedelta(days=2), schema=[Field(name="conv_rate", dtype=Float32)],
    source=ParquetSource(path="data/driver_stats.parquet", created_timestamp_field="created"),
    description="added while serving",
)
'''


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory, server_redis_url: str) -> Iterator[Server]:
    repo = make_repo(tmp_path_factory.mktemp("lifecycle") / "repo", server_redis_url, project="lifecycle",
                     modules={"slow.py": SLOW_VIEW})
    server = start_server(repo, base_env(server_redis_url))
    yield server
    server.stop()


class Hammer:
    """Lookups in a loop on another thread, recording every status (and transport errors)."""

    def __init__(self, url: str, body: dict[str, Any] = LOOKUP) -> None:
        self.statuses: list[int | str] = []
        self._stop = threading.Event()

        def run() -> None:
            with httpx.Client(base_url=url, timeout=30) as c:
                while not self._stop.is_set():
                    try:
                        self.statuses.append(c.post("/get-online-features", json=body).status_code)
                    except httpx.TransportError as exc:
                        self.statuses.append(type(exc).__name__)

        self._thread = threading.Thread(target=run, daemon=True)

    def __enter__(self) -> Hammer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> float:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if check():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {seconds} s")


def test_apply_is_served_without_restart(lifecycle: Server, server_redis_url: str) -> None:
    c = lifecycle.client()
    before = c.get("/features").json()["registry_version"]
    (lifecycle.repo / "driver_stats_v2.py").write_text(NEW_VIEW)
    with Hammer(lifecycle.url) as hammer:
        run_cli(lifecycle.repo, base_env(server_redis_url), "apply")

        def served() -> bool:
            return any(v["name"] == "driver_stats_v2" for v in c.get("/features").json()["feature_views"])

        wait_for(served, 10, "the new view in /features")  # registry_poll_seconds is 0.5
        time.sleep(0.3)  # a few more lookups on the new version
    assert hammer.statuses and set(hammer.statuses) == {200}, set(hammer.statuses)
    assert c.get("/features").json()["registry_version"] == before + 1
    new = {"features": ["driver_stats_v2:conv_rate"], "entities": {"driver_id": [1001]}}
    r = c.post("/get-online-features", json=new)
    assert r.status_code == 200 and r.json()["results"][1]["statuses"] == ["NOT_FOUND"]
    end = datetime.now(UTC)
    r = c.post("/materialize", json={"start_ts": (end - timedelta(days=3)).isoformat(), "end_ts": end.isoformat(),
                                     "feature_views": ["driver_stats_v2"]})
    assert r.status_code == 200, r.text
    assert c.post("/get-online-features", json=new).json()["results"][1]["statuses"] == ["PRESENT"]
    assert sample(c.get("/metrics").text, "featurestore_registry_reloads_total") >= 2


def test_one_materialization_at_a_time(lifecycle: Server) -> None:
    c = lifecycle.client()
    body = {"start_ts": "2025-01-01T00:00:00Z", "end_ts": datetime.now(UTC).isoformat(), "feature_views": ["slow"]}
    with ThreadPoolExecutor(1) as pool, Hammer(lifecycle.url) as hammer:
        first = pool.submit(lambda: lifecycle.client().post("/materialize", json=body))

        def running() -> bool:
            return sample(c.get("/metrics").text, "featurestore_materialization_running") == 1

        wait_for(running, 20, "the first materialization to start")  # its source query then takes seconds
        second = c.post("/materialize-incremental", json={"end_ts": datetime.now(UTC).isoformat()})
        third = c.post("/materialize", json=body)
        wait_for(lambda: len(hammer.statuses) >= 20 or first.done(), 20, "lookups during the materialization")
        lookups_meanwhile = len(hammer.statuses) if not first.done() else 0
        result = first.result(timeout=120)
    assert second.status_code == 409, second.text
    assert third.status_code == 409 and "already running" in third.json()["detail"]
    assert result.status_code == 200, result.text
    assert result.json()["views"][0]["rows"] == 10
    assert lookups_meanwhile >= 20, "lookups must not wait for a materialization"
    assert set(hammer.statuses) == {200}
    assert sample(c.get("/metrics").text, "featurestore_materialization_running") == 0
    again = c.post("/materialize-incremental", json={"end_ts": datetime.now(UTC).isoformat(),
                                                     "feature_views": ["driver_stats"]})
    assert again.status_code == 200, again.text  # the lock was released


def test_unreachable_online_store_is_503_then_recovers(tmp_path: Path,
                                                        redis_factory: Callable[..., RedisProcess]) -> None:
    redis = redis_factory()
    repo = make_repo(tmp_path / "repo", redis.url, project="outage")
    server = start_server(repo, base_env(redis.url))
    try:
        c = server.client()
        assert c.post("/get-online-features", json=LOOKUP).status_code == 200
        assert c.get("/ready").status_code == 200
        redis.stop()
        ready = c.get("/ready")
        assert ready.status_code == 503 and "online store" in ready.json()["detail"]
        for path, body in (("/get-online-features", LOOKUP), ("/v1/online", LOOKUP)):
            r = c.post(path, json=body)
            assert r.status_code == 503, r.text
            assert "unreachable" in r.json()["detail"] and "Traceback" not in r.text
        assert c.get("/health").status_code == 200
        assert c.get("/features").status_code == 200

        restarted = redis_factory(port=redis.port)  # empty: no persistence
        wait_for(lambda: c.get("/ready").status_code == 200, 20, "/ready after Redis is back")
        r = c.post("/get-online-features", json=LOOKUP)
        assert r.status_code == 200 and r.json()["results"][2]["statuses"] == ["NOT_FOUND", "NOT_FOUND"]
        end = datetime.now(UTC)
        r = c.post("/materialize", json={"start_ts": (end - timedelta(days=10)).isoformat(),
                                         "end_ts": end.isoformat()})
        assert r.status_code == 200, r.text
        r = c.post("/get-online-features", json=LOOKUP)
        assert r.json()["results"][2]["statuses"] == ["PRESENT", "PRESENT"]
        assert restarted.process.poll() is None
    finally:
        server.stop()
    assert "Traceback" not in server.log()
