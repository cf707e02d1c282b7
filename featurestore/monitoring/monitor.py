"""``featurestore monitor``: on every tick, run the configured drift and consistency checks (recording their results
in the state store, where ``/metrics`` reads them) and write the monitor's heartbeat.

A check that fails (a :class:`~featurestore.errors.FeatureStoreError`) is counted as an error of the tick and the
loop goes on; the heartbeat (``monitor``/``monitor``/``heartbeat``) carries the time of the last tick, the number of
ticks and of errors, and the last error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from featurestore import utc
from featurestore.config import DriftCheck, MonitoringConfig
from featurestore.definitions.durations import parse_duration
from featurestore.errors import FeatureStoreError
from featurestore.monitoring.samples import Served
from featurestore.monitoring.status import CONSISTENCY, DRIFT, record_heartbeat

Monitored = Any
"""The store the monitor runs on: a :class:`featurestore.FeatureStore` (``drift``, ``check_consistency``,
``state_store``, ``clock``); typed loosely because the monitoring layer sits below the store."""


@dataclass
class TickResult:
    """One tick: when it ran, the drift alerts (``target:feature``), unexplained mismatches per
    ``service:feature``, and the errors (``"<check>: <message>"``)."""

    at: datetime
    alerts: list[str] = field(default_factory=list)
    unexplained: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    heartbeat: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """A drift alert or an unexplained mismatch was found (``--once`` exits 2)."""
        return bool(self.alerts) or any(self.unexplained.values())


def _window(text: str, what: str, now: datetime) -> tuple[datetime, datetime]:
    return now - timedelta(microseconds=parse_duration(text, what)), now


def _reference(check: DriftCheck, now: datetime) -> tuple[datetime, datetime]:
    if isinstance(check.reference, list):
        return utc.parse_iso(check.reference[0], "reference start"), utc.parse_iso(check.reference[1], "reference end")
    return _window(check.reference, "drift reference", now)


def _drift(store: Monitored, check: DriftCheck, now: datetime) -> None:
    start, end = _window(check.window, "drift window", now)
    current = (start, end) if check.current == "source" else Served(start, end)
    store.drift(check.target, _reference(check, now), current, record=True)


def _consistency(store: Monitored, service: str, window: str, now: datetime) -> None:
    start, end = _window(window, "consistency window", now)
    store.check_consistency(service, start, end, record=True)


def _since(value: Any, at: datetime) -> bool:
    try:
        return utc.parse_iso(str(value.get("checked_at"))) >= at
    except (FeatureStoreError, ValueError, AttributeError):
        return False


def tick(store: Monitored, config: MonitoringConfig) -> TickResult:
    """Run every configured check once and write the heartbeat; never raises for a failing check."""
    now = utc.to_utc(store.clock())
    result = TickResult(at=now)
    tasks: list[tuple[str, Callable[[], None]]] = []
    for d in config.drift:
        tasks.append((f"drift {d.target}", partial(_drift, store, d, now)))
    for c in config.consistency:
        tasks.append((f"consistency {c.service}", partial(_consistency, store, c.service, c.window, now)))
    for name, run in tasks:
        try:
            run()
        except FeatureStoreError as exc:
            result.errors.append(f"{name}: {exc.message}")
    targets = {d.target for d in config.drift}
    services = {c.service for c in config.consistency}
    for r in store.state_store.records(DRIFT):
        if r.name in targets and _since(r.value, now) and r.value.get("status") == "alert":
            result.alerts.append(f"{r.name}:{r.key}")
    for r in store.state_store.records(CONSISTENCY):
        if r.name in services and _since(r.value, now):
            result.unexplained[f"{r.name}:{r.key}"] = int(r.value.get("unexplained", 0) or 0)
    result.heartbeat = record_heartbeat(store.state_store, now.isoformat(), len(result.errors),
                                        result.errors[-1] if result.errors else None)
    return result


def run(store: Monitored, config: MonitoringConfig, stop: threading.Event,
        on_tick: Callable[[TickResult], None] | None = None, interval: float | None = None) -> int:
    """Tick every ``interval`` seconds (default ``config.interval_seconds``) until ``stop`` is set; returns the
    number of ticks."""
    ticks = 0
    wait = interval if interval is not None else config.interval_seconds
    while not stop.is_set():
        result = tick(store, config)
        ticks += 1
        if on_tick is not None:
            on_tick(result)
        stop.wait(wait)
    return ticks
