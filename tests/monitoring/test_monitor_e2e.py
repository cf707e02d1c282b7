"""The monitoring loop end to end: real lookups of a logging service, `featurestore monitor --once` (its exit code)
running the configured drift and consistency checks, and what `/metrics` then exports.

A seeded 1σ mean shift of a feature between the reference month and what is served alerts (exit code 2, drift
status 2 for that feature, the others 0); the same data without the shift does not; consistency finds nothing
unexplained in both.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from featurestore import FeatureStore, utc
from featurestore.cli import main
from server.metrics import Metrics
from tests.monitoring.stats_repo import make_repo, rows
from tests.server.test_ops_http import sample

RIDERS = list(range(500))


def _deployment(root: Path, shift: float) -> FeatureStore:
    """A repo whose reference month is N(0, 1) and whose last 30 days are N(shift, 1), materialized now, with its
    logging service looked up 4 times per rider, and the monitor's config."""
    now = utc.now()
    reference = rows(20_000, now - timedelta(days=62), seed=11)
    current = rows(20_000, now - timedelta(days=30), seed=12, shift=shift)
    store = make_repo(root, reference, current)
    ref = [(now - timedelta(days=62)).isoformat(), (now - timedelta(days=32)).isoformat()]
    config = yaml.safe_load((root / "featurestore.yaml").read_text())
    config["monitoring"] = {
        "interval_seconds": 60,
        "drift": [{"service": "ranking", "reference": ref, "current": "served", "window": "1d"},
                  {"view": "rider_stats", "reference": ref, "current": "source", "window": "31d"}],
        "consistency": [{"service": "ranking", "window": "1d"}]}
    (root / "featurestore.yaml").write_text(yaml.safe_dump(config))
    store.close()
    store = FeatureStore(root)
    store.materialize_incremental(utc.now())
    for _ in range(4):
        answer = store.get_online_features("ranking", [{"rider_id": r} for r in RIDERS])
        assert set(answer.statuses["score"]) == {"PRESENT"}
    store.flush_feature_logs()
    return store


def _metrics(store: FeatureStore) -> str:
    return Metrics(lambda: None, status=lambda: store.monitoring_status()).render().decode()


@pytest.mark.parametrize("shift", [1.0, 0.0])
def test_monitor_once_alerts_on_a_one_sigma_shift_only(tmp_path: Path, shift: float) -> None:
    store = _deployment(tmp_path / "repo", shift)
    try:
        result = CliRunner().invoke(main, ["--repo", str(store.repo_path), "monitor", "--once"])
        assert result.exit_code == (2 if shift else 0), result.output
        text = _metrics(store)
        status = 2 if shift else 0
        assert sample(text, "featurestore_drift_status", target="ranking", feature="rider_stats__score") == status
        assert sample(text, "featurestore_drift_status", target="rider_stats", feature="score") == status
        psi = sample(text, "featurestore_drift_psi", target="ranking", feature="rider_stats__score")
        assert psi > 0.25 if shift else psi < 0.1
        for feature in ("trips", "city", "vip"):  # not shifted: no verdict against them
            assert sample(text, "featurestore_drift_status", target="rider_stats", feature=feature) == 0
        for feature in ("score", "trips", "city", "vip"):
            assert sample(text, "featurestore_consistency_unexplained", service="ranking",
                          feature=f"rider_stats__{feature}") == 0
        assert sample(text, "featurestore_monitor_errors_total") == 0
        assert sample(text, "featurestore_monitor_last_run_timestamp_seconds") > 0
        # the library says the same as the metrics
        report = store.drift("rider_stats", reference=(utc.now() - timedelta(days=62), utc.now() - timedelta(days=32)),
                             current=(utc.now() - timedelta(days=31), utc.now()))
        assert report.features["score"].status == ("alert" if shift else "ok")
    finally:
        store.close()

