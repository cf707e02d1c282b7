"""Prometheus metrics (``GET /metrics``).

* ``featurestore_http_requests_total{endpoint,method,status}`` and
  ``featurestore_http_request_duration_seconds{endpoint,method,status}`` (histogram), recorded by
  a pure ASGI middleware; ``endpoint`` is the route path (``/ui`` for every page of the web UI, ``other`` for
  unknown paths).
* ``featurestore_online_lookups_total{view}``: entity rows looked up per feature view;
  ``featurestore_online_not_found_total{view}`` and ``featurestore_online_outside_max_age_total{view}``.
* From the registry and the state store at scrape time: ``featurestore_materialization_rows_total{view}``,
  ``featurestore_materialization_last_rows{view}``,
  ``featurestore_materialization_last_success_timestamp_seconds{view}``,
  ``featurestore_materialization_watermark_timestamp_seconds{view}``, ``featurestore_registry_version``.
* ``featurestore_materialization_running`` (1 while a materialization started over HTTP runs).
* ``featurestore_registry_reloads_total`` (registry snapshots loaded: applies and materializations
  change the file) and ``featurestore_registry_reload_errors_total``.

* ``featurestore_online_served_age_seconds{view}`` (histogram): per request and view, the age of the OLDEST value
  served (request time − its event time; rows served ``PRESENT`` only).
* ``featurestore_feature_log_rows_total{service}`` / ``featurestore_feature_log_dropped_total{service}``: served
  vectors logged / dropped by a full queue (``FeatureStore.feature_log_counts``), synced at most once a second.
* The data-quality and monitoring metrics read from shared storage at scrape time: ``metrics_monitoring.py``.

With several workers (``featurestore serve --workers N``) the counters are shared through
prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by the serve command).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Collection, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from featurestore import PRESENT, FeatureStoreError, MonitoringStatus

from .auth import UI_PREFIX, is_ui
from .metrics_monitoring import MonitoringCollector, seconds
from .prefix import route_path

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
AGE_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0, 259200.0,
               604800.0)
"""Served-age buckets (seconds): 1 s to a week."""
LOG_SYNC_S = 1.0
"""How often the feature-log counters are brought up to date from ``FeatureStore.feature_log_counts``."""
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _seconds(iso: Any) -> float | None:
    return seconds(iso)


class RegistryCollector(Collector):
    """Materialization figures per view, from the store's watermarks at scrape time."""

    def __init__(self, snapshot: Callable[[], Any], running: Callable[[], bool],
                 marks: Callable[[], dict[str, Any]] = dict) -> None:
        self.snapshot = snapshot
        self.running = running
        self.marks = marks

    def collect(self) -> Iterator[Any]:
        running = GaugeMetricFamily("featurestore_materialization_running",
                                    "1 while a materialization started by this server runs")
        running.add_metric([], 1.0 if self.running() else 0.0)
        yield running
        state = self.snapshot()
        if state is None:
            return
        version = GaugeMetricFamily("featurestore_registry_version", "Version of the registry being served")
        version.add_metric([], float(state.version))
        yield version
        rows = CounterMetricFamily("featurestore_materialization_rows", "Rows materialized per view, all runs",
                                   labels=["view"])
        last = GaugeMetricFamily("featurestore_materialization_last_rows", "Rows of the last successful run",
                                 labels=["view"])
        success = GaugeMetricFamily("featurestore_materialization_last_success_timestamp_seconds",
                                    "When the last successful run of the view ended", labels=["view"])
        mark = GaugeMetricFamily("featurestore_materialization_watermark_timestamp_seconds",
                                 "End of the materialized range of the view", labels=["view"])
        try:
            marks = self.marks()
        except FeatureStoreError:  # a shared state store out of reach: the other metrics still answer
            marks = {}
        for view, entry in sorted(marks.items()):
            rows.add_metric([view], float(entry.get("total_rows", 0)))
            last.add_metric([view], float(entry.get("last_rows", 0)))
            for family, key in ((success, "last_success"), (mark, "watermark")):
                value = _seconds(entry.get(key))
                if value is not None:
                    family.add_metric([view], value)
        yield from (rows, last, success, mark)


class Metrics:
    """The server's metrics; one instance per app."""

    def __init__(self, snapshot: Callable[[], Any], running: Callable[[], bool] = lambda: False,
                 marks: Callable[[], dict[str, Any]] = dict,
                 status: Callable[[], MonitoringStatus | None] | None = None,
                 log_counts: Callable[[], dict[str, dict[str, int]]] | None = None) -> None:
        disable_created_metrics()  # no ``*_created`` series: they double the output for nothing
        self.registry = CollectorRegistry(auto_describe=True)
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        reg = self.registry
        self.requests = Counter("featurestore_http_requests", "HTTP requests",
                                ["endpoint", "method", "status"], registry=reg)
        self.latency = Histogram("featurestore_http_request_duration_seconds", "HTTP request latency",
                                 ["endpoint", "method", "status"], buckets=BUCKETS, registry=reg)
        self.lookups = Counter("featurestore_online_lookups", "Entity rows looked up per feature view",
                               ["view"], registry=reg)
        self.not_found = Counter("featurestore_online_not_found", "Entity rows without a value per feature view",
                                 ["view"], registry=reg)
        self.outside_max_age = Counter("featurestore_online_outside_max_age",
                                       "Entity rows whose value is older than the view's ttl", ["view"], registry=reg)
        self.reloads = Counter("featurestore_registry_reloads", "New registry versions loaded", registry=reg)
        self.reload_errors = Counter("featurestore_registry_reload_errors", "Failed registry reloads", registry=reg)
        self.served_age = Histogram("featurestore_online_served_age_seconds",
                                    "Per request and view, the age of the oldest value served", ["view"],
                                    buckets=AGE_BUCKETS, registry=reg)
        self.log_rows = Counter("featurestore_feature_log_rows", "Served vectors logged per service", ["service"],
                                registry=reg)
        self.log_dropped = Counter("featurestore_feature_log_dropped",
                                   "Served vectors dropped by a full feature-log queue per service", ["service"],
                                   registry=reg)
        self.collector = RegistryCollector(snapshot, running, marks)
        self.registry.register(self.collector)
        self.monitoring = MonitoringCollector(status if status is not None else lambda: None)
        self.registry.register(self.monitoring)
        self._log_counts = log_counts
        self._log_seen: dict[tuple[str, str], int] = {}
        self._log_synced = 0.0
        self._log_lock = threading.Lock()
        self._ages: dict[str, Any] = {}
        self._http: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._views: dict[str, tuple[Any, Any, Any]] = {}

    def observe_http(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        key = (endpoint, method, status)
        children = self._http.get(key)
        if children is None:
            children = self._http[key] = (self.requests.labels(endpoint, method, str(status)),
                                          self.latency.labels(endpoint, method, str(status)))
        children[0].inc()
        children[1].observe(seconds)

    def observe_lookup(self, view: str, rows: int, not_found: int, outside_max_age: int) -> None:
        children = self._views.get(view)
        if children is None:
            if len(self._views) > 10_000:  # views come from the registry, but stay bounded anyway
                self._views.clear()
            children = self._views[view] = (self.lookups.labels(view), self.not_found.labels(view),
                                             self.outside_max_age.labels(view))
        children[0].inc(rows)
        if not_found:
            children[1].inc(not_found)
        if outside_max_age:
            children[2].inc(outside_max_age)

    def observe_served(self, view: str, now_us: int, statuses: list[str], event_times_us: list[int | None]) -> None:
        """Observe the age of the oldest value served for one view of one request (nothing when none was)."""
        oldest = min((t for s, t in zip(statuses, event_times_us, strict=False) if s == PRESENT and t is not None),
                     default=None)
        if oldest is not None:
            child = self._ages.get(view)
            if child is None:
                if len(self._ages) > 10_000:
                    self._ages.clear()
                child = self._ages[view] = self.served_age.labels(view)
            child.observe(max(0.0, (now_us - oldest) / 1e6))
        if self._log_counts is not None and time.monotonic() - self._log_synced >= LOG_SYNC_S:
            self.sync_log_counts()

    def sync_log_counts(self) -> None:
        """Bring the feature-log counters up to this process's ``feature_log_counts()`` (a count that went down,
        after the store reopened its logs, counts again from zero)."""
        if self._log_counts is None:
            return
        with self._log_lock:
            self._log_synced = time.monotonic()
            try:
                counts = self._log_counts()
            except Exception:  # metrics never fail a request
                return
            for service, entry in counts.items():
                for kind, counter in (("logged", self.log_rows), ("dropped", self.log_dropped)):
                    now = int(entry.get(kind, 0))
                    seen = self._log_seen.get((service, kind), 0)
                    delta = now - seen if now >= seen else now
                    if delta:
                        counter.labels(service).inc(delta)
                    self._log_seen[(service, kind)] = now

    def render(self) -> bytes:
        self.sync_log_counts()
        if not self.multiprocess:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(self.collector)
        registry.register(self.monitoring)
        return generate_latest(registry)


class MetricsMiddleware:
    """Pure ASGI middleware timing every HTTP request by endpoint, method and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics, endpoints: Collection[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.endpoints = frozenset(endpoints)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = route_path(scope)
            label = path if path in self.endpoints else UI_PREFIX if is_ui(path) else "other"
            self.metrics.observe_http(label, scope["method"], status,
                                      time.perf_counter() - start)
