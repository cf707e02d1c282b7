"""featurestore.yaml parsing, defaults, path resolution and environment overrides."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from featurestore import ConfigError, FeatureStore
from featurestore.config import ENV_OVERRIDES, MEMORY_LIMIT, load_config, parse_config


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


# -- offline_store.memory_limit: DuckDB's size syntax, checked at load ---------------------------------
ACCEPTED_LIMITS = ["4GB", "4 GB", "4gb", "512MiB", "512 mib", "1.5GB", ".5GB", "2G", "1 gigabyte", "3 Gigabytes",
                   "800 megabytes", "800M", "1TB", "1TiB", "2000000KB", "2000000 KiB", "3000000000 bytes",
                   "3000000000B", "80%", "80 %", "12.5%", "100%", " 4GB "]


@pytest.mark.parametrize("limit", ACCEPTED_LIMITS)
def test_memory_limit_forms_that_duckdb_accepts(limit: str, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from featurestore import ParquetSource
    from featurestore.offline.factory import open_offline_store

    cfg = parse_config({"project": "p", "offline_store": {"memory_limit": limit}}, "f", env={})
    pq.write_table(pa.table({"x": [1]}), tmp_path / "x.parquet")
    offline = open_offline_store(cfg.offline_store, tmp_path)
    con = offline.connect()  # type: ignore[attr-defined]
    try:  # DuckDB took the setting and runs queries under it
        assert con.execute("SELECT sum(x) FROM range(100000) t(x)").fetchall() == [(4999950000,)]
        assert offline.source_schema(ParquetSource(path="x.parquet", timestamp_field="x")).names == ["x"]
    finally:
        con.close()


@pytest.mark.parametrize("limit", ["banana", "4GBs", "4 PB", "150%", "0%", "0GB", "", "GB", "-1GB", "4_000MB",
                                   "1,000MB", "4 mebibytes"])
def test_a_bad_memory_limit_is_refused_at_load(limit: str, tmp_path: Path) -> None:
    (tmp_path / "featurestore.yaml").write_text(f"project: p\noffline_store:\n  memory_limit: '{limit}'\n")
    with pytest.raises(ConfigError, match=r"offline_store\.memory_limit.*" + re.escape(repr(limit))) as info:
        load_config(tmp_path, env={})
    assert "featurestore.yaml" in info.value.message and "4GB" in info.value.message  # says what would do


@given(st.from_regex(MEMORY_LIMIT, fullmatch=True))
@settings(max_examples=200, deadline=None)
def test_every_memory_limit_the_config_accepts_duckdb_accepts(limit: str) -> None:
    import duckdb

    try:
        cfg = parse_config({"project": "p", "offline_store": {"memory_limit": limit}}, "f", env={})
    except ConfigError:
        return  # the pattern allows zero and percentages over 100, which the validator refuses
    con = duckdb.connect()
    try:
        con.execute("SET memory_limit = ?", [cfg.offline_store.memory_limit])  # raises unless DuckDB accepts it
    finally:
        con.close()


# -- environment overrides: an error they cause names the variable ---------------------------------
@pytest.mark.parametrize(("env", "key"), [
    ({"FEATURESTORE_DUCKDB_MEMORY_LIMIT": "banana"}, "offline_store.memory_limit"),
    ({"FEATURESTORE_PROJECT": "my project"}, "project"),
    ({"FEATURESTORE_ONLINE_STORE": "cassandra"}, "online_store"),
])
def test_an_environment_override_error_names_the_variable(env: dict[str, str], key: str, tmp_path: Path) -> None:
    (tmp_path / "featurestore.yaml").write_text("project: p\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, env=env)
    (variable, value), = env.items()
    message = info.value.message
    assert f"environment variable {variable}" in message and repr(value) in message and key in message
    assert f"in {tmp_path / 'featurestore.yaml'}" not in message  # the file is not to blame
    assert info.value.variable == variable


def test_file_and_environment_errors_each_name_their_origin(tmp_path: Path) -> None:
    (tmp_path / "featurestore.yaml").write_text("project: p\nserver:\n  max_entities: 0\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, env={"FEATURESTORE_DUCKDB_MEMORY_LIMIT": "banana"})
    message = info.value.message
    assert "server.max_entities" in message and str(tmp_path / "featurestore.yaml") in message
    assert "environment variable FEATURESTORE_DUCKDB_MEMORY_LIMIT" in message


def test_a_yaml_value_an_override_replaces_is_not_blamed(tmp_path: Path) -> None:
    (tmp_path / "featurestore.yaml").write_text("project: p\noffline_store:\n  memory_limit: banana\n")
    cfg = load_config(tmp_path, env={"FEATURESTORE_DUCKDB_MEMORY_LIMIT": "2GB"})
    assert cfg.offline_store.memory_limit == "2GB"
