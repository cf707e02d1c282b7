"""featurestore.yaml parsing, defaults, path resolution and environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from featurestore import ConfigError, FeatureStore
from featurestore.config import ENV_OVERRIDES, load_config, parse_config


def test_defaults() -> None:
    cfg = parse_config({"project": "p"}, "f", env={})
    assert cfg.registry == "data/registry.json"
    assert cfg.online_store.type == "sqlite" and cfg.online_store.path == "data/online.db"
    assert cfg.offline_store.type == "duckdb" and cfg.offline_store.path is None


@pytest.mark.parametrize(("data", "match"), [
    ({"project": "p", "colour": "red"}, "unknown key 'colour'"),
    ({"project": "p", "online_store": {"type": "cassandra"}}, "online_store"),
    ({"project": "p", "online_store": {"type": "redis", "uri": "x"}}, "unknown key.*uri"),
    ({"project": "p", "offline_store": {"threads": 0}}, "offline_store.threads"),
    ({"project": "my project"}, "project"),
    ({}, "project"),
    ("just a string", "must be a mapping"),
])
def test_bad_config_names_the_key(data: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_config(data, "featurestore.yaml", env={})


def test_env_overrides() -> None:
    env = {"FEATURESTORE_REDIS_URL": "redis://r:6380/1", "FEATURESTORE_PROJECT": "q",
           "FEATURESTORE_DUCKDB_MEMORY_LIMIT": "1GB", "FEATURESTORE_READ_API_KEYS": "a, b"}
    cfg = parse_config({"project": "p", "online_store": {"type": "sqlite", "path": "x.db"}}, "f", env=env)
    assert cfg.project == "q" and cfg.online_store.type == "redis"
    assert cfg.online_store.url == "redis://r:6380/1"  # type: ignore[union-attr]
    assert cfg.offline_store.memory_limit == "1GB" and cfg.server.api_keys.read == ["a", "b"]
    assert set(ENV_OVERRIDES) >= set(env)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="featurestore init"):
        load_config(tmp_path)
    (tmp_path / "featurestore.yaml").write_text("project: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path)


def test_relative_paths_resolve_against_the_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "featurestore.yaml").write_text("project: p\nregistry: reg/r.json\n")
    monkeypatch.chdir("/")
    store = FeatureStore(tmp_path, config=load_config(tmp_path, env={}))
    assert store.registry.path == tmp_path / "reg" / "r.json"
