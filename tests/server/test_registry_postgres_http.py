"""A server over a PostgreSQL registry: it notices a version applied elsewhere within a few polls (each poll asks
for the version number only), and keeps serving its last good snapshot while the registry cannot be read."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from featurestore import FeatureStore
from server import create_app
from server.reload import RegistryWatcher
from tests.server.test_inprocess import LOOKUP, sqlite_repo

POLL = 0.05
POLLS = 100
"""How many poll intervals a change may take to be seen (generous: the point is "seen by polling", not speed)."""


def _until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + POLL * POLLS
    while not condition():
        assert time.monotonic() < deadline, f"{what} not within {POLLS} polls"
        time.sleep(POLL / 5)


@pytest.fixture
def repo(tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("FEATURESTORE_REDIS_URL", "FEATURESTORE_ONLINE_STORE", "FEATURESTORE_READ_API_KEYS",
                 "FEATURESTORE_WRITE_API_KEYS", "FEATURESTORE_REPO", "FEATURESTORE_REGISTRY"):
        monkeypatch.delenv(name, raising=False)
    folder = sqlite_repo(tmp_path / "repo", registry_poll_seconds=POLL)
    config = yaml.safe_load((folder / "featurestore.yaml").read_text())
    (folder / "featurestore.yaml").write_text(yaml.safe_dump({**config, "registry": postgres_url}))
    from featurestore.demo import sample_data

    sample_data.write(folder)
    return folder


def test_the_watcher_loads_only_a_new_version(repo: Path) -> None:
    served, elsewhere = FeatureStore(repo), FeatureStore(repo)
    reloads: list[int] = []
    watcher = RegistryWatcher(served, POLL, on_reload=lambda state: reloads.append(state.version))
    watcher.start()
    try:
        assert watcher.state.version == 0 and reloads == [0]
        elsewhere.apply()
        _until(lambda: watcher.state.version == 1, "version 1")
        snapshot = watcher.state
        for _ in range(5):  # unchanged: the version is asked, the snapshot kept
            assert watcher.refresh() is snapshot
        assert reloads == [0, 1] and watcher.error is None
    finally:
        watcher.stop()
        served.close()
        elsewhere.close()


def test_a_server_sees_an_apply_from_elsewhere_and_survives_an_unreadable_registry(repo: Path,
                                                                                   postgres_url: str) -> None:
    with TestClient(create_app(repo), raise_server_exceptions=False) as c:
        assert c.get("/ready").status_code == 503  # nothing applied yet
        with FeatureStore(repo) as elsewhere:
            elsewhere.apply()
            elsewhere.materialize_incremental(elsewhere.clock())
        _until(lambda: c.get("/ready").status_code == 200, "the applied registry")
        expected = c.post("/get-online-features", json=LOOKUP).json()
        assert "driver_stats" in c.get("/features").text
        import psycopg

        base, schema = postgres_url.split("?schema=")
        with psycopg.connect(base, autocommit=True) as admin:  # the registry's tables vanish (a bad manual edit)
            admin.execute(f'ALTER TABLE "{schema}".registry_head RENAME TO registry_head_away')
        c.app.state.featurestore.watcher.refresh()  # type: ignore[attr-defined]
        r = c.get("/ready")
        assert r.status_code == 503 and "PostgreSQL registry" in r.json()["detail"]
        assert c.post("/get-online-features", json=LOOKUP).json() == expected  # the last good snapshot
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'ALTER TABLE "{schema}".registry_head_away RENAME TO registry_head')
        _until(lambda: c.get("/ready").status_code == 200, "the registry back")


def test_lookups_and_metrics_go_on_while_the_shared_state_cannot_be_read(repo: Path, postgres_url: str) -> None:
    """The registry snapshot is in memory; the watermarks are read from PostgreSQL at each /features and scrape."""
    import psycopg

    with FeatureStore(repo) as first:
        first.apply()
        first.materialize_incremental(first.clock())
    base, schema = postgres_url.split("?schema=")
    with TestClient(create_app(repo), raise_server_exceptions=False) as c:
        expected = c.post("/get-online-features", json=LOOKUP).json()
        assert "featurestore_materialization_watermark_timestamp_seconds" in c.get("/metrics").text
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'ALTER TABLE "{schema}".state_records RENAME TO state_records_away')
        r = c.get("/features")
        assert r.status_code == 503 and "PostgreSQL registry" in r.json()["detail"]
        assert c.post("/get-online-features", json=LOOKUP).json() == expected
        metrics = c.get("/metrics")
        assert metrics.status_code == 200 and "featurestore_registry_version 1.0" in metrics.text
        assert "featurestore_materialization_watermark_timestamp_seconds{" not in metrics.text
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'ALTER TABLE "{schema}".state_records_away RENAME TO state_records')
        assert c.get("/features").status_code == 200
