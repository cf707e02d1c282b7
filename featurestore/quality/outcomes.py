"""Validation outcomes in the state store (exported as metrics by the server).

- ``validation``: name = view, key = outcome (``passed``, ``rejected``, ``quarantined``, ``warned``) →
  ``{"batches", "rows", "bad_rows", "last": ISO}``; one update per validated batch.
- ``validation_log``: name = view, key = ``<ISO>|<8 hex>`` → the report's ``to_dict()`` for every outcome other
  than ``passed``; the newest :data:`KEEP` per view are kept.
"""

from __future__ import annotations

import itertools
import os
from datetime import datetime
from typing import Any

from featurestore.quality.report import ValidationReport
from featurestore.state import StateStore

COUNTERS = "validation"
LOG = "validation_log"
KEEP = 200
"""Reports kept per view in ``validation_log``."""
_sequence = itertools.count()
_process = os.urandom(1).hex()


def _suffix() -> str:
    """8 hex: a counter of this process (reports logged at the same clock time keep their order), then a random
    byte of the process (two processes at the same time and count rarely collide)."""
    return f"{next(_sequence) & 0xFFFFFF:06x}{_process}"


def record(states: StateStore, report: ValidationReport, at: datetime) -> None:
    """Count ``report`` under its view and outcome; log it unless it passed."""
    stamp = at.isoformat()

    def count(entry: Any) -> dict[str, Any]:
        entry = dict(entry or {})
        return {"batches": int(entry.get("batches", 0)) + 1, "rows": int(entry.get("rows", 0)) + report.rows,
                "bad_rows": int(entry.get("bad_rows", 0)) + report.bad_rows, "last": stamp}

    states.update(COUNTERS, report.view, report.outcome, count)
    if report.outcome == "passed":
        return
    states.update(LOG, report.view, f"{stamp}|{_suffix()}", lambda _: report.to_dict())
    keys = sorted(r.key for r in states.records(LOG) if r.name == report.view)
    for old in keys[:-KEEP]:
        states.delete(LOG, [report.view], old)


def counters(states: StateStore) -> dict[str, dict[str, dict[str, Any]]]:
    """Per view, per outcome, its ``validation`` record."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in states.records(COUNTERS):
        out.setdefault(r.name, {})[r.key] = r.value
    return out


def log(states: StateStore, view: str) -> list[dict[str, Any]]:
    """The logged (non-passed) reports of ``view``, oldest first."""
    return [r.value for r in sorted((r for r in states.records(LOG) if r.name == view), key=lambda r: r.key)]
