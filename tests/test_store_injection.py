"""Stores built from the config by the factories, and stores passed in: ``FeatureStore(repo, offline=, online=)``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import (
    Entity,
    FeatureStore,
    FeatureView,
    Field,
    OfflineStore,
    OnlineStore,
    ParquetSource,
    PushSource,
    RetrievalJob,
)
from featurestore.config import DuckDBOfflineConfig, RedisOnlineConfig, RepoConfig, SqliteOnlineConfig, parse_config
from featurestore.errors import ConfigError, DataSourceError
from featurestore.offline.duckdb.store import DuckDBOfflineStore
from featurestore.offline.factory import open_offline_store
from featurestore.online.factory import (
    describe_online_store,
    online_store_created,
    online_store_env,
    open_online_store,
)
from featurestore.online.sqlite_store import SqliteOnlineStore
from featurestore.types import Float64

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
driver = Entity(name="driver", join_keys=["driver_id"])
SCHEMA = pa.schema([("driver_id", pa.int64()), ("event_timestamp", pa.timestamp("us", tz="UTC")), ("v", pa.float64())])


def _view() -> FeatureView:
    push = PushSource(name="s_push", batch_source=ParquetSource(path="s.parquet"))
    return FeatureView(name="s", entities=[driver], ttl=None, schema=[Field(name="v", dtype=Float64)],
                       source=push)


@pytest.fixture
def repos(tmp_path: Path) -> tuple[Path, Path]:
    """A repo whose config points at stores that must stay untouched, and the data only the injected engine sees."""
    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    repo.mkdir()
    elsewhere.mkdir()
    pq.write_table(pa.Table.from_pylist([
        {"driver_id": 1, "event_timestamp": T0 - timedelta(hours=1), "v": 1.0},
        {"driver_id": 1, "event_timestamp": T0, "v": 2.0},
        {"driver_id": 2, "event_timestamp": T0, "v": 3.0},
    ], schema=SCHEMA), elsewhere / "s.parquet")
    return repo, elsewhere


def _config() -> RepoConfig:
    return parse_config({"project": "t", "online_store": {"type": "sqlite", "path": "configured-online.db"}},
                        "test", env={})


def test_injected_stores_are_used_end_to_end_and_the_configured_ones_untouched(repos) -> None:
    repo, elsewhere = repos
    offline = DuckDBOfflineStore(elsewhere)  # relative source paths resolve in `elsewhere`, not in the repo
    online = SqliteOnlineStore(elsewhere / "injected-online.db", "t")
    store = FeatureStore(repo, config=_config(), offline=offline, online=online)
    assert store.offline is offline and store.online is online

    store.apply([driver, _view()])  # validation reads the source schema through the injected engine
    entities = pa.table({"driver_id": [1, 2, 1], "event_timestamp": pa.array([T0, T0, T0 - timedelta(minutes=1)],
                                                                              pa.timestamp("us", tz="UTC"))})
    job = store.get_historical_features(entities, ["s:v"])
    assert isinstance(job, RetrievalJob)
    assert job.to_arrow().column("v").to_pylist() == [2.0, 3.0, 1.0]
    spine = store.get_historical_features(features=["s:v"], start_date=T0 - timedelta(hours=2), end_date=T0)
    assert spine.to_arrow().column("v").to_pylist() == [1.0, 2.0, 3.0]

    (result,) = store.materialize(T0 - timedelta(days=1), T0)
    assert result.rows == 2
    assert store.get_online_features(["s:v"], [{"driver_id": 1}, {"driver_id": 2}]).to_dict()["v"] == [2.0, 3.0]
    store.push("s_push", pa.table({"driver_id": [2], "event_timestamp": pa.array([T0 + timedelta(minutes=1)],
                                   pa.timestamp("us", tz="UTC")), "v": [4.0]}), to="online_and_offline")
    assert store.get_online_features(["s:v"], [{"driver_id": 2}]).to_dict()["v"] == [4.0]
    assert list((elsewhere / "_push" / "s_push").glob("*.parquet"))  # the injected engine's push folder

    store.close()  # the caller owns injected stores: still open and usable after the FeatureStore closes
    assert online.read([(_spec(store), [(2,)])])[0][0] is not None
    assert not (repo / "configured-online.db").exists() and not (repo / "_push").exists()
    online.close()


def _spec(store: FeatureStore):  # type: ignore[no-untyped-def]
    from featurestore.online.lookup import spec_of

    return spec_of(store.get_feature_view("s"))


def test_configured_stores_come_from_the_factories_and_are_closed_by_the_feature_store(repos) -> None:
    repo, _ = repos
    store = FeatureStore(repo, config=_config())
    assert isinstance(store.offline, DuckDBOfflineStore) and isinstance(store.online, SqliteOnlineStore)
    first = store.online
    store.online.ping()
    assert (repo / "configured-online.db").exists()
    store.close()
    assert store.online is not first  # closed, and reopened on next use
    store.close()


def test_the_configured_engine_reads_the_repo_not_elsewhere(repos) -> None:
    repo, _ = repos
    store = FeatureStore(repo, config=_config())
    with pytest.raises(DataSourceError, match=r"s\.parquet"):
        store.apply([driver, _view()])


def test_factories(tmp_path: Path) -> None:
    offline = open_offline_store(DuckDBOfflineConfig(memory_limit="500MB"), tmp_path)
    assert isinstance(offline, OfflineStore) and isinstance(offline, DuckDBOfflineStore)
    sqlite = SqliteOnlineConfig(path="sub/online.db")
    assert not online_store_created(sqlite, tmp_path)
    online = open_online_store(sqlite, tmp_path, "p")
    assert isinstance(online, OnlineStore)
    online.ping()
    online.close()
    assert online_store_created(sqlite, tmp_path) and (tmp_path / "sub" / "online.db").exists()
    redis = RedisOnlineConfig(type="redis", url="redis://user:pw@127.0.0.1:1/0")
    assert describe_online_store(redis) == "Redis at redis://user:***@127.0.0.1:1/0"
    assert online_store_created(redis, tmp_path)
    env = online_store_env(redis)
    assert parse_config({"project": "p"}, "t", env=env).online_store == redis
    assert parse_config({"project": "p"}, "t", env=online_store_env(sqlite)).online_store == sqlite


def test_factories_refuse_an_unknown_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="offline"):
        open_offline_store(object(), tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="online"):
        open_online_store(object(), tmp_path, "p")  # type: ignore[arg-type]


def test_a_store_passed_in_must_be_a_store(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from featurestore import ConfigError, FeatureStore
    from featurestore.config import parse_config

    cfg = parse_config({"project": "t"}, "test", env={})
    with pytest.raises(ConfigError, match=r"online=\.\.\.\) takes a featurestore.OnlineStore.*got str"):
        FeatureStore(tmp_path, config=cfg, online="redis://localhost:6379")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"offline=\.\.\.\) takes a featurestore.OfflineStore.*got dict"):
        FeatureStore(tmp_path, config=cfg, offline={})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"registry=\.\.\.\) takes a featurestore.RegistryBackend.*got str"):
        FeatureStore(tmp_path, config=cfg, registry="data/registry.json")  # type: ignore[arg-type]


def test_an_injected_registry_and_state_store_are_used_and_left_open(tmp_path: Path) -> None:
    from featurestore import RegistryBackend, StateStore
    from featurestore.registry.file import FileRegistry
    from featurestore.state import SqliteStateStore

    elsewhere = tmp_path / "elsewhere"
    registry, state = FileRegistry(elsewhere / "reg.json", "t"), SqliteStateStore(elsewhere / "reg.state.db")
    assert isinstance(registry, RegistryBackend) and isinstance(state, StateStore)
    cfg = parse_config({"project": "t", "online_store": {"type": "sqlite", "path": str(tmp_path / "o.db")}}, "test",
                       env={})
    with FeatureStore(tmp_path / "repo", config=cfg, registry=registry, state=state) as fs:
        fs.apply([driver])
        assert fs.registry is registry and fs.state_store is state
        state.update("note", "x", "k", lambda _: {"seen": True})
    assert registry.load().version == 1 and registry.load().entity("driver").name == "driver"
    assert state.get("note", "x", "k") == {"seen": True}  # still usable: the store did not close it
    assert not (tmp_path / "repo" / "data" / "registry.json").exists()  # the configured file was never written
