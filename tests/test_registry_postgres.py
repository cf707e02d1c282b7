"""The registry backends' contract (file and PostgreSQL), and what only a PostgreSQL registry has: several projects
in one schema, reconnection, clear errors, a store shared by two repo folders ("two laptops")."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import BusyError, Entity, FeatureStore, FeatureView, Field, ParquetSource, RegistryError
from featurestore.config import parse_config
from featurestore.registry.factory import open_registry, open_registry_state
from featurestore.registry.file import FORMAT, RegistryState, RegistryUpdate
from featurestore.registry.protocol import RegistryBackend
from featurestore.types import Float64

driver = Entity(name="driver", join_keys=["driver_id"])
T1, T2 = datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC)


def stats(ttl_hours: int = 24) -> FeatureView:
    return FeatureView(name="stats", entities=[driver], schema=[Field(name="v", dtype=Float64)],
                       source=ParquetSource(path="s.parquet"), ttl=timedelta(hours=ttl_hours))


def _repo(folder: Path, registry: str, project: str = "p") -> FeatureStore:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"driver_id": pa.array([1, 2], pa.int64()), "v": [1.0, 2.0],
                             "event_timestamp": pa.array([T1, T1], pa.timestamp("us", tz="UTC"))}),
                   folder / "s.parquet")
    return FeatureStore(folder, config=parse_config({"project": project, "registry": registry}, "test", env={}),
                        clock=lambda: T2)  # rows of T1 are fresh (ttl 24 h)


def _bump(state: RegistryState) -> RegistryUpdate:
    version = state.version + 1
    objects = {**state.objects, "entities": {**state.objects["entities"], f"e{version}": {"name": f"e{version}"}}}
    return replace(state, version=version, objects=objects), {"version": version, "applied_at": f"t{version}",
                                                              "changes": {}, "objects": objects}


def test_every_backend_keeps_the_registry_contract(tmp_path: Path, registry_location: str) -> None:
    registry = open_registry(registry_location, tmp_path, "p")
    assert isinstance(registry, RegistryBackend)
    assert registry.load() == RegistryState(project="p") and registry.version() == 0 and registry.history() == []
    assert registry.update(lambda state: None).version == 0  # no change: nothing written
    assert registry.version() == 0 and registry.history() == []

    def fails(state: RegistryState) -> RegistryUpdate:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        registry.update(fails)
    assert registry.version() == 0
    for _ in range(3):
        registry.update(_bump)
    assert registry.version() == 3 and registry.load().names("entities") == ["e1", "e2", "e3"]
    assert [(h["version"], h["applied_at"]) for h in registry.history()] == [(1, "t1"), (2, "t2"), (3, "t3")]
    registry.close()  # closing releases connections: the next call opens a new one
    other = open_registry(registry_location, tmp_path, "p")  # another process's view
    assert other.load() == registry.load() and other.history() == registry.history()
    other.update(_bump)
    assert registry.version() == 4 and registry.load().names("entities")[-1] == "e4"  # seen by the first one
    assert [h["version"] for h in registry.history()] == [1, 2, 3, 4]
    assert "registry" in registry.describe().lower()


def _sql(url: str, statement: str, *params: Any) -> None:
    import psycopg

    base, schema = url.split("?schema=")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(statement.replace("{schema}", f'"{schema}"'), params)  # type: ignore[arg-type]


def test_one_schema_holds_several_projects_apart(tmp_path: Path, postgres_url: str) -> None:
    p = _repo(tmp_path / "p", postgres_url, "p")
    q = _repo(tmp_path / "q", postgres_url, "q")
    p.apply([driver, stats()])
    p.apply([stats(ttl_hours=6)])
    assert q.state().version == 0 and q.history() == [] and q.list_feature_views() == []
    q.apply([driver])
    assert (p.state().version, q.state().version) == (2, 1)
    assert [h["version"] for h in q.history()] == [1] and [h["version"] for h in p.history()] == [1, 2]
    assert p.history_diff(1, 2).changes[0].fields[0].path == "ttl_seconds"


def test_a_newer_format_or_another_project_is_refused_naming_the_registry(tmp_path: Path, postgres_url: str) -> None:
    store = _repo(tmp_path, postgres_url)
    store.apply([driver, stats()])
    _sql(postgres_url, "UPDATE {schema}.registry_head SET state = (state::jsonb || '{\"format\": 3}')::json")
    with pytest.raises(RegistryError, match=r"registry 'postgresql://.*' \(project 'p'\) has format 3, but this "
                                            rf"featurestore reads formats 1 to {FORMAT}") as err:
        _repo(tmp_path, postgres_url).state()
    assert err.value.format == 3 and err.value.path is not None and "schema=" in err.value.path
    _sql(postgres_url, "UPDATE {schema}.registry_head SET state = (state::jsonb || '{\"format\": 2, "
                       "\"project\": \"other\"}')::json")
    with pytest.raises(RegistryError, match=r"belongs to project 'other', not 'p'"):
        _repo(tmp_path, postgres_url).state()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_database_is_a_registry_error_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql://fs:s3cret@127.0.0.1:{_free_port()}/features?schema=ml&connect_timeout=2"
    store = _repo(tmp_path, url)  # nothing connects before the first use
    for call in (store.state, store.history, store.registry.version, store.watermarks,
                 lambda: store.apply([driver, stats()])):
        with pytest.raises(RegistryError, match=r"^PostgreSQL registry 'postgresql://fs:\*\*\*@127\.0\.0\.1:\d+/"
                                                r"features\?schema=ml&connect_timeout=2': cannot connect") as err:
            call()
        assert type(err.value) is RegistryError and "s3cret" not in str(err.value) and err.value.__cause__ is None
    # the state store's locks: the same error, no traceback
    with pytest.raises(RegistryError) as err, store.state_store.exclusive("materialize"):
        pass
    assert "cannot connect" in str(err.value) and "s3cret" not in str(err.value)


@pytest.mark.parametrize(("url", "match"), [
    ("postgresql://fs:s3cret@db:port/features", "is invalid"),
    ("postgresql://fs:s3cret@db:5432", "names no database"),
    ("postgresql://fs:s3cret@db/features?schema=bad-name", "schema 'bad-name' is invalid"),
    ("postgres://fs@db/features?schema=1st", "schema '1st' is invalid"),
])
def test_a_bad_url_is_refused_when_the_store_is_built(tmp_path: Path, url: str, match: str) -> None:
    with pytest.raises(RegistryError, match=match) as err:
        _repo(tmp_path, url)
    assert "s3cret" not in str(err.value)


def test_the_registry_and_state_reconnect_after_their_connection_drops(tmp_path: Path, postgres_url: str) -> None:
    import psycopg

    store = _repo(tmp_path, postgres_url)
    store.apply([driver, stats()])
    store.materialize(T1, T2)  # its lock's connection is kept for the next lock holder
    pids = [store.registry._db._conn.info.backend_pid, store.state_store._db._conn.info.backend_pid,  # type: ignore
            *(c.info.backend_pid for c in store.state_store._idle)]  # type: ignore[attr-defined]
    assert len(pids) == 3
    with psycopg.connect(postgres_url.split("?")[0], autocommit=True) as admin:  # as a server restart would
        admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
    assert store.registry.version() == 1  # a new connection, no error
    assert store.watermarks()["stats"]["watermark"] == T2.isoformat()
    [run] = store.materialize_incremental(T2 + timedelta(hours=1))  # the lock on a new connection too
    assert run.start == T2
    store.apply([stats(ttl_hours=6)])
    assert store.state().version == 2


def test_two_repo_folders_share_definitions_state_and_locks(tmp_path: Path, postgres_url: str) -> None:
    """The registry and its state are shared: what one machine applied and materialized, the next one sees (the
    watermark, the materialization lock); files (online SQLite, data folder) stay in each folder."""
    laptop = _repo(tmp_path / "laptop", postgres_url)
    laptop.apply([driver, stats()])
    [run] = laptop.materialize(T1, T2)
    assert run.rows == 2
    answer = laptop.get_online_features(["stats:v"], [{"driver_id": 1}, {"driver_id": 3}]).to_dict()
    assert answer["v"] == [1.0, None]
    assert laptop.data_dir == tmp_path / "laptop" / "data" and not (tmp_path / "laptop" / "data" / "registry.json"
                                                                    ).exists()
    other = _repo(tmp_path / "other", postgres_url)
    assert [v.name for v in other.list_feature_views()] == ["stats"] and other.history() == laptop.history()
    assert other.watermarks()["stats"]["watermark"] == T2.isoformat()  # the same online store key: sqlite:data/...
    with laptop.state_store.exclusive("materialize stats"), pytest.raises(BusyError, match="materialize stats"):
        other.reset_online("stats")
    other.apply([stats(ttl_hours=6)])
    assert laptop.get_feature_view("stats").ttl == timedelta(hours=6) and laptop.state().version == 2
    assert str(laptop.history_diff(1)) == "registry version 1 -> 2\n~ feature_view stats\n    ttl_seconds: " \
                                          "86400.0 -> 21600.0"
    laptop.close()
    other.close()


def test_a_file_registry_never_imports_the_driver(tmp_path: Path) -> None:
    code = ("import sys; from featurestore import FeatureStore; from featurestore.config import parse_config\n"
            f"s = FeatureStore({str(tmp_path)!r}, config=parse_config({{'project': 'p'}}, 't', env={{}}))\n"
            "s.state(); s.watermarks(); assert 'psycopg' not in sys.modules, 'psycopg imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_state_store_goes_with_the_registry(tmp_path: Path, postgres_url: str) -> None:
    assert type(open_registry_state("data/registry.json", tmp_path, "p")).__name__ == "SqliteStateStore"
    states = open_registry_state(postgres_url, tmp_path, "p")
    assert type(states).__name__ == "PostgresStateStore"
    states.update("w", "v", "k", lambda old: {"at": "now"})
    assert open_registry_state(postgres_url, tmp_path, "q").get("w", "v", "k") is None  # per project
    assert json.dumps(open_registry_state(postgres_url, tmp_path, "p").get("w", "v", "k")) == '{"at": "now"}'
