"""A temp repo per test: one feature view over a push source (Parquet batch source), SQLite or the private Redis
online store, a fixed clock; and snapshots of everything a write could touch (to prove a rejected batch wrote
nothing)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import Entity, Expectation, FeatureStore, FeatureView, Field, ParquetSource, PushSource
from featurestore.config import RedisOnlineConfig, SqliteOnlineConfig, parse_config
from featurestore.types import Float64, Int64, String

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
driver = Entity(name="driver", join_keys=["driver_id"])
SOURCE = PushSource(name="stats_push", batch_source=ParquetSource(path="data/stats.parquet", timestamp_field="ts"))


def make_view(expectations: list[Expectation], policy: str = "reject", name: str = "stats",
              source: PushSource = SOURCE) -> FeatureView:
    return FeatureView(name=name, entities=[driver], source=source, ttl=timedelta(days=3),
                       schema=[Field(name="conv", dtype=Float64), Field(name="city", dtype=String),
                               Field(name="trips", dtype=Int64)],
                       expectations=expectations, on_invalid=policy)


def rows(ids: list[int], conv: list[Any], city: list[Any] | None = None, trips: list[Any] | None = None,
         ts: list[datetime] | None = None) -> pa.Table:
    n = len(ids)
    return pa.table({"driver_id": pa.array(ids, pa.int64()), "conv": pa.array(conv, pa.float64()),
                     "city": pa.array(city or ["ams"] * n, pa.string()),
                     "trips": pa.array(trips or [1] * n, pa.int64()),
                     "ts": pa.array(ts or [NOW - timedelta(hours=1)] * n, pa.timestamp("us", tz="UTC"))})


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    pq.write_table(rows([1, 2], [0.1, 0.2], ts=[NOW - timedelta(days=1)] * 2), tmp_path / "data" / "stats.parquet")
    return tmp_path


@pytest.fixture
def make_store(repo: Path, online_config: dict[str, object]) -> Iterator[Callable[..., FeatureStore]]:
    stores: list[FeatureStore] = []

    def make(*objects: Any) -> FeatureStore:
        cfg = parse_config({"project": "q", "online_store": online_config}, "test", env={})
        store = FeatureStore(repo, config=cfg, clock=lambda: NOW)
        store.apply([driver, *objects])
        stores.append(store)
        return store

    yield make
    for s in stores:
        s.close()


def snapshot(store: FeatureStore) -> dict[str, Any]:
    """Every byte a write could change: each Redis key's DUMP, or each SQLite table's rows; the push folder's files."""
    out: dict[str, Any] = {}
    cfg = store.config.online_store
    if isinstance(cfg, RedisOnlineConfig):
        import redis

        urls = ([f"redis://{node}" for node in cfg.url.removeprefix("redis://").split(",")] if cfg.cluster
                else [cfg.url])  # every node of a cluster
        out["redis"] = {}
        for url in urls:
            with redis.Redis.from_url(url) as client:
                out["redis"].update({k: client.dump(k) for k in sorted(client.scan_iter(count=1000))})
    else:
        assert isinstance(cfg, SqliteOnlineConfig)
        path = Path(cfg.path)
        path = path if path.is_absolute() else store.repo_path / path
        if path.exists():
            with sqlite3.connect(path) as conn:
                tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
                out["sqlite"] = {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"'))) for t in tables}
    push = store.repo_path / "data" / "_push"
    out["push"] = {str(p.relative_to(push)): p.read_bytes() for p in sorted(push.rglob("*")) if p.is_file()}
    return out


def online(store: FeatureStore, ids: list[int], view: str = "stats") -> dict[str, list[Any]]:
    return store.get_online_features([f"{view}:conv", f"{view}:city", f"{view}:trips"],
                                     [{"driver_id": i} for i in ids]).to_dict()


def pushed_rows(store: FeatureStore) -> list[dict[str, Any]]:
    """Every row appended offline by pushes."""
    files = sorted((store.repo_path / "data" / "_push").rglob("*.parquet"))
    return [r for f in files for r in pq.read_table(f).to_pylist()]
