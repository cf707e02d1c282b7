"""Defect 1 over HTTP: a feature named like a requested join key is a 400 naming it, never an overwritten key."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from featurestore import FeatureStore
from featurestore.config import parse_config
from server import create_app
from tests.online_path.test_key_collision import REFS, colliding_store


@pytest.mark.parametrize("path", ["/get-online-features", "/v1/online"])
def test_collision_is_a_400_and_full_names_answer(tmp_path: Path, path: str) -> None:
    stores: list[FeatureStore] = []

    def make_fs() -> FeatureStore:
        cfg = parse_config({"project": "t", "online_store": {"type": "sqlite", "path": str(tmp_path / "o.db")}},
                           "test", env={})
        stores.append(FeatureStore(tmp_path, config=cfg))
        return stores[-1]

    fs = colliding_store(make_fs, tmp_path)
    with TestClient(create_app(store=fs)) as client:
        entities = {"customer_id": [7], "driver_id": [1]}
        answer = client.post(path, json={"features": REFS, "entities": entities})
        assert answer.status_code == 400, answer.text
        body = answer.json()
        assert body["error"] == "InputError"
        assert "'driver_id' of view 'cust'" in body["detail"] and "full_feature_names=True" in body["detail"]
        ok = client.post(path, json={"features": REFS, "entities": entities, "full_feature_names": True,
                                     "orient": "columns"})
        assert ok.status_code == 200, ok.text
        if path == "/v1/online":
            assert ok.json()["columns"] == {"customer_id": [7], "driver_id": [1], "cust__driver_id": [999],
                                            "drv__rate": [0.5]}
        else:
            assert [r["values"] for r in ok.json()["results"]] == [[7], [1], [999], [0.5]]
    for s in stores:
        s.close()
