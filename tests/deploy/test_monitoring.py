"""deploy/: the alert rules (promtool check + unit tests, both directions), the Prometheus config, the Grafana
dashboard (every panel's PromQL names only metrics the server exports) and the compose `monitoring` profile.

promtool comes from Debian's `prometheus` package: installed by deploy/install-promtool.sh when missing and apt is
usable; FEATURESTORE_REQUIRE_PROMTOOL=1 (set by .ci/run) turns a missing promtool into a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.helpers import COMPOSE, ROOT

DEPLOY = ROOT / "deploy"
PROM = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "featurestore.json"
SPEC_NAMES = {
    "featurestore_validation_batches_total", "featurestore_validation_bad_rows_total",
    "featurestore_materialization_failures_total", "featurestore_materialization_last_failure_timestamp_seconds",
    "featurestore_feature_view_data_timestamp_seconds", "featurestore_feature_view_max_staleness_seconds",
    "featurestore_online_served_age_seconds", "featurestore_drift_psi", "featurestore_drift_ks",
    "featurestore_drift_js", "featurestore_drift_status", "featurestore_consistency_unexplained",
    "featurestore_consistency_mismatches", "featurestore_monitor_last_run_timestamp_seconds",
    "featurestore_monitor_errors_total", "featurestore_feature_log_rows_total",
    "featurestore_feature_log_dropped_total",
}
METRIC = re.compile(r"\bfeaturestore_[a-z0-9_]+")


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None and shutil.which("apt-get"):
        subprocess.run(["sh", str(DEPLOY / "install-promtool.sh")], capture_output=True, timeout=900)
        found = shutil.which("promtool")
    if found is None:
        reason = ("promtool is not installed and deploy/install-promtool.sh could not install it (needs apt-get as "
                  "root): the alert rules are NOT tested")
        if os.environ.get("FEATURESTORE_REQUIRE_PROMTOOL") == "1":
            pytest.fail(reason)
        pytest.skip(f"!!! {reason} !!!")
    return found


def _promtool(promtool: str, *args: str, cwd: Path = PROM) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_rules_and_config_check(promtool: str) -> None:
    for args in (("check", "rules", "alerts.yml"), ("check", "config", "prometheus.yml")):
        done = _promtool(promtool, *args)
        assert done.returncode == 0, done.stdout + done.stderr


def test_alert_unit_tests_pass(promtool: str) -> None:
    done = _promtool(promtool, "test", "rules", "alerts_test.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_is_tested_both_ways() -> None:
    alerts = {r["alert"] for g in yaml.safe_load((PROM / "alerts.yml").read_text())["groups"] for r in g["rules"]}
    assert {"FeatureViewStale", "FeatureViewMaterializationFailing", "FeatureValidationRejects", "FeatureDriftAlert",
            "FeatureConsistencyMismatches", "FeatureMonitorNotRunning", "FeatureMonitorAbsent"} <= alerts
    fires: set[str] = set()
    silent: set[str] = set()
    for test in yaml.safe_load((PROM / "alerts_test.yml").read_text())["tests"]:
        for case in test["alert_rule_test"]:
            (fires if case["exp_alerts"] else silent).add(case["alertname"])
    assert fires == alerts and silent == alerts


def test_the_unit_tests_can_fail(promtool: str, tmp_path: Path) -> None:
    """Without its `for:` the stale-view alert fires too early, and the unit tests say so."""
    rules = (PROM / "alerts.yml").read_text()
    broken = rules.replace("        for: 10m\n", "        for: 0m\n", 1)
    assert broken != rules
    (tmp_path / "alerts.yml").write_text(broken)
    shutil.copy(PROM / "alerts_test.yml", tmp_path / "alerts_test.yml")
    done = _promtool(promtool, "test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert done.returncode != 0 and "FeatureViewStale" in done.stdout + done.stderr


def _exported_names() -> set[str]:
    """Metric names of a real /metrics output (in process, every family present) plus the SPEC's list."""
    from server.metrics import Metrics

    metrics = Metrics(lambda: None)
    metrics.observe_lookup("v", 1, 0, 0)
    metrics.observe_http("/x", "GET", 200, 0.01)
    text = metrics.render().decode()
    names = {m.group(0) for m in METRIC.finditer(text)}
    return names | SPEC_NAMES | {"featurestore_materialization_rows_total",
                                 "featurestore_materialization_last_success_timestamp_seconds"}


def _base(name: str) -> str:
    return re.sub(r"_(bucket|count|sum)$", "", name)


def test_dashboard_panels_name_only_exported_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exported = {_base(n) for n in _exported_names()}
    assert dashboard["uid"] and dashboard["panels"]
    used = set()
    for panel in dashboard["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = {_base(n) for n in METRIC.findall(target["expr"])}
            assert names, target["expr"]
            assert names <= exported, (panel["title"], names - exported)
            used |= names
    for wanted in ("featurestore_feature_view_data_timestamp_seconds", "featurestore_online_served_age_seconds",
                   "featurestore_drift_psi", "featurestore_consistency_mismatches",
                   "featurestore_monitor_last_run_timestamp_seconds", "featurestore_feature_log_dropped_total",
                   "featurestore_validation_batches_total", "featurestore_online_not_found_total"):
        assert _base(wanted) in used, wanted


def test_alert_rules_name_only_exported_metrics() -> None:
    exported = {_base(n) for n in _exported_names()}
    for group in yaml.safe_load((PROM / "alerts.yml").read_text())["groups"]:
        for rule in group["rules"]:
            names = {_base(n) for n in METRIC.findall(rule["expr"])}
            assert names and names <= exported, (rule["alert"], names - exported)


def test_monitoring_profile(compose: dict[str, Any]) -> None:
    services = compose["services"]
    profiled = {name for name, s in services.items() if "monitoring" in (s.get("profiles") or [])}
    assert profiled == {"prometheus", "grafana", "monitor"}
    mounts = {name: [str(v).split(":")[:2] for v in services[name].get("volumes", [])] for name in profiled}
    for name in ("prometheus", "grafana"):
        for host, _ in mounts[name]:
            if host.startswith("./"):
                assert (COMPOSE.parent / host).exists(), (name, host)
    assert ["./deploy/prometheus", "/etc/prometheus"] in mounts["prometheus"]
    assert ["./deploy/grafana/provisioning", "/etc/grafana/provisioning"] in mounts["grafana"]
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/featurestore.yml").read_text())
    assert ["./deploy/grafana/dashboards", provider["providers"][0]["options"]["path"]] in mounts["grafana"]
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uids = {t["datasource"]["uid"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p["targets"]}
    assert uids == {datasource["datasources"][0]["uid"]}
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    assert config["scrape_configs"][0]["static_configs"][0]["targets"] == ["server:6566"]
    assert services["monitor"]["command"][0] == "monitor"
