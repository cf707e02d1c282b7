"""What ``/metrics`` and the monitor read and write in the state store (formats: the issue's SPEC).

Records (kind, name, key → value) written by their owners and read here at scrape time:

* ``validation`` (view, outcome) → ``{"batches", "rows", "bad_rows", "last"}``;
* ``materialization_failures`` (view, target) → ``{"count", "last_failure", "error"}`` (``materialize/runlog.py``);
* ``drift`` (service or view, feature) → ``{"psi", "ks", "js", "status", "rows_reference", "rows_current",
  "checked_at"}``;
* ``consistency`` (service, feature) → ``{"rows", "matches", "mismatches", "lag", "ttl", "unexplained",
  "checked_at"}``;
* ``monitor`` (``monitor``, ``heartbeat``) → ``{"last_run", "runs", "errors", "last_error"}``, written by
  :func:`record_heartbeat` once per tick of ``featurestore monitor``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from featurestore.errors import FeatureStoreError
from featurestore.materialize import runlog
from featurestore.monitoring.freshness import ViewFreshness
from featurestore.state import StateStore

VALIDATION = "validation"
DRIFT = "drift"
CONSISTENCY = "consistency"
MONITOR = "monitor"
HEARTBEAT = "heartbeat"


@dataclass(frozen=True)
class MonitoringStatus:
    """Everything the monitoring metrics export, read in one go: per view/target/service the records above
    (``{name: {key: value}}``), the materialization failures per view, the monitor's heartbeat and the
    freshness of every view (see :meth:`featurestore.FeatureStore.monitoring_status`)."""

    validation: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    materialization_failures: dict[str, dict[str, Any]] = field(default_factory=dict)
    drift: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    consistency: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    monitor: dict[str, Any] | None = None
    freshness: dict[str, ViewFreshness] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
    """What could not be read (the online store unreachable: no freshness)."""


def _grouped(states: StateStore, kind: str) -> dict[str, dict[str, dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in states.records(kind):
        if isinstance(r.value, dict):
            out.setdefault(r.name, {})[r.key] = r.value
    return out


def read_status(states: StateStore, fresh: Callable[[], dict[str, ViewFreshness]]) -> MonitoringStatus:
    """The records of the state store, with ``fresh()`` (the caller's, from the online store; its
    :class:`FeatureStoreError` goes to ``errors``, the records are still read)."""
    beat = states.get(MONITOR, MONITOR, HEARTBEAT)
    errors: tuple[str, ...] = ()
    try:
        found = fresh()
    except FeatureStoreError as err:
        found, errors = {}, (f"freshness: {err.message}",)
    return MonitoringStatus(validation=_grouped(states, VALIDATION), materialization_failures=runlog.failures(states),
                            drift=_grouped(states, DRIFT), consistency=_grouped(states, CONSISTENCY),
                            monitor=beat if isinstance(beat, dict) else None, freshness=found, errors=errors)


def record_heartbeat(states: StateStore, at: str, errors: int, last_error: str | None) -> dict[str, Any]:
    """Count one monitor tick at ``at`` (ISO) with its ``errors``; returns the new heartbeat record."""
    def bump(old: Any) -> dict[str, Any]:
        old = old if isinstance(old, dict) else {}
        return {"last_run": at, "runs": int(old.get("runs", 0)) + 1, "errors": int(old.get("errors", 0)) + errors,
                "last_error": last_error if last_error is not None else old.get("last_error")}

    return dict(states.update(MONITOR, MONITOR, HEARTBEAT, bump) or {})
