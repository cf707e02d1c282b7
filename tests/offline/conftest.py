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
from tests.offline.spark_session import SPARK_CONFIG, spark_session

EngineOpener = Callable[[RepoConfig, Path], OfflineStore]

OFFLINE_ENGINES: dict[str, EngineOpener] = {
    "duckdb": lambda config, repo: open_offline_store(config.offline_store, repo),
}
"""Engine name -> ``open(config, repo_path)``; the engine reads the repo's sources like the config's would."""


def _spark(config: RepoConfig, repo: Path) -> OfflineStore:
    """The Spark engine (``local[2]``, 3 buckets) reading the repo; the repo's own ``offline_store`` settings (DuckDB's)
    are not its own."""
    return open_offline_store(SPARK_CONFIG, repo)


SPARK_ENGINES: dict[str, EngineOpener] = {"spark": _spark}
"""Engines run only by the modules that set ``SPARK_CONFORMANCE = True`` (a Spark job costs seconds: the PIT rule and
push tie modules run on it; ``tests/offline/test_spark_engine.py`` batches the 40 randomized reference seeds and
more rules into few jobs). A module's ``SPARK_EXCEPT`` names its tests that stay DuckDB-only (what they test is
DuckDB's own: spilling under its memory limit; or they take tens of seconds on Spark)."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One run of each test using ``offline_engine`` per registered engine (and Spark where the module asks)."""
    if "offline_engine" not in metafunc.fixturenames:
        return
    names = list(OFFLINE_ENGINES)
    if (getattr(metafunc.module, "SPARK_CONFORMANCE", False)
            and metafunc.function.__name__ not in getattr(metafunc.module, "SPARK_EXCEPT", ())):
        names += list(SPARK_ENGINES)
    metafunc.parametrize("offline_engine", names, indirect=True)


@pytest.fixture
def offline_engine(request: pytest.FixtureRequest) -> EngineOpener:
    """How to open the offline engine under test (one test run per engine, see :func:`pytest_generate_tests`)."""
    if request.param in SPARK_ENGINES:
        request.getfixturevalue("spark_session")  # one session for the run; skips (or fails in CI) without Spark
        return SPARK_ENGINES[request.param]
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


__all__ = ["OFFLINE_ENGINES", "SPARK_ENGINES", "make_store", "offline_engine", "spark_session"]
