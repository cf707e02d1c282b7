"""The state store beside the registry: records, watermarks keyed by online store identity, registry format."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import BusyError, Entity, FeatureStore, FeatureView, Field, ParquetSource, RegistryError
from featurestore.config import parse_config, redis_identity
from featurestore.registry.factory import open_registry_state
from featurestore.state import SqliteStateStore, StateStore, repo_relative
from featurestore.types import Float64

driver = Entity(name="driver", join_keys=["driver_id"])
stats = FeatureView(name="stats", entities=[driver], schema=[Field(name="v", dtype=Float64)],
                    source=ParquetSource(path="s.parquet"))
T1, T2 = datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC)


def _repo(tmp: Path, online: dict[str, object] | None = None) -> FeatureStore:
    tmp.mkdir(exist_ok=True)
    pq.write_table(pa.table({"driver_id": pa.array([1, 2], pa.int64()), "v": [1.0, 2.0],
                             "event_timestamp": pa.array([T1, T1], pa.timestamp("us", tz="UTC"))}), tmp / "s.parquet")
    cfg: dict[str, object] = {"project": "p", **({"online_store": online} if online else {})}
    return FeatureStore(tmp, config=parse_config(cfg, "test", env={}))


def _open_states(spec: tuple[str, str]) -> StateStore:
    """A state store from ``(kind, where)``: a SQLite file path, or a PostgreSQL registry URL (project "p")."""
    kind, where = spec
    if kind == "sqlite":
        return SqliteStateStore(Path(where))
    return open_registry_state(where, Path("."), "p")


@pytest.fixture(params=["sqlite", "postgres"])
def state_spec(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """The state store of a test: SQLite beside a registry file, then PostgreSQL beside a PostgreSQL registry."""
    if request.param == "sqlite":
        return ("sqlite", str(tmp_path / "sub" / "r.state.db"))
    return ("postgres", str(request.getfixturevalue("postgres_url")))


def _count(spec: tuple[str, str], n: int) -> None:
    states = _open_states(spec)
    for _ in range(n):
        states.update("counter", "c", "k", lambda old: (old or 0) + 1)
    states.close()


def test_records_update_atomically_across_processes(state_spec: tuple[str, str]) -> None:
    states = _open_states(state_spec)
    assert isinstance(states, StateStore)
    assert states.records("counter") == [] and states.get("counter", "c", "k") is None
    if state_spec[0] == "sqlite":
        assert not Path(state_spec[1]).exists()  # reading never creates the file
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_count, args=(state_spec, 40)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert states.get("counter", "c", "k") == 120  # no lost update
    states.update("w", "a", "x", lambda old: {"n": 1})
    states.update("w", "b", "x", lambda old: {"n": 2})
    states.update("w", "a", "y", lambda old: {"n": 3})
    assert [(r.name, r.key, r.value) for r in states.records("w")] == [
        ("a", "x", {"n": 1}), ("a", "y", {"n": 3}), ("b", "x", {"n": 2})]
    assert [r.name for r in states.records("w", key="x")] == ["a", "b"]
    states.delete("w", ["a"], key="x")
    assert [(r.name, r.key) for r in states.records("w")] == [("a", "y"), ("b", "x")]
    states.update("w", "b", "x", lambda old: None)  # None deletes
    states.delete("w", None)
    assert states.records("w") == [] and states.get("counter", "c", "k") == 120
    states.close()


def test_a_failing_change_leaves_the_record_as_it_was(state_spec: tuple[str, str]) -> None:
    states = _open_states(state_spec)
    states.update("w", "a", "x", lambda old: {"n": 1})

    def boom(old: object) -> object:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        states.update("w", "a", "x", boom)
    assert states.get("w", "a", "x") == {"n": 1}
    states.update("w", "a", "x", lambda old: {"n": old["n"] + 1})  # the store still works after the failure
    assert states.get("w", "a", "x") == {"n": 2}


def test_the_exclusive_lock_refuses_a_second_holder_naming_the_first(state_spec: tuple[str, str]) -> None:
    first, second = _open_states(state_spec), _open_states(state_spec)
    with first.exclusive("materialize stats"):
        with pytest.raises(BusyError, match=r"reset refused: another operation is already running "
                                            r"\(materialize stats, pid \d+") as err, second.exclusive("reset"):
            pass
        assert err.value.running == "materialize stats" and err.value.pid == os.getpid()
    # free again once the block ended; shared ingest holders exclude neither each other nor the exclusive lock
    with second.exclusive("reset"), first.ingest(exclusive=False), second.ingest(exclusive=False):
        pass
    with first.ingest(exclusive=True):
        pass
    first.close()
    second.close()


@pytest.mark.parametrize(("a", "b", "same"), [
    ("redis://localhost:6379/0", "redis://127.0.0.1:6379/0", True),
    ("redis://localhost", "redis://127.0.0.1:6379/0", True),
    ("redis://:secret@LOCALHOST:6379?db=0", "rediss://user:other@[::1]:6379/0", True),
    ("redis://cache:6379/0", "redis://cache:6379/1", False),
    ("redis://cache:6379/0", "redis://cache:6380/0", False),
    ("redis://cache:6379/0", "redis://other:6379/0", False),
])
def test_redis_identity_names_the_database_not_the_spelling(a: str, b: str, same: bool) -> None:
    assert (redis_identity(a) == redis_identity(b)) is same
    assert "secret" not in redis_identity(a)


def test_repo_relative_identity() -> None:
    repo = Path("/srv/repo")
    assert repo_relative("sqlite:/srv/repo/data/online.db", repo) == "sqlite:data/online.db"
    assert repo_relative("sqlite:/srv/other/online.db", repo) == "sqlite:/srv/other/online.db"
    assert repo_relative("sqlite:/srv/repository/x.db", repo) == "sqlite:/srv/repository/x.db"


def test_watermarks_live_in_the_state_store_and_survive_moving_the_repo(tmp_path: Path) -> None:
    store = _repo(tmp_path / "a")
    store.apply([driver, stats])
    registry = store.registry.path
    before = registry.stat().st_ino
    store.materialize(T1, T2)
    assert registry.stat().st_ino == before  # a materialization does not rewrite the registry
    assert "watermarks" not in json.loads(registry.read_text())
    assert store.watermarks()["stats"]["watermark"] == T2.isoformat()
    assert store.watermarks()["stats"]["total_rows"] == 2
    store.close()
    shutil.move(tmp_path / "a", tmp_path / "b")
    moved = _repo(tmp_path / "b")
    assert moved.watermarks()["stats"]["watermark"] == T2.isoformat()
    [run] = moved.materialize_incremental(datetime(2024, 1, 4, tzinfo=UTC))
    assert run.start == T2  # continued from the watermark, not restarted
    moved.teardown()
    assert moved.watermarks() == {}


def test_redis_watermarks_are_kept_whatever_the_spelling_of_the_host(tmp_path: Path, clean_redis_url: str) -> None:
    assert clean_redis_url.startswith("redis://127.0.0.1:")
    store = _repo(tmp_path, {"type": "redis", "url": clean_redis_url})
    store.apply([driver, stats])
    store.materialize(T1, T2)
    store.close()
    local = _repo(tmp_path, {"type": "redis", "url": clean_redis_url.replace("127.0.0.1", "localhost")})
    assert local.watermarks()["stats"]["watermark"] == T2.isoformat()
    assert local.online.identity == store.online.identity == redis_identity(clean_redis_url)
    other_db = _repo(tmp_path, {"type": "redis", "url": clean_redis_url.rsplit("/", 1)[0] + "/3"})
    assert other_db.watermarks() == {}  # another database holds none of these rows
    local.close()
    other_db.close()


def test_a_removed_view_loses_its_watermarks(tmp_path: Path) -> None:
    store = _repo(tmp_path)
    store.apply([driver, stats])
    store.materialize(T1, T2)
    store.apply([], objects_to_delete=[stats])
    assert store.watermarks() == {}


def test_a_registry_of_a_newer_format_is_refused_naming_file_and_versions(tmp_path: Path) -> None:
    store = _repo(tmp_path)
    store.apply([driver, stats])
    data = json.loads(store.registry.path.read_text())
    assert data["format"] == 2
    store.registry.path.write_text(json.dumps({**data, "format": 3}))
    with pytest.raises(RegistryError, match=r"registry\.json.* has format 3, but this featurestore reads formats "
                                            r"1 to 2") as err:
        _repo(tmp_path).state()
    assert err.value.path == str(store.registry.path)


def test_a_format_1_registry_loads_and_its_watermarks_are_dropped(tmp_path: Path) -> None:
    store = _repo(tmp_path)
    store.apply([driver, stats])
    data = json.loads(store.registry.path.read_text())
    old = {**data, "format": 1, "watermarks": {"stats": {"online_store": "SqliteOnlineStore('x')",
                                                         "watermark": T2.isoformat()}}}
    store.registry.path.write_text(json.dumps(old))
    again = _repo(tmp_path)
    assert again.state().version == 1 and [v.name for v in again.list_feature_views()] == ["stats"]
    assert again.watermarks() == {}
    [run] = again.materialize_incremental(T2)
    assert run.start is None  # a first run: no ttl, so every row
    again.apply([driver, stats, Entity(name="other")])
    rewritten = json.loads(again.registry.path.read_text())
    assert rewritten["format"] == 2 and "watermarks" not in rewritten
