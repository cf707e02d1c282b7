"""check_consistency: served values replayed through the training-set path, over SQLite and Redis, against a
brute-force reference in plain Python (point-in-time pick and the lag rule from the run log)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import FeatureStore, InputError, NotFoundError
from featurestore.materialize import runlog
from featurestore.monitoring.consistency import KIND, same
from featurestore.monitoring.log_files import read_log
from featurestore.online.lookup import spec_of
from featurestore.utc import epoch_us
from tests.monitoring.repo import T0, Clock, make_repo, stats_rows

TTL = timedelta(hours=6)
LATE = timedelta(minutes=30)


def _source_rows(repo: Path) -> list[dict[str, Any]]:
    """Every offline row of the stats view: the batch file and the pushed files."""
    files = [repo / "data" / "stats.parquet", *sorted((repo / "data").glob("_push/**/*.parquet"))]
    return [r for f in files for r in pq.read_table(f).to_pylist()]


def _pick(rows: list[dict[str, Any]], driver: int, t: datetime) -> dict[str, Any] | None:
    """The reference point-in-time pick with as_of_created: event and created <= t, event >= t - ttl, the latest
    (event, created) wins (no ties in this data)."""
    found = [r for r in rows if r["driver_id"] == driver and r["event_timestamp"] <= t and r["created"] <= t
             and r["event_timestamp"] >= t - TTL]
    return max(found, key=lambda r: (r["event_timestamp"], r["created"])) if found else None


def _f32(v: Any) -> Any:
    return None if v is None else pa.array([v], pa.float32()).to_pylist()[0]


def _reference(store: FeatureStore, rows: list[dict[str, Any]], log: pa.Table) -> dict[str, int]:
    """Per reason, the mismatches of ``stats__rate`` by the brute-force rule."""
    runs = [r for r in runlog.runs(store.state_store, "stats") if r["ok"]]
    out = {"rows": 0, "matches": 0, "lag": 0, "ttl": 0, "unexplained": 0}
    for row in log.to_pylist():
        t, driver = row["__log_timestamp"], row["driver_id"]
        picked = _pick(rows, driver, t)
        offline = _f32(picked["rate"]) if picked else None
        out["rows"] += 1
        if same(row["stats__rate"], offline):
            out["matches"] += 1
            continue
        done = [r for r in runs if datetime.fromisoformat(r["finished_at"]) < t]
        end = max((datetime.fromisoformat(r["end"]) for r in done), default=None)
        finished = max((datetime.fromisoformat(r["finished_at"]) for r in done), default=None)
        lag = picked is not None and (end is None or picked["event_timestamp"] > end
                                      or (finished is not None and picked["created"] > finished))
        out["lag" if lag else "unexplained"] += 1
    return out


def _scenario(repo: Path, online: FeatureStore | None = None, seed: int = 1) -> tuple[FeatureStore, Clock]:
    """Materialize now and then, push rows (online and offline), look up random drivers at many times."""
    rng = random.Random(seed)
    clock = Clock(T0 + timedelta(hours=8))
    store = FeatureStore(repo, clock=clock, config=online.config if online else None)
    store.apply()
    # a source row exists from its created time (up to 30 minutes after its event time): a run loads up to
    # 30 minutes ago, so it never sees a row before it was created
    store.materialize(T0 - timedelta(days=1), clock.now - LATE)
    for step in range(12):
        clock.now += timedelta(minutes=rng.randrange(20, 200))
        if step % 4 == 3:
            store.materialize_incremental(clock.now - LATE)
            clock.now += timedelta(minutes=1)
        if step % 3 == 1:  # a push arriving now, stamped created = now, event a little before
            pushed = stats_rows(rng, [rng.randrange(1, 21) for _ in range(3)], 4, hours=1,
                                t0=clock.now - timedelta(hours=1))
            pushed = pushed.set_column(2, "created", pa.array([clock.now] * 4, pa.timestamp("us", tz="UTC")))
            store.push("stats_push", pushed, to="online_and_offline")
            clock.now += timedelta(seconds=1)
        for _ in range(6):
            drivers = [rng.randrange(1, 23) for _ in range(rng.randrange(1, 4))]
            store.get_online_features("logged", [{"driver_id": d, "km": rng.choice([2.0, 7.5])} for d in drivers])
            store.get_online_features("rated", {"driver_id": drivers})
    store.flush_feature_logs()
    return store, clock


def _check_clean(store: FeatureStore, repo: Path) -> None:
    log = read_log(store.data_dir / "logs" / "logged")
    report = store.check_consistency("logged")
    assert report.rows == log.num_rows > 100
    assert report.unexplained == 0, report.to_text()
    names = [f.feature for f in report.features]
    assert names == ["stats__rate", "stats__trips", "stats__city", "trips__count_1d", "trips__fare_sum_1d",
                     "priced__scaled"]
    for f in report.features:
        assert f.rows == log.num_rows
        assert f.matches + f.lag + f.ttl + f.unexplained == f.rows
        assert f.matches > 0
    rate = report.feature("stats__rate")
    want = _reference(store, _source_rows(repo), log)
    assert (rate.rows, rate.matches, rate.lag, rate.ttl, rate.unexplained) == (
        want["rows"], want["matches"], want["lag"], want["ttl"], want["unexplained"])
    assert rate.lag > 0  # the scenario serves between runs


def test_no_unexplained_mismatch_sqlite(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", seed=21)
    store, _ = _scenario(repo)
    _check_clean(store, repo)
    store.close()


def test_no_unexplained_mismatch_redis(tmp_path: Path, clean_redis_url: str) -> None:
    repo = make_repo(tmp_path / "repo", seed=22, online={"type": "redis", "url": clean_redis_url})
    store, _ = _scenario(repo, seed=2)
    assert store.online.identity.startswith("redis")
    _check_clean(store, repo)
    store.close()


def test_one_bad_online_value_is_exactly_one_unexplained(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", seed=23)
    clock = Clock(T0 + timedelta(hours=49))  # after every source row was created
    store = FeatureStore(repo, clock=clock)
    store.apply()
    store.materialize(T0 - timedelta(days=1), clock.now)
    clock.now += timedelta(minutes=5)
    drivers = list(range(1, 21))
    store.get_online_features("rated", {"driver_id": drivers})
    store.flush_feature_logs()
    clean = store.check_consistency("rated")
    assert (clean.rows, clean.mismatches) == (20, 0), clean.to_text()
    # a wrong rate for one driver, written straight into the online store (same row otherwise)
    answer = store.get_online_features(["stats:rate", "stats:trips", "stats:city"], [{"driver_id": 7}])
    present = answer.statuses["rate"][0] == "PRESENT"
    spec = spec_of(store.get_feature_view("stats"), store.state())
    event = answer.views[0].event_times_us[0] if present else epoch_us(clock.now - timedelta(hours=1))
    trips, city = (answer.features["trips"][0], answer.features["city"][0]) if present else (None, None)
    store.online.write(spec, [(7,)], [event], [epoch_us(clock.now)], [(0.123, trips, city)])
    clock.now += timedelta(minutes=1)
    store.get_online_features("rated", [{"driver_id": 7}])
    store.flush_feature_logs()
    report = store.check_consistency("rated", record=True)
    assert report.unexplained == 1, report.to_text()
    rate = report.feature("stats__rate")
    assert (rate.unexplained, report.feature("stats__trips").mismatches) == (1, 0)
    bad = rate.examples[0]
    assert (bad.keys, bad.served, bad.reason, bad.time) == ({"driver_id": 7}, _f32(0.123), "unexplained", clock.now)
    assert not report.ok
    records = {r.key: r.value for r in store.state_store.records(KIND) if r.name == "rated"}
    assert records["stats__rate"]["unexplained"] == 1
    assert records["stats__rate"]["rows"] == 21
    assert records["stats__trips"]["matches"] == 21
    # a time window that leaves the bad lookup out
    assert store.check_consistency("rated", end=clock.now - timedelta(seconds=30)).unexplained == 0
    store.close()


def test_serving_before_a_run_loads_a_newer_row_is_lag(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", seed=24)
    clock = Clock(T0 + timedelta(hours=20))
    store = FeatureStore(repo, clock=clock)
    store.apply()
    store.materialize(T0 - timedelta(days=1), clock.now - LATE)  # loads up to 19:30
    clock.now = T0 + timedelta(hours=23)  # rows of (20:00, 23:00] exist offline, not online
    store.get_online_features("rated", {"driver_id": list(range(1, 21))})
    clock.now = T0 + timedelta(hours=23, minutes=30)
    store.materialize_incremental(clock.now - LATE)  # a later run loads them
    store.flush_feature_logs()
    report = store.check_consistency("rated")
    rows = _source_rows(repo)
    at = T0 + timedelta(hours=23)
    loaded = T0 + timedelta(hours=20) - LATE
    newer = [d for d in range(1, 21) if (p := _pick(rows, d, at)) and p["event_timestamp"] > loaded]
    assert newer  # the data has such drivers
    rate = report.feature("stats__rate")
    assert (rate.lag, rate.unexplained) == (len(newer), 0), report.to_text()
    store.close()


def test_no_log_no_rows(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", seed=25)
    store = FeatureStore(repo)
    store.apply()
    report = store.check_consistency("logged")
    assert (report.rows, report.mismatches, report.ok) == (0, 0, True)
    assert [f.rows for f in report.features] == [0] * 6
    with pytest.raises(InputError, match="'plain' has no logging"):
        store.check_consistency("plain")
    with pytest.raises(NotFoundError, match="nope"):
        store.check_consistency("nope")
    # times as ISO-8601 text, like the other methods; a bad or reversed range is named
    assert store.check_consistency("logged", "2026-01-01", "2026-01-02T00:00:00Z").rows == 0
    with pytest.raises(InputError, match="start 'garbage' is not an ISO-8601"):
        store.check_consistency("logged", "garbage")
    with pytest.raises(InputError, match="start 2026-01-02T00:00:00\\+00:00 is after end"):
        store.check_consistency("logged", "2026-01-02", "2026-01-01")
    store.close()
