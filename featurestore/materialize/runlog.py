"""The materialization run log: every run of every view, successful or failed, in the state store.

Consistency checks read it to explain a served value that a training set disagrees with as ``lag`` (the run
that loaded the newer row had not finished when the value was served); ``/metrics`` reads the failure counter.

* kind :data:`RUN`, name = view, key = ``<finished_at ISO>|<target>``: ``{"target", "start", "end",
  "started_at", "finished_at", "rows", "ok", "error"}`` (``start`` None for a first run or an aggregate view;
  ``error`` None when ``ok``); the newest :data:`KEEP` runs per view are kept.
* kind :data:`FAILURES`, name = view, key = target: ``{"count", "last_failure", "error"}``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from featurestore.state import StateStore

RUN = "materialization_run"
FAILURES = "materialization_failures"
KEEP = 500
"""Runs kept per view (the oldest are dropped)."""


def log_run(states: StateStore, view: str, target: str, start: datetime | None, end: datetime,
            started_at: str, rows: int, clock: Callable[[], datetime], error: str | None = None) -> None:
    """Record one finished run of ``view`` into the online store ``target`` (``error``: why it failed); times
    come from ``clock`` (the store's), so a test with an injected clock sees them in its time."""
    finished = clock().isoformat()
    value = {"target": target, "start": start.isoformat() if start else None, "end": end.isoformat(),
             "started_at": started_at, "finished_at": finished, "rows": rows, "ok": error is None, "error": error}
    states.update(RUN, view, f"{finished}|{target}", lambda _: value)
    if error is not None:
        def bump(entry: Any) -> dict[str, Any]:
            entry = dict(entry or {})
            return {"count": int(entry.get("count", 0)) + 1, "last_failure": finished, "error": error}

        states.update(FAILURES, view, target, bump)
    keys = sorted(r.key for r in states.records(RUN) if r.name == view)
    for key in keys[:-KEEP]:
        states.delete(RUN, [view], key)


def runs(states: StateStore, view: str | None = None, target: str | None = None) -> list[dict[str, Any]]:
    """The logged runs (of ``view`` and ``target`` when given), oldest first, each with its ``view``."""
    out = [{"view": r.name, **r.value} for r in states.records(RUN)
           if (view is None or r.name == view) and (target is None or r.value.get("target") == target)]
    return sorted(out, key=lambda r: (r["finished_at"], r["view"]))


def failures(states: StateStore) -> dict[str, dict[str, Any]]:
    """Per view (summed over online stores): failed runs ``count``, the ``last_failure`` and its ``error``."""
    out: dict[str, dict[str, Any]] = {}
    for r in states.records(FAILURES):
        entry = out.setdefault(r.name, {"count": 0, "last_failure": "", "error": None})
        entry["count"] += int(r.value.get("count", 0))
        if r.value.get("last_failure", "") > entry["last_failure"]:
            entry["last_failure"], entry["error"] = r.value["last_failure"], r.value.get("error")
    return out
