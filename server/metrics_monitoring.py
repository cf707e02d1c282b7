"""The data-quality and monitoring metrics of ``GET /metrics``, read at scrape time from shared storage (the state
store and the online store), so every worker of a multiprocess server exports the same values.

* ``featurestore_validation_batches_total{view,outcome}``, ``featurestore_validation_bad_rows_total{view,outcome}``
  (outcome ``passed``, ``rejected``, ``quarantined``, ``warned``);
* ``featurestore_materialization_failures_total{view}``,
  ``featurestore_materialization_last_failure_timestamp_seconds{view}``;
* ``featurestore_feature_view_data_timestamp_seconds{view}`` (newest event time written online, by any process),
  ``featurestore_feature_view_max_staleness_seconds{view}`` (the SLA; views with one);
* ``featurestore_drift_psi|ks|js{target,feature}`` and ``featurestore_drift_status{target,feature}``
  (0 ok, 1 warn, 2 alert, -1 insufficient data);
* ``featurestore_consistency_unexplained{service,feature}``,
  ``featurestore_consistency_mismatches{service,feature,reason}`` (reason ``lag``, ``ttl``, ``unexplained``);
* ``featurestore_monitor_last_run_timestamp_seconds``, ``featurestore_monitor_errors_total``.

``featurestore_online_served_age_seconds{view}`` and the feature-log counters are process metrics (``metrics.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from featurestore import FeatureStoreError, MonitoringStatus, utc

DRIFT_STATUS = {"ok": 0.0, "warn": 1.0, "alert": 2.0, "insufficient_data": -1.0}
REASONS = ("lag", "ttl", "unexplained")


def seconds(iso: Any) -> float | None:
    """ISO 8601 text as epoch seconds (naive means UTC); None when it is not one."""
    try:
        return utc.to_utc(datetime.fromisoformat(str(iso))).timestamp()
    except (ValueError, TypeError):
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


class MonitoringCollector(Collector):
    """Yields the metrics above from ``status()`` (None: nothing to export yet, e.g. no registry loaded)."""

    def __init__(self, status: Callable[[], MonitoringStatus | None]) -> None:
        self.status = status

    def collect(self) -> Iterator[Any]:
        try:
            status = self.status()
        except FeatureStoreError:  # the state store unreadable: the other metrics still export
            return
        if status is None:
            return
        yield from self._validation(status)
        yield from self._materialization(status)
        yield from self._freshness(status)
        yield from self._drift(status)
        yield from self._consistency(status)
        yield from self._monitor(status)

    @staticmethod
    def _validation(status: MonitoringStatus) -> Iterator[Any]:
        batches = CounterMetricFamily("featurestore_validation_batches", "Validated batches per view and outcome",
                                      labels=["view", "outcome"])
        bad = CounterMetricFamily("featurestore_validation_bad_rows",
                                  "Rows failing an expectation per view and outcome", labels=["view", "outcome"])
        for view, outcomes in sorted(status.validation.items()):
            for outcome, rec in sorted(outcomes.items()):
                for family, key in ((batches, "batches"), (bad, "bad_rows")):
                    value = _number(rec.get(key))
                    if value is not None:
                        family.add_metric([view, outcome], value)
        yield from (batches, bad)

    @staticmethod
    def _materialization(status: MonitoringStatus) -> Iterator[Any]:
        failures = CounterMetricFamily("featurestore_materialization_failures", "Failed materialization runs per view",
                                       labels=["view"])
        last = GaugeMetricFamily("featurestore_materialization_last_failure_timestamp_seconds",
                                 "When the last failed materialization run of the view ended", labels=["view"])
        for view, rec in sorted(status.materialization_failures.items()):
            failures.add_metric([view], float(rec.get("count", 0)))
            when = seconds(rec.get("last_failure"))
            if when is not None:
                last.add_metric([view], when)
        yield from (failures, last)

    @staticmethod
    def _freshness(status: MonitoringStatus) -> Iterator[Any]:
        data = GaugeMetricFamily("featurestore_feature_view_data_timestamp_seconds",
                                 "Newest event time written online for the view (any writer process)", labels=["view"])
        sla = GaugeMetricFamily("featurestore_feature_view_max_staleness_seconds",
                                "The view's freshness SLA (max_staleness)", labels=["view"])
        for view, f in sorted(status.freshness.items()):
            if f.data_timestamp_us is not None:
                data.add_metric([view], f.data_timestamp_us / 1e6)
            if f.max_staleness is not None:
                sla.add_metric([view], f.max_staleness.total_seconds())
        yield from (data, sla)

    @staticmethod
    def _drift(status: MonitoringStatus) -> Iterator[Any]:
        labels = ["target", "feature"]
        families = {key: GaugeMetricFamily(f"featurestore_drift_{key}", f"Drift {key.upper()} of the last check",
                                           labels=labels) for key in ("psi", "ks", "js")}
        verdict = GaugeMetricFamily("featurestore_drift_status",
                                    "Drift verdict of the last check: 0 ok, 1 warn, 2 alert, -1 insufficient data",
                                    labels=labels)
        for target, features in sorted(status.drift.items()):
            for feature, rec in sorted(features.items()):
                for key, family in families.items():
                    value = _number(rec.get(key))
                    if value is not None:
                        family.add_metric([target, feature], value)
                code = DRIFT_STATUS.get(str(rec.get("status")))
                if code is not None:
                    verdict.add_metric([target, feature], code)
        yield from (*families.values(), verdict)

    @staticmethod
    def _consistency(status: MonitoringStatus) -> Iterator[Any]:
        unexplained = GaugeMetricFamily("featurestore_consistency_unexplained",
                                        "Unexplained online/offline mismatches of the last check (0 when correct)",
                                        labels=["service", "feature"])
        mismatches = GaugeMetricFamily("featurestore_consistency_mismatches",
                                       "Online/offline mismatches of the last check by reason",
                                       labels=["service", "feature", "reason"])
        for service, features in sorted(status.consistency.items()):
            for feature, rec in sorted(features.items()):
                value = _number(rec.get("unexplained"))
                if value is not None:
                    unexplained.add_metric([service, feature], value)
                for reason in REASONS:
                    count = _number(rec.get(reason))
                    if count is not None:
                        mismatches.add_metric([service, feature, reason], count)
        yield from (unexplained, mismatches)

    @staticmethod
    def _monitor(status: MonitoringStatus) -> Iterator[Any]:
        beat = status.monitor
        if beat is None:
            return
        last = seconds(beat.get("last_run"))
        if last is not None:
            run = GaugeMetricFamily("featurestore_monitor_last_run_timestamp_seconds",
                                    "When the last tick of 'featurestore monitor' ran")
            run.add_metric([], last)
            yield run
        errors = CounterMetricFamily("featurestore_monitor_errors",
                                     "Failed checks of 'featurestore monitor', all ticks")
        errors.add_metric([], float(beat.get("errors", 0) or 0))
        yield errors
