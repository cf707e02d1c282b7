"""An applied copy of the example repo on SQLite or on the private Redis, opened as two FeatureStore objects
(two writer "processes" sharing the online store and the state store)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from featurestore import FeatureStore
from featurestore.config import load_config
from featurestore.demo import sample_data

ROOT = Path(__file__).resolve().parents[2]
END = datetime(2026, 3, 1, tzinfo=UTC)  # the sample data's end; the stores' clock is pinned near it


@dataclass
class Repo:
    path: Path
    env: dict[str, str]
    clock: list[datetime]

    def open(self) -> FeatureStore:
        return FeatureStore(self.path, config=load_config(self.path, env=self.env), clock=lambda: self.clock[0])


@pytest.fixture(params=["sqlite", "redis"])
def repo(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Repo]:
    for name in ("FEATURESTORE_REDIS_URL", "FEATURESTORE_ONLINE_STORE", "FEATURESTORE_REPO"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "repo"
    shutil.copytree(ROOT / "definitions", folder, ignore=shutil.ignore_patterns("data", "__pycache__"))
    env: dict[str, str] = {}
    if request.param == "redis":
        config = yaml.safe_load((folder / "featurestore.yaml").read_text())
        config["online_store"] = {"type": "redis", "url": request.getfixturevalue("clean_redis_url")}
        (folder / "featurestore.yaml").write_text(yaml.safe_dump(config))
    sample_data.write(folder, END)
    with FeatureStore(folder, config=load_config(folder, env=env)) as store:
        store.apply()
    yield Repo(folder, env, [END])
