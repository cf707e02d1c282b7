"""The ingest lock across processes: pushes hold it shared while they stamp and append offline; a materialize
picks its snapshot under it exclusive, so every row stamped before the snapshot is on disk when it is read."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from featurestore import BusyError, FeatureStore
from featurestore.state import lock
from tests.aggregates.push_repo import Clock, Repo, S, make_repo, sqlite_online, us

ROOT = Path(__file__).resolve().parents[2]
# holds the ingest lock (shared or exclusive) until its stdin closes
HOLD_LOCK = textwrap.dedent("""\
    import sys
    from pathlib import Path
    from featurestore.state import lock

    with lock.ingest(Path(sys.argv[1]), exclusive=sys.argv[2] == "exclusive"):
        print("holding", flush=True)
        sys.stdin.read()
    print("done", flush=True)
""")
# pushes one row at the injected time argv[2] (epoch µs), pausing just before its offline append until stdin closes
PAUSED_PUSH = textwrap.dedent("""\
    import sys
    from datetime import UTC, datetime
    import pyarrow as pa
    from featurestore import FeatureStore
    from featurestore.config import load_config
    from featurestore.offline.factory import open_offline_store
    from featurestore.utc import from_epoch_us

    repo, at = sys.argv[1], from_epoch_us(int(sys.argv[2]))
    engine = open_offline_store(load_config(repo).offline_store, repo)
    plain = engine.write_push

    def paused(source, table):
        print("appending", flush=True)
        sys.stdin.read()
        plain(source, table)

    engine.write_push = paused
    store = FeatureStore(repo, offline=engine, clock=lambda: at)
    ts = pa.array([at], pa.timestamp("us", tz="UTC"))
    rows = pa.table({"card_id": pa.array([42], pa.int64()), "event_timestamp": ts, "amount": [10.0], "qty": [1],
                     "merchant_id": ["m"], "status": ["ok"]})
    result = store.push("txn_push", rows)
    print("pushed", result.written, flush=True)
""")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return make_repo(tmp_path / "repo", sqlite_online(tmp_path))


def ingest_path(repo: Repo) -> Path:
    states = FeatureStore(repo.path).state_store
    return Path(states.ingest_lock_path)  # type: ignore[attr-defined]


def spawn(*args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    return proc


def finish(proc: subprocess.Popen[str], last: str) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    out = proc.stdout.read()
    assert proc.wait(60) == 0, proc.stderr.read() if proc.stderr else ""
    assert out.startswith(last), out


@pytest.fixture
def shared_holder(repo: Repo) -> Iterator[subprocess.Popen[str]]:
    proc = spawn(HOLD_LOCK, str(ingest_path(repo)), "shared")
    assert proc.stdout is not None and proc.stdout.readline() == "holding\n"
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def test_shared_holders_share_and_an_exclusive_one_waits_for_them(repo: Repo,
                                                                  shared_holder: subprocess.Popen[str]) -> None:
    path = ingest_path(repo)
    with lock.ingest(path, exclusive=False, timeout_s=0):  # another push: at once
        pass
    with pytest.raises(BusyError, match="ingest lock") as err, lock.ingest(path, exclusive=True, timeout_s=0):
        pass
    assert err.value.lock == str(path)
    finish(shared_holder, "done")
    with lock.ingest(path, exclusive=True, timeout_s=0):
        pass


def test_an_exclusive_holder_makes_pushes_wait(repo: Repo) -> None:
    path = ingest_path(repo)
    proc = spawn(HOLD_LOCK, str(path), "exclusive")
    assert proc.stdout is not None and proc.stdout.readline() == "holding\n"
    with pytest.raises(BusyError), lock.ingest(path, exclusive=False, timeout_s=0):
        pass
    finish(proc, "done")
    with lock.ingest(path, exclusive=False, timeout_s=0):
        pass


def test_the_ingest_lock_is_not_the_materialization_lock(repo: Repo, shared_holder: subprocess.Popen[str]) -> None:
    states = FeatureStore(repo.path).state_store
    with states.exclusive("materialize"):  # free while a push holds the ingest lock
        pass
    finish(shared_holder, "done")


@pytest.fixture
def paused_push(repo: Repo) -> Iterator[subprocess.Popen[str]]:
    """Another process in the middle of a push stamped at S - 1 min, paused before its offline append."""
    proc = spawn(PAUSED_PUSH, str(repo.path), str(us(S - timedelta(minutes=1))))
    assert proc.stdout is not None and proc.stdout.readline() == "appending\n", proc.stderr.read() \
        if proc.stderr else ""
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def test_a_snapshot_taken_under_the_exclusive_lock_sees_the_in_flight_push(
        repo: Repo, paused_push: subprocess.Popen[str]) -> None:
    states = FeatureStore(repo.path).state_store
    folder = repo.path / "data" / "_push" / "txn_push"
    with pytest.raises(BusyError), lock.ingest(ingest_path(repo), exclusive=True, timeout_s=0):
        pass  # the push holds it
    seen: list[list[Path]] = []

    def snapshot() -> None:
        with states.ingest(exclusive=True):
            seen.append(sorted(folder.glob("*.parquet")))

    waiting = threading.Thread(target=snapshot)
    waiting.start()
    waiting.join(1)  # time for a snapshot that would not wait to be taken (a correct one waits whatever the time)
    assert seen == [] and sorted(folder.glob("*.parquet")) == []  # nothing appended yet, no snapshot taken
    finish(paused_push, "pushed")
    waiting.join(60)
    assert len(seen) == 1 and len(seen[0]) == 1  # the snapshot came after the append


def test_a_materialize_waits_for_an_in_flight_push_and_counts_its_row_once(
        repo: Repo, paused_push: subprocess.Popen[str]) -> None:
    """The push was stamped at S - 1 min; the materialize (snapshot S) waits for its offline append, reads the row
    (created before S) into the state, and the push's online record (created before S) is not counted again."""
    clock = Clock(S)
    store = repo.store(clock)
    done: list[object] = []
    waiting = threading.Thread(target=lambda: done.append(store.materialize(S - timedelta(days=30), S)))
    waiting.start()
    waiting.join(2)  # time for a materialize that would not wait to read the source without the pushed row
    assert not done, "the materialize did not wait for the in-flight push"
    finish(paused_push, "pushed")
    waiting.join(120)
    assert done, "the materialize did not finish"
    for at in (S, S + timedelta(hours=1)):
        clock.at = at
        answer = store.get_online_features(["card_txn:count_1h", "card_txn:amount_count"], [{"card_id": 42}])
        assert answer.to_dict()["amount_count"] == [1]
        assert answer.to_dict()["count_1h"] == [1 if at == S else 0]
