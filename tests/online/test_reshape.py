"""Adding, removing and retyping features keeps the unchanged features of stored rows readable online.

A randomized scenario per store (SQLite, Redis, memory): the view's schema changes at random, rows are
written between the changes, and every lookup must answer what a brute-force reference says: a stored
row's feature is served when the row was written with a feature of that name and type, else NOT_FOUND.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import Entity, FeatureStore, FeatureView, Field, OnlineStore, ParquetSource, PushSource
from featurestore.config import parse_config
from featurestore.online.lookup import spec_of
from featurestore.types import Float64, Int64, String
from tests.online.conftest import Backend

T = datetime(2026, 6, 1, 12, tzinfo=UTC)
user = Entity(name="user", join_keys=["uid"])
TYPES = {"Int64": Int64, "Float64": Float64, "String": String}
NAMES = [f"f{i}" for i in range(6)]
ENTITIES = [f"u{i}" for i in range(12)]


class Scenario:
    """A push-source view whose features change at random, and the reference of what is stored online."""

    def __init__(self, folder: Path, seed: int) -> None:
        self.folder = folder
        self.rng = random.Random(seed)
        self.schema: dict[str, str] = {"f0": "Int64", "f1": "Float64"}
        self.stored: dict[str, tuple[int, dict[str, tuple[str, Any]]]] = {}  # uid -> (event µs, {f: (type, v)})
        self.clock = 0

    def view(self) -> FeatureView:
        batch = ParquetSource(path="users.parquet")
        return FeatureView(name="users", entities=[user], source=PushSource(name="users_push", batch_source=batch),
                           schema=[Field(name="uid", dtype=String),
                                   *[Field(name=f, dtype=TYPES[t]) for f, t in self.schema.items()]])

    def apply(self, store: FeatureStore) -> Any:
        fields = [("uid", pa.string()), ("event_timestamp", pa.timestamp("us", tz="UTC")),
                  *[(f, TYPES[t].to_arrow()) for f, t in self.schema.items()]]
        pq.write_table(pa.schema(fields).empty_table(), self.folder / "users.parquet")
        return store.apply([user, self.view()])

    def change(self) -> str:
        """Add, remove or retype one feature at random (at least one feature stays)."""
        absent = [f for f in NAMES if f not in self.schema]
        choice = self.rng.choice(["add", "remove", "retype"] if absent and len(self.schema) > 1
                                 else ["add", "retype"] if absent else ["remove", "retype"])
        if choice == "add":
            self.schema[self.rng.choice(absent)] = self.rng.choice(list(TYPES))
        elif choice == "remove":
            del self.schema[self.rng.choice(list(self.schema))]
        else:
            name = self.rng.choice(list(self.schema))
            self.schema[name] = self.rng.choice([t for t in TYPES if t != self.schema[name]])
        return choice

    def value(self, type_name: str) -> Any:
        if self.rng.random() < 0.1:
            return None
        return {"Int64": lambda: self.rng.randint(-2**63, 2**63 - 1),
                "Float64": lambda: self.rng.randint(-10**6, 10**6) / 8,
                "String": lambda: self.rng.choice(["", "x", "é", "a,b"]) + str(self.rng.random())}[type_name]()

    def write(self, store: FeatureStore) -> None:
        """Rows for some entities, some older than what is stored (kept out, as the reference says)."""
        rows = []
        for uid in self.rng.sample(ENTITIES, self.rng.randint(1, len(ENTITIES))):
            self.clock += 1
            event = self.clock if self.rng.random() < 0.8 else self.rng.randint(0, self.clock)
            values = {f: (t, self.value(t)) for f, t in self.schema.items()}
            rows.append({"uid": uid, "event_timestamp": T - timedelta(days=1) + timedelta(seconds=event),
                         **{f: v for f, (_, v) in values.items()}})
            old = self.stored.get(uid)
            if old is None or event >= old[0]:
                self.stored[uid] = (event, values)
        schema = pa.schema([("uid", pa.string()), ("event_timestamp", pa.timestamp("us", tz="UTC")),
                            *[(f, TYPES[t].to_arrow()) for f, t in self.schema.items()]])
        store.write_to_online_store("users", pa.Table.from_pylist(rows, schema=schema))

    def expected(self, uids: list[str]) -> tuple[dict[str, list[Any]], dict[str, list[str]]]:
        """Per current feature, the values and statuses a lookup of ``uids`` must answer."""
        values: dict[str, list[Any]] = {f: [] for f in self.schema}
        statuses: dict[str, list[str]] = {f: [] for f in self.schema}
        for uid in uids:
            stored = self.stored.get(uid)
            for f, t in self.schema.items():
                have = stored[1].get(f) if stored else None
                found = have is not None and have[0] == t
                values[f].append(have[1] if found and have else None)
                statuses[f].append("PRESENT" if found else "NOT_FOUND")
        return values, statuses


def make_store(tmp_path: Path, online: OnlineStore | None = None, config: dict[str, Any] | None = None) -> FeatureStore:
    cfg = parse_config({"project": "proj", "max_future_event_seconds": None, **(config or {})}, "test", env={})
    return FeatureStore(tmp_path, config=cfg, online=online)


def check(store: FeatureStore, scenario: Scenario, uids: list[str]) -> None:
    got = store.get_online_features([f"users:{f}" for f in scenario.schema], {"uid": uids})
    values, statuses = scenario.expected(uids)
    assert {f: got.features[f] for f in scenario.schema} == values
    assert {f: got.statuses[f] for f in scenario.schema} == statuses


@pytest.mark.parametrize("seed", range(4))
def test_lookups_after_random_schema_changes_match_the_reference(backend: Backend, tmp_path: Path,
                                                                  seed: int) -> None:
    scenario = Scenario(tmp_path, seed)
    store = make_store(tmp_path, online=backend.open("proj"))
    scenario.apply(store)
    uids = [*ENTITIES, "nobody"]
    for _step in range(8):
        scenario.write(store)
        check(store, scenario, uids)
        scenario.change()
        plan = scenario.apply(store)
        assert [e.view for e in plan.online_effects] == ["users"] and not plan.online_effects[0].deletes
        assert "users" not in store.watermarks()
        check(store, scenario, uids)
    store.close()


def test_a_join_key_type_change_deletes_and_plan_says_what_happens_online(backend: Backend, tmp_path: Path) -> None:
    scenario = Scenario(tmp_path, 0)
    store = make_store(tmp_path, online=backend.open("proj"))
    scenario.apply(store)
    scenario.write(store)
    view = scenario.view()
    fields = [*(f for f in view.schema if f.name != "f1"), Field(name="f1", dtype=String),
              Field(name="f5", dtype=Int64)]
    pq.write_table(pa.schema([("uid", pa.string()), ("event_timestamp", pa.timestamp("us", tz="UTC")),
                              ("f0", pa.int64()), ("f1", pa.string()), ("f5", pa.int64())]).empty_table(),
                   tmp_path / "users.parquet")
    changed = FeatureView(name="users", entities=[user], source=view.source, schema=fields)
    plan = store.plan([user, changed])
    assert [(e.view, e.deletes, e.added, e.retyped) for e in plan.online_effects] == [
        ("users", False, ("f5",), ("f1",))]
    text = str(plan)
    assert "online users: feature f5 added: NOT_FOUND online until materialized" in text
    assert "online users: feature f1 type changed: NOT_FOUND online until materialized" in text
    store.apply([user, changed])
    got = store.get_online_features(["users:f0", "users:f1", "users:f5"], {"uid": ENTITIES})
    stored = [u for u in ENTITIES if u in scenario.stored]
    assert stored and all(got.statuses["f0"][ENTITIES.index(u)] == "PRESENT" for u in stored)
    assert set(got.statuses["f1"]) == set(got.statuses["f5"]) == {"NOT_FOUND"}

    int_keys = FeatureView(name="users", entities=[user], source=view.source,
                           schema=[Field(name="uid", dtype=Int64), *fields[1:]])
    pq.write_table(pa.schema([("uid", pa.int64()), ("event_timestamp", pa.timestamp("us", tz="UTC")),
                              ("f0", pa.int64()), ("f1", pa.string()), ("f5", pa.int64())]).empty_table(),
                   tmp_path / "users.parquet")
    plan = store.apply([user, int_keys])
    assert [(e.view, e.deletes) for e in plan.online_effects] == [("users", True)]
    assert "online users: join key types changed: online data deleted" in str(plan)
    assert store.state().layouts("users") == ()
    assert store.online.read([(spec_of(view), [(u,) for u in ENTITIES])]) == [[None] * len(ENTITIES)]
    store.close()
