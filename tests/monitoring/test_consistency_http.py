"""Feature logging and consistency through a real ``featurestore serve`` process: the logged rows equal the HTTP
answers, ``POST /monitoring/consistency`` and the CLI's exit code (2 after a bad online value)."""

from __future__ import annotations

import os
import random
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from featurestore import FeatureStore
from featurestore.monitoring.log_files import LOG_TIME, read_log
from featurestore.online.lookup import spec_of
from featurestore.utc import epoch_us
from tests.monitoring.repo import make_repo
from tests.server.conftest import Server, featurestore_script, start_server


def _env() -> dict[str, str]:
    """The environment without FEATURESTORE_ variables: the repo's SQLite online store, not Redis."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("FEATURESTORE_", "PROMETHEUS_"))}


def _f32(v: Any) -> Any:
    return None if v is None else pa.array([v], pa.float32()).to_pylist()[0]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, FeatureStore]]:
    now = datetime.now(UTC).replace(microsecond=0)
    repo = make_repo(tmp_path_factory.mktemp("logging") / "repo", seed=31, t0=now - timedelta(hours=47))
    store = FeatureStore(repo)
    store.apply()
    store.materialize(now - timedelta(days=3), now - timedelta(minutes=30))
    server = start_server(repo, _env())
    yield server, store
    server.stop()
    store.close()


def _wait_rows(folder: Path, n: int) -> pa.Table:
    for _ in range(600):  # the server's writer flushes every second
        table = read_log(folder)
        if table.num_rows >= n:
            return table
        time.sleep(0.1)
    raise AssertionError(f"{folder}: {read_log(folder).num_rows} rows logged, expected {n}")


def _cli(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([featurestore_script(), "--repo", str(repo), *args], capture_output=True, text=True,
                          timeout=300, env=_env())


def test_http_lookups_are_logged_and_consistent(served: tuple[Server, FeatureStore]) -> None:
    server, store = served
    client = server.client()
    rng = random.Random(4)
    expected: list[dict[str, Any]] = []
    for _ in range(8):
        drivers = [rng.randrange(1, 24) for _ in range(rng.randrange(1, 4))]
        km = [rng.choice([1.0, 9.5]) for _ in drivers]
        before = datetime.now(UTC)
        got = client.post("/v1/online", json={"feature_service": "logged", "entities": {"driver_id": drivers},
                                              "request_context": {"km": km}, "full_feature_names": True})
        after = datetime.now(UTC)
        assert got.status_code == 200, got.text
        body = got.json()
        for i, row in enumerate(body["rows"]):
            expected.append({"row": row, "km": km[i], "before": before, "after": after,
                             "statuses": {v: s[i] for v, s in body["statuses"].items()}})
    feast = client.post("/get-online-features", json={"feature_service": "rated", "entities": {"driver_id": [1, 2]}})
    assert feast.status_code == 200
    folder = store.data_dir / "logs" / "logged"
    log = _wait_rows(folder, len(expected)).to_pylist()
    assert len(log) == len(expected)
    for got_row, want in zip(log, expected, strict=True):
        row = want["row"]
        assert got_row["driver_id"] == row["driver_id"]
        assert got_row["km"] == want["km"]
        assert want["before"] - timedelta(seconds=1) <= got_row[LOG_TIME] <= want["after"] + timedelta(seconds=1)
        for name in ("stats__rate", "stats__trips", "stats__city", "trips__count_1d", "trips__fare_sum_1d",
                     "priced__scaled"):
            value = row[name]
            assert got_row[name] == (_f32(value) if name == "stats__rate" else value), name
            assert got_row[f"{name}__status"] == want["statuses"][name.split("__")[0]]
    answer = client.post("/monitoring/consistency", json={"service": "logged"})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["rows"], report["unexplained"], report["ok"]) == (len(expected), 0, True)
    assert [f["feature"] for f in report["features"]] == [
        "stats__rate", "stats__trips", "stats__city", "trips__count_1d", "trips__fare_sum_1d", "priced__scaled"]
    assert client.post("/monitoring/consistency", json={"service": "nope"}).status_code == 404
    assert client.post("/monitoring/consistency", json={"service": "logged", "start": "yesterday"}).status_code == 400
    assert client.post("/monitoring/consistency", json={"services": "logged"}).status_code == 422
    rated = _wait_rows(store.data_dir / "logs" / "rated", 2)
    assert rated.column("driver_id").to_pylist() == [1, 2]
    done = _cli(store.repo_path, "consistency", "rated")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 unexplained" in done.stdout

    # one wrong value written straight into the online store, then served over HTTP
    view = store.get_feature_view("stats")
    now = datetime.now(UTC)
    store.online.write(spec_of(view, store.state()), [(5,)], [epoch_us(now - timedelta(minutes=1))],
                       [epoch_us(now)], [(0.875, 3, "ams")])
    assert client.post("/v1/online", json={"feature_service": "rated",
                                           "entities": {"driver_id": [5]}}).status_code == 200
    _wait_rows(store.data_dir / "logs" / "rated", 3)
    done = _cli(store.repo_path, "consistency", "rated", "--json")
    assert done.returncode == 2, done.stdout + done.stderr
    assert '"unexplained": 2' in done.stdout  # rate and trips of the bad row
    report = client.post("/monitoring/consistency", json={"service": "rated"}).json()
    bad = [e for f in report["features"] for e in f["examples"] if e["reason"] == "unexplained"]
    assert {(e["feature"], e["keys"]["driver_id"], e["served"]) for e in bad} == {
        ("stats__rate", 5, 0.875), ("stats__trips", 5, 3)}
    assert not report["ok"]
