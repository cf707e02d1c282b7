"""/metrics exports every SPEC metric from records written in the SPEC formats (random values, compared one by one),
and the monitor loop: heartbeat, error counting, exit codes."""

from __future__ import annotations

import random
import re
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from featurestore import FeatureStore
from featurestore.cli import main
from featurestore.config import MonitoringConfig
from featurestore.materialize import runlog
from featurestore.monitoring.monitor import tick
from server.metrics import Metrics
from server.metrics_monitoring import DRIFT_STATUS
from tests.freshness.conftest import END, Repo
from tests.server.test_ops_http import sample


def _put(store: FeatureStore, kind: str, name: str, key: str, value: Any) -> None:
    store.state_store.update(kind, name, key, lambda _: value)


def _scrape(store: FeatureStore) -> str:
    return Metrics(lambda: None, status=lambda: store.monitoring_status()).render().decode()


@pytest.fixture
def store(repo: Repo) -> Any:
    s = repo.open()
    yield s
    s.close()


@pytest.mark.parametrize("repo", ["sqlite"], indirect=True)  # state-store records: the online store does not matter
def test_records_in_spec_formats_are_exported(store: FeatureStore) -> None:
    rng = random.Random(5)
    iso = END.isoformat()
    expected: list[tuple[str, dict[str, str], float]] = []
    for view in ("driver_stats", "customer_profile"):
        for outcome in ("passed", "rejected", "quarantined", "warned"):
            rec = {"batches": rng.randint(0, 50), "rows": rng.randint(0, 10**6), "bad_rows": rng.randint(0, 99),
                   "last": iso}
            _put(store, "validation", view, outcome, rec)
            expected += [("featurestore_validation_batches_total", {"view": view, "outcome": outcome}, rec["batches"]),
                         ("featurestore_validation_bad_rows_total", {"view": view, "outcome": outcome},
                          rec["bad_rows"])]
    for target in ("driver_activity", "driver_stats"):
        for feature in ("conv_rate", "acc_rate"):
            status = rng.choice(list(DRIFT_STATUS))
            rec = {"psi": rng.random(), "ks": rng.random(), "js": rng.random(), "status": status,
                   "rows_reference": 5000, "rows_current": 2000, "checked_at": iso}
            _put(store, "drift", target, feature, rec)
            labels = {"target": target, "feature": feature}
            expected += [(f"featurestore_drift_{k}", labels, rec[k]) for k in ("psi", "ks", "js")]
            expected.append(("featurestore_drift_status", labels, DRIFT_STATUS[status]))
    rec = {"rows": 100, "matches": 90, "mismatches": 10, "lag": 6, "ttl": 3, "unexplained": 1, "checked_at": iso}
    _put(store, "consistency", "driver_activity", "conv_rate", rec)
    expected.append(("featurestore_consistency_unexplained", {"service": "driver_activity", "feature": "conv_rate"}, 1))
    for reason in ("lag", "ttl", "unexplained"):
        expected.append(("featurestore_consistency_mismatches",
                         {"service": "driver_activity", "feature": "conv_rate", "reason": reason}, rec[reason]))
    for target in ("redis://a", "sqlite:/b"):  # failures are summed over online stores, per view
        runlog.log_run(store.state_store, "driver_stats", target, None, END, iso, 0, lambda: END, error="boom")
    runlog.log_run(store.state_store, "driver_stats", "redis://a", None, END, iso, 0,
                   lambda: END + timedelta(minutes=5), error="later")
    expected += [("featurestore_materialization_failures_total", {"view": "driver_stats"}, 3),
                 ("featurestore_materialization_last_failure_timestamp_seconds", {"view": "driver_stats"},
                  (END + timedelta(minutes=5)).timestamp())]
    _put(store, "monitor", "monitor", "heartbeat", {"last_run": iso, "runs": 4, "errors": 7, "last_error": "x"})
    expected += [("featurestore_monitor_last_run_timestamp_seconds", {}, END.timestamp()),
                 ("featurestore_monitor_errors_total", {}, 7)]
    text = _scrape(store)
    for name, labels, value in expected:
        assert sample(text, name, **labels) == pytest.approx(float(value)), (name, labels)
        assert re.search(rf"^{name}(\{{| )", text, re.M), name


def test_monitor_tick_heartbeat_and_errors(repo: Repo) -> None:
    store = repo.open()
    try:
        config = MonitoringConfig.model_validate({
            "interval_seconds": 60,
            "drift": [{"service": "driver_activity", "reference": "30d"},
                      {"view": "driver_stats", "reference": ["2026-01-01", "2026-02-01"], "current": "source"}],
            "consistency": [{"service": "driver_activity", "window": "2h"}]})
        first = tick(store, config)
        failing = len(first.errors)  # a failing check is counted, never raised: nothing was logged yet
        assert len(first.errors) == 1 and first.errors[0].startswith("drift driver_activity: ")
        assert "has no logged values" in first.errors[0]
        assert first.heartbeat == {"last_run": END.isoformat(), "runs": 1, "errors": failing,
                                   "last_error": first.errors[-1] if first.errors else None}
        repo.clock[0] = END + timedelta(minutes=5)
        second = tick(store, config)
        assert second.heartbeat["runs"] == 2 and second.heartbeat["errors"] == failing + len(second.errors)
        text = _scrape(store)
        last = sample(text, "featurestore_monitor_last_run_timestamp_seconds")
        assert last == (END + timedelta(minutes=5)).timestamp()
        assert sample(text, "featurestore_monitor_errors_total") == failing + len(second.errors)
        # a fresh unexplained mismatch makes the tick fail (exit 2 of --once); an older record does not
        store.state_store.update("consistency", "driver_activity", "conv_rate", lambda _: {
            "rows": 5, "matches": 4, "mismatches": 1, "lag": 0, "ttl": 0, "unexplained": 1,
            "checked_at": (END + timedelta(minutes=10)).isoformat()})
        repo.clock[0] = END + timedelta(minutes=10)
        assert tick(store, config).failed
        repo.clock[0] = END + timedelta(minutes=15)
        assert not tick(store, config).failed
    finally:
        store.close()


def test_monitor_once_cli(repo: Repo) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--repo", str(repo.path), "monitor", "--once"], env=repo.env)
    assert result.exit_code == 0, result.output  # nothing configured: a heartbeat and exit 0
    store = repo.open()
    try:
        beat = store.monitoring_status().monitor
        assert beat is not None and beat["runs"] == 1 and beat["errors"] == 0
    finally:
        store.close()
