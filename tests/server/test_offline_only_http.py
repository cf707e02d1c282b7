"""Over HTTP, a view with ``online=False`` is a 400 naming it (as ``materialize`` answers), not NOT_FOUND nulls."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from featurestore import FeatureStore
from server import create_app
from tests.server.test_inprocess import sqlite_repo

OFFLINE_ONLY = '''
from featurestore import FeatureView, Field
from featurestore.types import Float32
from driver_stats import driver, driver_stats

driver_history = FeatureView(name="driver_history", entities=[driver], schema=[Field(name="conv_rate", dtype=Float32)],
                             source=driver_stats.source, online=False)
'''


def test_offline_only_view_is_a_400(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FEATURESTORE_REDIS_URL", "FEATURESTORE_ONLINE_STORE", "FEATURESTORE_READ_API_KEYS",
                 "FEATURESTORE_WRITE_API_KEYS", "FEATURESTORE_REPO"):
        monkeypatch.delenv(name, raising=False)
    repo = sqlite_repo(tmp_path / "repo")
    (repo / "driver_history.py").write_text(OFFLINE_ONLY)
    from featurestore.demo import sample_data

    sample_data.write(repo)
    with FeatureStore(repo) as store:
        store.apply()
    with TestClient(create_app(repo), raise_server_exceptions=False) as c:
        for path, body in [
            ("/get-online-features", {"features": ["driver_history:conv_rate"], "entities": {"driver_id": [1001]}}),
            ("/v1/online", {"features": ["driver_history:conv_rate"], "entities": [{"driver_id": 1001}]}),
        ]:
            r = c.post(path, json=body)
            assert r.status_code == 400, r.text
            data = r.json()
            assert data["error"] == "InputError" and "driver_history" in data["detail"]
            assert "online=False" in data["detail"]
        assert c.post("/get-online-features", json={"features": ["driver_stats:conv_rate"],
                                                    "entities": {"driver_id": [1001]}}).status_code == 200
