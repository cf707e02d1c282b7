"""Randomized differential test: random writes, appends, deletes and reads of aggregate (and plain) views
give the answers of a plain-Python model of the contract, on every store."""

from __future__ import annotations

import random
from typing import Any

from featurestore.online import OnlineStore, ViewSpec
from featurestore.types import Int64, String
from featurestore.utc import MIN_US
from tests.online.conftest import Backend

VIEWS = [
    ViewSpec("a", ("id",), (Int64,), ("n",), (Int64,), None, aggregate=True),
    ViewSpec("a_b", ("id", "name"), (Int64, String), ("n",), (Int64,), None, aggregate=True),
    ViewSpec("g", (), (), ("n",), (Int64,), None, aggregate=True),
]
PLAIN = ViewSpec("a_plain", ("id",), (Int64,), ("v",), (Int64,), None)
NAMES = ["", "x", "a,b", "=%", "é"]


class Model:
    """The contract in plain Python: states ``{(view, key): (snapshot, state)}``, records ``{(view, key): [...]}``."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, Any], tuple[int, bytes]] = {}
        self.records: dict[tuple[str, Any], list[tuple[int, bytes]]] = {}

    def write(self, view: str, keys: list[Any], snapshot: int, states: list[bytes]) -> int:
        last = {k: s for k, s in zip(keys, states, strict=True)}
        stored = 0
        for k, s in last.items():
            old = self.states.get((view, k))
            if old is None or snapshot >= old[0]:
                self.states[(view, k)] = (snapshot, s)
                stored += 1
            kept = [r for r in self.records.get((view, k), []) if r[0] >= snapshot]
            self.records[(view, k)] = kept
        return stored

    def append(self, view: str, keys: list[Any], created: list[int], records: list[bytes]) -> int:
        for k, c, r in zip(keys, created, records, strict=True):
            self.records.setdefault((view, k), []).append((c, r))
        return len(records)

    def delete(self, view: str, keys: list[Any]) -> int:
        had = 0
        for k in set(keys):
            state = self.states.pop((view, k), None)
            records = self.records.pop((view, k), [])
            had += state is not None or bool(records)
        return had

    def delete_view(self, view: str) -> None:
        for table in (self.states, self.records):
            for key in [key for key in table if key[0] == view]:
                del table[key]

    def read(self, view: str, keys: list[Any]) -> list[Any]:
        out: list[Any] = []
        for k in keys:
            state = self.states.get((view, k))
            records = tuple(self.records.get((view, k), ()))
            if state is None:
                out.append((MIN_US, (None, records)) if records else None)
            else:
                out.append((state[0], (state[1], records)))
        return out


def _keys(rng: random.Random, view: ViewSpec, n: int) -> list[tuple[Any, ...]]:
    if not view.join_keys:
        return [()] * n
    if len(view.join_keys) == 1:
        return [(rng.randrange(6),) for _ in range(n)]
    return [(rng.randrange(3), rng.choice(NAMES)) for _ in range(n)]


def _all_keys(view: ViewSpec) -> list[tuple[Any, ...]]:
    if not view.join_keys:
        return [()]
    if len(view.join_keys) == 1:
        return [(i,) for i in range(6)]
    return [(i, n) for i in range(3) for n in NAMES]


def _blob(rng: random.Random) -> bytes:
    return rng.randbytes(rng.choice([0, 1, 5, 40]))


def run_sequence(store: OnlineStore, seed: int, steps: int) -> None:
    rng = random.Random(seed)
    model = Model()
    plain_rows: dict[Any, tuple[int, tuple[int]]] = {}
    clock = 0
    for step in range(steps):
        view = rng.choice(VIEWS)
        op = rng.random()
        where = f"seed {seed} step {step}"
        if op < 0.3:
            keys = _keys(rng, view, rng.randrange(1, 6))
            created = [clock + rng.randrange(-3, 10) for _ in keys]
            clock += 5
            records = [_blob(rng) for _ in keys]
            assert store.append_aggregates(view, keys, created, records) == model.append(view.name, keys, created,
                                                                                         records), where
        elif op < 0.5:
            keys = _keys(rng, view, rng.randrange(0, 6))
            snapshot = clock + rng.randrange(-15, 5)
            states = [_blob(rng) for _ in keys]
            assert store.write_aggregates(view, keys, snapshot, states) == model.write(view.name, keys, snapshot,
                                                                                       states), where
        elif op < 0.55:
            keys = _keys(rng, view, rng.randrange(0, 4))
            assert store.delete(view, keys) == model.delete(view.name, keys), where
        elif op < 0.58:
            store.delete_view(view.name)
            model.delete_view(view.name)
        elif op < 0.65:
            key = rng.randrange(6)
            store.write(PLAIN, [(key,)], [step], [step], [(step,)])
            plain_rows[key] = (step, (step,))
        else:
            picks = [rng.choice([*VIEWS, PLAIN]) for _ in range(rng.randrange(1, 4))]
            requests = [(v, _keys(rng, v if v.aggregate else VIEWS[0], rng.randrange(0, 8))) for v in picks]
            expected = [model.read(v.name, keys) if v.aggregate else [plain_rows.get(k[0]) for k in keys]
                        for v, keys in requests]
            assert store.read(requests) == expected, where
    everything = [(v, _all_keys(v)) for v in VIEWS]
    assert store.read(everything) == [model.read(v.name, keys) for v, keys in everything], seed


def test_random_sequences_match_the_model(backend: Backend) -> None:
    for seed in range(60):
        store = backend.open(f"p{seed}")
        run_sequence(store, seed, 80)
