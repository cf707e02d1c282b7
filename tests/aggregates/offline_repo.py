"""Throwaway repos for the aggregate-view training-set tests, on every registered offline engine (like
tests/offline/conftest.py, whose fixtures this folder does not see)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from featurestore import FeatureStore, OfflineStore
from featurestore.config import parse_config
from tests.offline.conftest import OFFLINE_ENGINES, SPARK_ENGINES

ENGINES = list(OFFLINE_ENGINES)
"""The engines every aggregate test runs on; the randomized oracle (test_offline_oracle.py) adds Spark."""


def stores(engine: str, tmp_path: Path) -> Iterator[Callable[..., FeatureStore]]:
    """``make(**config) -> FeatureStore`` on ``tmp_path`` with offline engine ``engine``; closes them after."""
    engines: list[OfflineStore] = []

    def make(**config: object) -> FeatureStore:
        cfg = parse_config({"project": "t", **config}, "test", env={})
        offline = {**OFFLINE_ENGINES, **SPARK_ENGINES}[engine](cfg, tmp_path)
        engines.append(offline)
        return FeatureStore(tmp_path, config=cfg, offline=offline)

    yield make
    for offline in engines:
        offline.close()
