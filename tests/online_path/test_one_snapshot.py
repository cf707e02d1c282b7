"""``get_online_features`` reads the registry once per call, also when given a feature service name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from featurestore import FeatureService
from tests.online_path.test_key_collision import colliding_store


def test_a_service_lookup_reads_one_snapshot(make_fs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fs = colliding_store(make_fs, tmp_path)
    drv = fs.get_feature_view("drv")
    fs.apply([FeatureService(name="svc", features=[drv])])
    loads = []
    real = fs.registry.load

    def counted() -> Any:
        loads.append(1)
        return real()

    monkeypatch.setattr(fs.registry, "load", counted)
    assert fs.get_online_features("svc", [{"driver_id": 1}]).to_dict() == {"driver_id": [1], "rate": [0.5]}
    assert len(loads) == 1
