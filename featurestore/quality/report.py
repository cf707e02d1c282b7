"""What a validation found: one :class:`ExpectationResult` per expectation, gathered in a :class:`ValidationReport`.

>>> from featurestore import expect
>>> r = ExpectationResult(expect.between("conv_rate", 0, 1), bad_rows=2, examples=(1.5, -0.1))
>>> r.ok, r.to_dict()["expectation"]
(False, 'between(conv_rate, 0, 1)')
>>> report = ValidationReport("driver_stats", rows=10, policy="reject", outcome="rejected", results=(r,), bad_rows=2)
>>> report.ok, report.failed[0].expectation.label
(False, 'between(conv_rate, 0, 1)')
>>> print(report)  # doctest: +NORMALIZE_WHITESPACE
feature view 'driver_stats': rejected (on_invalid='reject'), 10 rows, 2 bad
  FAIL between(conv_rate, 0, 1): 2 bad rows in column 'conv_rate', e.g. 1.5, -0.1
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from featurestore.definitions.expect import Expectation

OUTCOMES = ("passed", "rejected", "quarantined", "warned")
"""A validated batch's outcome: nothing failed / nothing written / bad rows set aside / written anyway."""


def plain(value: Any) -> Any:
    """A value as JSON carries it: non-finite floats as text (``"NaN"``, ``"inf"``), times as ISO 8601.

    >>> plain(float("nan")), plain(float("-inf")), plain(3)
    ('NaN', '-inf', 3)
    """
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class ExpectationResult:
    """One expectation judged on one batch.

    ``bad_rows``: the rows failing a row-level check (``null_ratio``: the rows without a value; 0 for
    ``row_count``); ``examples``: up to 3 distinct bad
    values (event times as ISO text for ``not_future``); ``observed``: a batch check's measure (the null ratio,
    the row count), None for row-level checks.
    """

    expectation: Expectation
    bad_rows: int = 0
    examples: tuple[Any, ...] = ()
    observed: float | int | None = None
    ok: bool | None = None
    """Whether the batch passed this expectation (default: no bad rows)."""

    def __post_init__(self) -> None:
        if self.ok is None:
            object.__setattr__(self, "ok", self.bad_rows == 0)

    def to_dict(self) -> dict[str, Any]:
        """The fields of :class:`~featurestore.ExpectationError`'s ``failures`` entries, plus ``ok``."""
        e = self.expectation
        return {"expectation": e.label, "kind": e.kind, "column": e.column, "ok": self.ok,
                "bad_rows": self.bad_rows, "examples": plain(list(self.examples)), "observed": plain(self.observed)}

    def describe(self) -> str:
        """One line: ``between(conv_rate, 0, 1): 3 bad rows in column 'conv_rate', e.g. 1.5, 2.0``."""
        if self.observed is not None and not self.expectation.row_level:
            what = "null ratio" if self.expectation.kind == "null_ratio" else "rows"
            shown = f"{self.observed:.4g}" if isinstance(self.observed, float) else f"{self.observed:,}"
            of = f" in column {self.expectation.column!r} ({self.bad_rows:,} missing)" \
                if self.expectation.column else ""
            return f"{self.expectation.label}: {what} {shown}{of}"
        text = f"{self.expectation.label}: {self.bad_rows:,} bad row{'s' if self.bad_rows != 1 else ''}"
        if self.expectation.column is not None and self.bad_rows:
            text += f" in column {self.expectation.column!r}"
        if self.examples:
            text += ", e.g. " + ", ".join(str(plain(v)) for v in self.examples)
        return text


@dataclass(frozen=True)
class ValidationReport:
    """A view's expectations judged on one batch (a push, a write, a materialize range, a dry run).

    ``outcome``: ``passed`` (nothing failed), ``rejected`` (nothing written), ``quarantined`` (bad rows set
    aside, good rows written), ``warned`` (everything written). ``bad_rows``: the rows failing at least one
    row-level check. ``path``: ``materialize``, ``push``, ``write_to_online_store`` or ``validate``.
    """

    view: str
    rows: int
    policy: str
    outcome: str
    results: tuple[ExpectationResult, ...] = ()
    bad_rows: int = 0
    path: str = "validate"
    start: datetime | None = None
    end: datetime | None = None
    checked_at: datetime | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        """Whether every expectation passed (``outcome == "passed"``)."""
        return self.outcome == "passed"

    @property
    def failed(self) -> tuple[ExpectationResult, ...]:
        """The results of the expectations that failed."""
        return tuple(r for r in self.results if not r.ok)

    def failures(self) -> list[dict[str, Any]]:
        """The failed expectations as :class:`~featurestore.ExpectationError` carries them."""
        return [{k: v for k, v in r.to_dict().items() if k != "ok"} for r in self.failed]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values (what ``/monitoring/validate`` and ``--json`` answer)."""
        return {"view": self.view, "rows": self.rows, "policy": self.policy, "outcome": self.outcome,
                "ok": self.ok, "bad_rows": self.bad_rows, "path": self.path, "start": plain(self.start),
                "end": plain(self.end), "checked_at": plain(self.checked_at),
                "results": [r.to_dict() for r in self.results]}

    def __str__(self) -> str:
        head = (f"feature view {self.view!r}: {self.outcome} (on_invalid={self.policy!r}), {self.rows:,} rows, "
                f"{self.bad_rows:,} bad")
        lines = [head] + [f"  {'ok  ' if r.ok else 'FAIL'} {r.describe()}" for r in self.results]
        return "\n".join(lines)


@dataclass(frozen=True)
class Evaluation:
    """What evaluating a view's expectations over some rows gave: the ``rows``, the ``bad_rows`` (failing at
    least one row-level check) and one result per expectation, in the view's order."""

    rows: int
    bad_rows: int
    results: tuple[ExpectationResult, ...]
