"""Prometheus metrics (``GET /metrics``).

* ``featurestore_http_requests_total{endpoint,method,status}`` and
  ``featurestore_http_request_duration_seconds{endpoint,method,status}`` (histogram), recorded by
  a pure ASGI middleware; ``endpoint`` is the route path (``other`` for unknown paths).
* ``featurestore_online_lookups_total{view}``: entity rows looked up per feature view;
  ``featurestore_online_not_found_total{view}`` and ``featurestore_online_outside_max_age_total{view}``.
* From the registry and the state store at scrape time: ``featurestore_materialization_rows_total{view}``,
  ``featurestore_materialization_last_rows{view}``,
  ``featurestore_materialization_last_success_timestamp_seconds{view}``,
  ``featurestore_materialization_watermark_timestamp_seconds{view}``, ``featurestore_registry_version``.
* ``featurestore_materialization_running`` (1 while a materialization started over HTTP runs).
* ``featurestore_registry_reloads_total`` (registry snapshots loaded: applies and materializations
  change the file) and ``featurestore_registry_reload_errors_total``.

With several workers (``featurestore serve --workers N``) the counters are shared through
prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by the serve command).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from featurestore import utc

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _seconds(iso: Any) -> float | None:
    try:
        return utc.to_utc(datetime.fromisoformat(str(iso))).timestamp()
    except ValueError:
        return None


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
        for view, entry in sorted(self.marks().items()):
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
                 marks: Callable[[], dict[str, Any]] = dict) -> None:
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
        self.collector = RegistryCollector(snapshot, running, marks)
        self.registry.register(self.collector)
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

    def render(self) -> bytes:
        if not self.multiprocess:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(self.collector)
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
            path = scope["path"]
            self.metrics.observe_http(path if path in self.endpoints else "other", scope["method"], status,
                                      time.perf_counter() - start)
