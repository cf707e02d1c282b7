"""DuckDB engine settings: DuckDB's own (container-aware) defaults unless featurestore.yaml sets one."""

from __future__ import annotations

import duckdb
import pytest

from featurestore import FeatureStore
from featurestore.config import parse_config
from featurestore.offline.duckdb.store import DuckDBOfflineStore


def _setting(store: FeatureStore, name: str) -> str:
    assert isinstance(store.offline, DuckDBOfflineStore)
    con = store.offline.connect()
    try:
        return str(con.execute(f"SELECT current_setting('{name}')").fetchone()[0])  # type: ignore[index]
    finally:
        con.close()


def _plain(name: str, **config: str) -> str:
    con = duckdb.connect(config=config)
    try:
        return str(con.execute(f"SELECT current_setting('{name}')").fetchone()[0])  # type: ignore[index]
    finally:
        con.close()


def test_memory_limit_is_duckdbs_default_without_config(tmp_path) -> None:
    store = FeatureStore(tmp_path, config=parse_config({"project": "t"}, "test", env={}))
    assert _setting(store, "memory_limit") == _plain("memory_limit")


@pytest.mark.parametrize("limit", ["700MB", "1GB"])
def test_memory_limit_from_config_or_environment(tmp_path, limit: str) -> None:
    configured = parse_config({"project": "t", "offline_store": {"memory_limit": limit}}, "test", env={})
    from_env = parse_config({"project": "t"}, "test", env={"FEATURESTORE_DUCKDB_MEMORY_LIMIT": limit})
    for cfg in (configured, from_env):
        got = _setting(FeatureStore(tmp_path, config=cfg), "memory_limit")
        assert got == _plain("memory_limit", memory_limit=limit) != _plain("memory_limit")
