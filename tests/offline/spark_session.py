"""One SparkSession for the whole test run (start-up costs seconds), or a clear skip when Spark cannot start.

With ``FEATURESTORE_REQUIRE_SPARK=1`` (CI) a Spark or Java that cannot start fails the tests instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from featurestore.config import SparkOfflineConfig
from featurestore.errors import ConfigError
from tests.conftest import unavailable

SPARK_CONFIG = SparkOfflineConfig(type="spark", master="local[2]", buckets=3,
                                  settings={"spark.sql.shuffle.partitions": "4",
                                            "spark.sql.adaptive.enabled": "false"})
"""The engine's config in tests: what each test's store starts from (``buckets`` varied per test)."""


def no_spark(reason: str) -> None:
    unavailable("SPARK", "FEATURESTORE_REQUIRE_SPARK", reason)


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """The session every Spark test shares (stopped at the end of the run)."""
    try:
        from featurestore.offline.spark.session import open_session
    except ImportError as err:
        no_spark(f"pyspark is not installed ({err})")
    try:
        session = open_session(SPARK_CONFIG)
    except ConfigError as err:
        no_spark(str(err))
    yield session
    session.stop()


def spark_repo_config(buckets: int) -> dict[str, object]:
    """The ``offline_store`` section of a test repo on Spark with ``buckets`` buckets."""
    return {"type": "spark", "master": SPARK_CONFIG.master, "buckets": buckets, "settings": SPARK_CONFIG.settings}


__all__ = ["SPARK_CONFIG", "spark_repo_config", "spark_session"]
