"""Throwaway feature repos with sources written by the test, on every registered offline engine.

The point-in-time reference and rule tests get their store from :func:`make_store`, which runs
once per engine in :data:`OFFLINE_ENGINES`: a new engine registers itself there and only there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from featurestore import FeatureStore, OfflineStore
from featurestore.config import RepoConfig, parse_config
from featurestore.offline.factory import open_offline_store

EngineOpener = Callable[[RepoConfig, Path], OfflineStore]

OFFLINE_ENGINES: dict[str, EngineOpener] = {
    "duckdb": lambda config, repo: open_offline_store(config.offline_store, repo),
}
"""Engine name -> ``open(config, repo_path)``; the engine reads the repo's sources like the config's would."""


@pytest.fixture(params=list(OFFLINE_ENGINES))
def offline_engine(request: pytest.FixtureRequest) -> EngineOpener:
    """How to open the offline engine under test (one test run per registered engine)."""
    return OFFLINE_ENGINES[request.param]


@pytest.fixture
def make_store(tmp_path: Path, offline_engine: EngineOpener) -> Iterator[Callable[..., FeatureStore]]:
    """``make(**config) -> FeatureStore`` on ``tmp_path``, its offline engine the one under test."""
    engines: list[OfflineStore] = []

    def make(**config: object) -> FeatureStore:
        cfg = parse_config({"project": "t", **config}, "test", env={})
        engine = offline_engine(cfg, tmp_path)
        engines.append(engine)
        return FeatureStore(tmp_path, config=cfg, offline=engine)

    yield make
    for engine in engines:  # injected: the FeatureStore leaves closing them to their owner, this fixture
        engine.close()
