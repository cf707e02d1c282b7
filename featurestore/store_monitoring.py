"""The data-quality and monitoring methods of :class:`~featurestore.FeatureStore`: expectations (dry run), statistics,
drift, feature logging, consistency, freshness and what ``/metrics`` reads.

A mixin of ``FeatureStore`` (kept in its own module so each stays small); every method delegates to
:mod:`featurestore.quality`, :mod:`featurestore.materialize.gated` or :mod:`featurestore.monitoring`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featurestore.definitions.feature_service import FeatureService
from featurestore.materialize import gated, runlog
from featurestore.materialize import run as mat
from featurestore.monitoring import consistency, feature_log, stats
from featurestore.monitoring import freshness as fresh
from featurestore.monitoring.drift_report import DriftReport
from featurestore.monitoring.freshness import ViewFreshness
from featurestore.monitoring.log_files import log_dir
from featurestore.monitoring.profile import Profile
from featurestore.monitoring.status import MonitoringStatus, read_status
from featurestore.offline.protocol import RetrievalJob
from featurestore.online.response import OnlineResponse
from featurestore.quality import outcomes
from featurestore.quality.policy import Gate
from featurestore.quality.report import ValidationReport
from featurestore.registry.file import RegistryState
from featurestore.store_parts import StoreParts
from featurestore.utc import time_range


class MonitoringMethods(StoreParts):
    """Data quality and monitoring on a feature store (mixed into :class:`~featurestore.FeatureStore`)."""

    if TYPE_CHECKING:
        _feature_logger: feature_log.FeatureLogger

        def list_feature_services(self) -> list[FeatureService]: ...

        def get_historical_features(self, entity_df: Any = None, features: Any = None,
                                    full_feature_names: bool = False, as_of_created: bool = False,
                                    start_date: datetime | None = None, end_date: datetime | None = None,
                                    validate: bool = False) -> RetrievalJob: ...

    def validate(self, feature_view: str, start: datetime | str | None = None,
                 end: datetime | str | None = None) -> ValidationReport:
        """Dry run of a view's expectations over its source rows with event time in ``[start, end]`` (None: from
        the first row / up to the store's clock): exactly what materialize would check; writes and records
        nothing. ``outcome`` is what materialize would do (``passed``, ``rejected``, ``quarantined``, ``warned``).

        >>> print(store.validate("driver_stats", "2026-01-01", "2026-01-02"))    # doctest: +SKIP
        feature view 'driver_stats': passed (on_invalid='reject'), 480 rows, 0 bad
          ok   not_null(conv_rate): 0 bad rows
        """
        state, live = self._code.with_transforms(self.state())
        view = state.feature_view(feature_view)
        with self._code.explained(live):
            return gated.check_range(self._gate(record=False), self.offline, view, start, end)

    def _gate(self, record: bool = True) -> Gate:
        """The expectations gate of the write paths (state store, data folder, clock)."""
        return Gate(self.state_store, self.data_dir, self.clock, record)

    def profile(self, what: Any, start: datetime | str | None = None, end: datetime | str | None = None, *,
                features: list[str] | None = None, served: bool = False) -> Profile:
        """Statistics per feature (README "Statistics and drift"): of a view's source rows with event time in
        ``[start, end]``; of a service's logged served values (``served=True``, log time in range); or of a
        training set (``what``: a table, a RetrievalJob, a Parquet path).

        >>> print(store.profile("driver_stats", "2026-10-01", "2026-10-31"))        # doctest: +SKIP
        """
        state, live = self._code.with_transforms(self.state())  # a view's batch transform runs as when training
        with self._code.explained(live):
            return stats.profile(self._monitoring(state), what, start, end, features, served)

    def drift(self, what: str, reference: Any, current: Any = "served", *, features: list[str] | None = None,
              min_rows: int = 1000, warn: float = 0.1, alert: float = 0.25, record: bool = False) -> DriftReport:
        """Drift per feature of a view or service between ``reference`` and ``current`` (PSI, KS, JS): each a
        ``(start, end)`` of the source, ``"served"`` / ``Served(start, end)`` (logged values) or a training set.
        ``record=True`` writes the ``drift`` state records (read by ``/metrics``).

        >>> store.drift("driver_activity", reference=("2026-10-01", "2026-10-31")).status  # doctest: +SKIP
        'ok'
        """
        state, live = self._code.with_transforms(self.state())
        with self._code.explained(live):
            report = stats.drift(self._monitoring(state), what, reference, current, features=features,
                                 min_rows=min_rows, warn=warn, alert=alert, checked_at=self.clock().isoformat())
        if record:
            stats.record(self.state_store, report)
        return report

    def _monitoring(self, state: RegistryState | None = None) -> stats.Context:
        return stats.Context(self.offline, state if state is not None else self.state(), self.repo_path,
                             self.data_dir)

    def check_consistency(self, service: str, start: datetime | str | None = None,
                          end: datetime | str | None = None, *, record: bool = False) -> consistency.ConsistencyReport:
        """Replay a service's lookups logged in ``[start, end]`` through the training-set path
        (``as_of_created=True`` at each lookup's time) and compare per feature and row; ``record``: keep the
        counts in the state store (kind ``consistency``). See the README's "Feature logging and online/offline
        consistency".

        >>> store.check_consistency("driver_activity").unexplained  # doctest: +SKIP
        0
        """
        state = self.state()
        svc = state.feature_service(service)
        start, end = time_range(start, end)  # datetimes (naive = UTC) or ISO-8601 text
        target = mat.target_of(self.online, self.repo_path)
        return consistency.check(consistency.Inputs(
            state, svc, self._log_folder(svc), self.offline,
            lambda entity: self.get_historical_features(entity, svc, full_feature_names=True, as_of_created=True),
            lambda view: runlog.runs(self.state_store, view, target), self.clock,
        ), start, end, self.state_store if record else None)

    def log_served(self, features: Any, answer: OnlineResponse, entity_rows: Any = None,
                   full_feature_names: bool = False, state: RegistryState | None = None) -> None:
        """Queue a served lookup for the feature log when ``features`` is a logging service (its name or the
        object; anything else: nothing). ``answer.now_us`` is the time logged. ``get_online_features`` calls it;
        a server reading through its own :class:`OnlineReader` calls it after each lookup."""
        if isinstance(features, str | FeatureService):
            feature_log.log_lookup(self._feature_logger, state if state is not None else self.state(), features,
                                   answer, entity_rows, full_feature_names, self._log_folder)

    def _log_folder(self, service: FeatureService) -> Path:
        dest = service.logging.destination if service.logging else None
        return log_dir(self.repo_path, self.data_dir, service.name, dest)

    def flush_feature_logs(self) -> None:
        """Write the queued feature-log rows now (the writer does every second; ``close`` does too)."""
        self._feature_logger.flush()

    def feature_log_counts(self) -> dict[str, dict[str, int]]:
        """Per logging service: rows ``logged`` and ``dropped`` (queue full) by this process's lookups."""
        counts = {s.name: {"logged": 0, "dropped": 0} for s in self.list_feature_services() if s.logging}
        return {**counts, **self._feature_logger.counts()}

    def freshness(self, state: RegistryState | None = None) -> dict[str, ViewFreshness]:
        """Per feature view and aggregate view: the newest event time written online by any process, its
        ``max_staleness``, the age at the store's clock and whether it is stale (None without an SLA).

        >>> store.freshness()["driver_stats"].stale                  # doctest: +SKIP
        False
        """
        return fresh.freshness(state if state is not None else self.state(), self.online.data_timestamps(),
                               self.clock())

    def validation_log(self, feature_view: str, limit: int = 20) -> list[dict[str, Any]]:
        """The newest recorded validations of ``feature_view`` that did not pass (rejected, quarantined, warned),
        newest first, as ``ValidationReport.to_dict()`` (the last 200 are kept); the counts of every outcome,
        ``passed`` included, are in :meth:`monitoring_status`.

        >>> store.validation_log("driver_stats")[0]["outcome"]       # doctest: +SKIP
        'rejected'
        """
        return outcomes.log(self.state_store, feature_view)[::-1][:max(0, limit)]

    def monitoring_status(self, state: RegistryState | None = None) -> MonitoringStatus:
        """What ``/metrics`` exports of data quality: validation outcomes, materialization failures, drift,
        consistency, the monitor's heartbeat (state-store records) and :meth:`freshness`."""
        return read_status(self.state_store, lambda: self.freshness(state))

