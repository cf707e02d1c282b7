"""Feature logging: deterministic sampling, logged rows equal to the served answers (SDK), the bounded queue
(drops and counts, never blocks) and complete files."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import FeatureStore, OnlineResponse
from featurestore.monitoring.feature_log import FeatureLogger
from featurestore.monitoring.log_files import LOG_TIME, REQUEST_ID, log_files, read_log
from featurestore.monitoring.log_plan import LogPlan
from featurestore.monitoring.sampling import key_fraction, sampled_rows
from featurestore.utc import epoch_us
from tests.monitoring.repo import T0, Clock, make_repo

ROOT = Path(__file__).resolve().parents[2]


def _random_keys(rng: random.Random, n: int) -> list[tuple[Any, ...]]:
    makers = [lambda: (rng.randrange(-10**12, 10**12),),
              lambda: ("".join(rng.choice("abcé€") for _ in range(rng.randrange(8))),),
              lambda: (rng.randbytes(rng.randrange(6)),),
              lambda: (rng.randrange(1000), "x" * rng.randrange(3)),
              lambda: (rng.random() * 1e6,)]
    return [rng.choice(makers)() for _ in range(n)]


def test_sampling_is_the_same_in_another_process() -> None:
    keys = _random_keys(random.Random(11), 300)
    code = ("import json, sys; from featurestore.monitoring.sampling import key_fraction; "
            "keys = json.loads(sys.stdin.read()); "
            "print(json.dumps([key_fraction(tuple(bytes.fromhex(v[2:]) if isinstance(v, str) and v.startswith('b:') "
            "else v for v in k)) for k in keys]))")
    encoded = [[("b:" + v.hex()) if isinstance(v, bytes) else v for v in k] for k in keys]
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps(encoded), capture_output=True, text=True,
                         env={**os.environ, "PYTHONHASHSEED": "12345"}, cwd=ROOT, check=True).stdout
    theirs = json.loads(out)
    ours = [key_fraction(k) for k in keys]
    assert theirs == ours
    assert len(set(ours)) == len(set(keys))  # a real hash: no two different keys alike
    assert key_fraction((7,)) == key_fraction((7.0,))  # an integral float key samples as the integer


@pytest.mark.parametrize("rate", [0.01, 0.1, 0.5, 0.9])
def test_sampling_rate_within_a_binomial_bound(rate: float) -> None:
    rng = random.Random(int(rate * 1000))
    keys = list(dict.fromkeys(_random_keys(rng, 30_000)))  # distinct keys: independent draws
    n = len(keys)
    assert n > 10_000
    chosen = sampled_rows([[k[0] for k in keys]], rate) if all(len(k) == 1 for k in keys) else None
    per_key = [i for i, k in enumerate(keys) if key_fraction(k) < rate]  # the rule, key by key
    if chosen is not None:
        assert chosen == per_key
    sigma = math.sqrt(n * rate * (1 - rate))
    assert abs(len(per_key) - n * rate) <= 5 * sigma, (len(per_key), n * rate, sigma)
    # several key columns: rows sampled by their whole key
    cols = [[rng.randrange(50) for _ in range(500)], [rng.choice("abc") for _ in range(500)]]
    assert sampled_rows(cols, rate) == [i for i in range(500) if key_fraction((cols[0][i], cols[1][i])) < rate]
    assert sampled_rows(cols, 1.0) is None


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", seed=5)


def _check_rows(log: pa.Table, served: list[tuple[Any, OnlineResponse, list[dict[str, Any]]]]) -> None:
    """The log holds, in order, one row per served entity row: keys, time, values, statuses, event times."""
    rows = log.to_pylist()
    expected = []
    for when, answer, entity_rows in served:
        for i in range(len(entity_rows)):
            row: dict[str, Any] = {LOG_TIME: when, **{k: v[i] for k, v in answer.keys.items()}}
            for view in answer.views:
                row[f"{view.name}__event_timestamp"] = view.event_timestamps[i]
                for out in view.out_names:
                    feature = out.split("__")[-1]
                    value = answer.features[out][i]
                    if answer.types[out] == pa.float32() and value is not None:
                        value = pa.array([value], pa.float32()).to_pylist()[0]
                    row[f"{view.name}__{feature}"] = value
                    row[f"{view.name}__{feature}__status"] = answer.statuses[out][i]
            if "km" in entity_rows[i]:
                row["km"] = entity_rows[i]["km"]
            expected.append(row)
    assert len(rows) == len(expected)
    for got, want in zip(rows, expected, strict=True):
        assert {k: got[k] for k in want} == want
    # one request id per lookup
    ids = [r[REQUEST_ID] for r in rows]
    sizes = [len(e) for _, _, e in served]
    assert len(set(ids)) == len(served)
    at = 0
    for size in sizes:
        assert len(set(ids[at:at + size])) == 1
        at += size


def test_logged_rows_equal_the_served_answers(repo: Path) -> None:
    clock = Clock(T0 + timedelta(hours=20))
    store = FeatureStore(repo, clock=clock)
    store.apply()
    store.materialize(T0 - timedelta(days=1), clock.now)
    rng = random.Random(2)
    served = []
    for hours in (20.5, 24, 30, 44):
        clock.now = T0 + timedelta(hours=hours)
        for _ in range(4):
            entity_rows = [{"driver_id": rng.randrange(1, 25), "km": rng.choice([1.5, 12.0, 0.0])}
                           for _ in range(rng.randrange(1, 5))]
            answer = store.get_online_features("logged", entity_rows)
            served.append((clock.now, answer, entity_rows))
        store.get_online_features(["stats:rate"], [{"driver_id": 1}])  # a feature list: never logged
        store.get_online_features("plain", [{"driver_id": 1}])  # a service without logging
    statuses = {s for _, a, _ in served for v in a.statuses.values() for s in v}
    assert statuses == {"PRESENT", "NOT_FOUND", "OUTSIDE_MAX_AGE"}  # every case was served
    store.flush_feature_logs()
    log = read_log(store.data_dir / "logs" / "logged")
    _check_rows(log, served)
    total = sum(len(e) for _, _, e in served)
    assert store.feature_log_counts()["logged"] == {"logged": total, "dropped": 0}
    assert store.feature_log_counts()["rated"] == {"logged": 0, "dropped": 0}
    assert not (store.data_dir / "logs" / "plain").exists()
    # the time window of read_log
    cut = T0 + timedelta(hours=24)
    assert read_log(store.data_dir / "logs" / "logged", start=cut).num_rows == sum(
        len(e) for w, _, e in served if w >= cut)
    store.close()


def test_sampled_service_logs_every_lookup_of_its_sampled_entities(repo: Path) -> None:
    clock = Clock(T0 + timedelta(hours=20))
    store = FeatureStore(repo, clock=clock)
    store.apply()
    store.materialize(T0 - timedelta(days=1), clock.now)
    rng = random.Random(3)
    asked: list[int] = []
    for _ in range(60):
        ids = [rng.randrange(1, 200) for _ in range(rng.randrange(1, 4))]
        store.get_online_features("half", {"driver_id": ids})
        asked += ids
    store.close()  # close flushes
    logged = read_log(store.data_dir / "logs" / "half").column("driver_id").to_pylist()
    assert logged == [d for d in asked if key_fraction((d,)) < 0.5]
    assert 0 < len(logged) < len(asked)


class SlowLogger(FeatureLogger):
    """A logger whose writer blocks inside its first Parquet write until released (the file half written)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.entered = threading.Event()
        self.release = threading.Event()

    def write_parquet(self, table: pa.Table, path: Path) -> None:
        pq.write_table(table, path)
        self.entered.set()
        assert self.release.wait(60)


def _answer(i: int) -> OnlineResponse:
    return OnlineResponse({"driver_id": [i]}, {"rate": [0.5]}, {"rate": ["PRESENT"]}, {"rate": [1_000_000]},
                          {"driver_id": pa.int64(), "rate": pa.float32()})


def test_a_full_queue_drops_and_counts_and_never_blocks(tmp_path: Path) -> None:
    plan = LogPlan("svc", 1.0, tmp_path / "logs", (("driver_id", pa.int64()),), (),
                   (("v__rate", "rate", pa.float32()),), ())
    logger = SlowLogger(queue_size=5, flush_seconds=3600)
    now = epoch_us(T0)
    for i in range(3):  # wakes the writer (half full), which drains these and blocks writing them
        assert logger.submit(plan, _answer(i), None, now)
    assert logger.entered.wait(60)
    assert log_files(tmp_path / "logs") == []  # the file being written is not visible
    assert [p.name.startswith(".") for p in (tmp_path / "logs").iterdir()] == [True]
    accepted: list[bool] = []

    def many() -> None:
        for i in range(3, 23):
            accepted.append(logger.submit(plan, _answer(i), None, now))

    thread = threading.Thread(target=many)
    thread.start()
    thread.join(60)  # the writer is blocked: submitting must not wait for it
    assert not thread.is_alive()
    assert accepted == [True] * 5 + [False] * 15
    assert logger.counts() == {"svc": {"logged": 0, "dropped": 15}}
    logger.release.set()
    logger.close()
    assert logger.counts() == {"svc": {"logged": 8, "dropped": 15}}
    files = log_files(tmp_path / "logs")
    assert len(files) == 2
    assert sorted(read_log(tmp_path / "logs").column("driver_id").to_pylist()) == list(range(8))
    assert [p for p in (tmp_path / "logs").iterdir() if p.name.startswith(".")] == []
    assert not logger.submit(plan, _answer(99), None, now)  # closed: dropped and counted
    assert logger.counts()["svc"]["dropped"] == 16


def test_the_writer_flushes_on_its_own(tmp_path: Path) -> None:
    plan = LogPlan("svc", 1.0, tmp_path / "logs", (("driver_id", pa.int64()),), (),
                   (("v__rate", "rate", pa.float32()),), ())
    logger = FeatureLogger(queue_size=100, flush_seconds=0.05)
    for i in range(4):
        logger.submit(plan, _answer(i), [0], epoch_us(T0))
    for _ in range(600):  # no flush() call: the writer thread writes within its period
        if logger.counts().get("svc", {}).get("logged") == 4:
            break
        threading.Event().wait(0.05)
    assert logger.counts() == {"svc": {"logged": 4, "dropped": 0}}
    table = read_log(tmp_path / "logs")
    assert table.column(LOG_TIME).to_pylist() == [T0] * 4
    logger.close()
