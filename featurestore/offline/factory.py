"""Offline engines built from ``featurestore.yaml``: :func:`open_offline_store`.

An engine registers its config class and an opener in :data:`OFFLINE_ENGINES`; nothing
else in the library names an engine class.

>>> from featurestore.config import DuckDBOfflineConfig
>>> type(open_offline_store(DuckDBOfflineConfig(), ".")).__name__
'DuckDBOfflineStore'
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from featurestore.config import DuckDBOfflineConfig, SparkOfflineConfig, resolve
from featurestore.errors import ConfigError
from featurestore.offline.protocol import OfflineStore


def _duckdb(config: DuckDBOfflineConfig, repo_path: Path, feature_tables: Path | None = None,
            train_from_tables: bool = True) -> OfflineStore:
    from featurestore.offline.duckdb.store import DuckDBOfflineStore

    return DuckDBOfflineStore(
        repo_path,
        database=resolve(repo_path, config.path) if config.path else None,
        memory_limit=config.memory_limit,  # None: DuckDB's own default, which follows the container's limit
        threads=config.threads,
        temp_directory=resolve(repo_path, config.temp_directory) if config.temp_directory else None,
        feature_tables=feature_tables,
        train_from_tables=train_from_tables,
    )


def _spark(config: SparkOfflineConfig, repo_path: Path, feature_tables: Path | None = None,
           train_from_tables: bool = True) -> OfflineStore:
    from featurestore.offline.spark.store import SparkOfflineStore  # pyspark is imported when a session starts

    return SparkOfflineStore(config, repo_path, feature_tables, train_from_tables)


OFFLINE_ENGINES: dict[type[Any], Callable[..., OfflineStore]] = {
    DuckDBOfflineConfig: _duckdb, SparkOfflineConfig: _spark}
"""Config class of ``offline_store`` -> ``opener(config, repo_path, feature_tables, train_from_tables)``."""


def open_offline_store(config: DuckDBOfflineConfig | SparkOfflineConfig, repo_path: str | Path,
                       feature_tables: Path | None = None, train_from_tables: bool = True) -> OfflineStore:
    """The offline engine ``config`` (the ``offline_store`` section) describes, for the repo at ``repo_path``;
    ``feature_tables``: the folder of its offline feature tables, read for training when ``train_from_tables``.

    The caller owns the store and closes it.
    """
    opener = OFFLINE_ENGINES.get(type(config))
    if opener is None:
        raise ConfigError(f"no offline engine for offline_store type {getattr(config, 'type', type(config))!r}")
    return opener(config, Path(repo_path).resolve(), feature_tables, train_from_tables)


__all__ = ["OFFLINE_ENGINES", "open_offline_store"]
