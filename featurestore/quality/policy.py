"""The ``on_invalid`` policies applied to evaluated batches, and :class:`Gate`: what the write paths call.

- ``reject``: any failure → nothing of the batch is written; :class:`~featurestore.ExpectationError`.
- ``quarantine``: row-level failures → the bad rows go to quarantine Parquet, the good rows are written; a
  failing batch check (``null_ratio``, ``row_count``) rejects the batch (a batch cannot be set aside row by row).
- ``warn``: everything is written; ``warnings.warn``.

Every outcome, ``passed`` included, is recorded in the state store (:mod:`featurestore.quality.outcomes`).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from featurestore.definitions.feature_view import FeatureView
from featurestore.errors import ExpectationError
from featurestore.quality import evaluate, outcomes, quarantine
from featurestore.quality.report import Evaluation, ExpectationResult, ValidationReport
from featurestore.state import StateStore
from featurestore.utc import epoch_us


class ExpectationWarning(UserWarning):
    """A batch failed expectations of a view with ``on_invalid="warn"``: it was written anyway."""


def decide(policy: str, results: Sequence[ExpectationResult]) -> str:
    """The outcome of a batch with these ``results`` under ``policy``.

    >>> from featurestore import expect
    >>> bad = ExpectationResult(expect.row_count(min=5), observed=2, ok=False)
    >>> decide("quarantine", [bad]), decide("warn", [bad]), decide("reject", [])
    ('rejected', 'warned', 'passed')
    """
    failed = [r for r in results if not r.ok]
    if not failed:
        return "passed"
    if policy == "warn":
        return "warned"
    if policy == "quarantine" and all(r.expectation.row_level for r in failed):
        return "quarantined"
    return "rejected"


def report_of(view: FeatureView, ev: Evaluation, path: str, at: datetime, start: datetime | None = None,
              end: datetime | None = None) -> ValidationReport:
    """The :class:`ValidationReport` of ``ev`` under the view's policy."""
    return ValidationReport(view.name, ev.rows, view.on_invalid, decide(view.on_invalid, ev.results), ev.results,
                            ev.bad_rows, path, start, end, at)


def error_of(report: ValidationReport) -> ExpectationError:
    """The :class:`~featurestore.ExpectationError` of a rejected report, naming every failed check."""
    failed = report.failed
    why = ""
    if report.policy == "quarantine":
        why = " (a batch check failed under on_invalid='quarantine': a whole batch cannot be set aside row by row)"
    details = "; ".join(r.describe() for r in failed)
    return ExpectationError(
        f"feature view {report.view!r}: {len(failed)} of {len(report.results)} expectations failed in a batch of "
        f"{_rows(report.rows)} ({report.path}), nothing was written{why}: {details}",
        view=report.view, failures=report.failures(), rows=report.rows)


def _rows(n: int) -> str:
    return f"{n:,} row{'s' if n != 1 else ''}"


def warn(report: ValidationReport) -> None:
    """Warn that ``report``'s batch was written although it failed."""
    details = "; ".join(r.describe() for r in report.failed)
    n = len(report.failed)
    warnings.warn(f"feature view {report.view!r}: {n} expectation{'s' if n != 1 else ''} failed in a batch "
                  f"of {_rows(report.rows)} ({report.path}), written anyway (on_invalid='warn'): {details}",
                  ExpectationWarning, stacklevel=_caller_level())


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside the featurestore package (the caller's line)."""
    package = str(Path(__file__).resolve().parents[1])
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    return level


@dataclass(frozen=True)
class Judged:
    """A view's batch judged on a write path: its report and, when quarantined, the reason per row (null: good)."""

    view: FeatureView
    batch: pa.Table
    report: ValidationReport
    reasons: pa.Array | None = None

    def keep(self) -> pa.Array:
        """The mask of the rows to write (every row unless quarantined)."""
        if self.reasons is None:
            return pa.array([True] * self.batch.num_rows, pa.bool_())
        return pc.is_null(self.reasons)


@dataclass(frozen=True)
class Gate:
    """Expectations on the write paths of one store: its state store (outcomes), data folder (quarantine) and
    clock (``not_future``, stamps). ``record=False``: a dry run (nothing recorded, nothing quarantined)."""

    states: StateStore | None
    data_dir: Path
    clock: Callable[[], datetime]
    record: bool = True

    def judge(self, view: FeatureView, batch: pa.Table, path: str) -> Judged | None:
        """Evaluate ``view``'s expectations over ``batch`` (keys, features, ``__fs_ev``); None without any."""
        if not view.expectations:
            return None
        now = self.clock()
        ev = evaluate.evaluate_table(batch, view.expectations, epoch_us(now))
        report = report_of(view, ev, path, now)
        reasons = evaluate.reasons(batch, view.expectations, epoch_us(now)) \
            if report.outcome == "quarantined" else None
        return Judged(view, batch, report, reasons)

    def settle(self, judged: Sequence[Judged | None]) -> list[Judged]:
        """Apply the policies: record every outcome, then raise for the first rejected view (nothing written),
        write the quarantined rows, warn. Returns the quarantined ones (their ``keep()`` masks to apply)."""
        done = [j for j in judged if j is not None]
        for j in done:
            self.note(j.report)
        rejected = next((j for j in done if j.report.outcome == "rejected"), None)
        if rejected is not None:
            raise error_of(rejected.report)
        quarantined = [j for j in done if j.reasons is not None]
        for j in quarantined:
            assert j.reasons is not None
            bad = pc.invert(j.keep())
            self.set_aside(j.view, j.batch.filter(bad), j.reasons.filter(bad), j.report.path)
        for j in done:
            if j.report.outcome == "warned":
                warn(j.report)
        return quarantined

    def note(self, report: ValidationReport) -> None:
        """Record ``report`` (unless a dry run)."""
        if self.record and self.states is not None:
            outcomes.record(self.states, report, report.checked_at or self.clock())

    def set_aside(self, view: FeatureView, rows: pa.Table, reasons: pa.Array, path: str) -> Path | None:
        """Write bad rows (keys, features, ``__fs_ev``) with their reasons to ``view``'s quarantine."""
        if not self.record or rows.num_rows == 0:
            return None
        at = self.clock()
        return quarantine.write(self.data_dir, view.name, quarantine.rows_of(view, rows, reasons, path, at), at)
