"""Drift per feature between a reference and a current profile: :class:`FeatureDrift`, :class:`DriftReport`.

Numeric features are compared on the reference's fine bins (the current sample is counted on the same edges),
PSI and JS on the B = 10 coarse bins cut where the reference CDF crosses k/10 (three bins for a constant
feature), KS on the fine bins. Categorical features on the top-50 reference categories + ``__other__``: PSI, JS
and L∞ (``ks`` holds L∞ for them), and ``unseen_ratio``. Status from PSI: ``alert`` at ``>= alert``, ``warn`` at
``>= warn``, else ``ok``; ``insufficient_data`` (no verdict) when either side has fewer than ``min_rows`` values:
under no drift E[PSI] ≈ (B - 1)(1/n + 1/m), so a clean 100-row sample reaches PSI 0.2 by chance.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from featurestore.monitoring import drift as formulas
from featurestore.monitoring.histograms import categories, category_counts, coarse_groups, regroup
from featurestore.monitoring.profile import FeatureProfile, Profile

STATUSES = ("ok", "warn", "alert", "insufficient_data")
RANK = {"insufficient_data": -1, "ok": 0, "warn": 1, "alert": 2}
COARSE_BINS = 10


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's drift. ``ks``: binned KS D for numeric features, L∞ for categorical ones (``metric`` says
    which); ``psi``/``ks``/``js`` are None without a verdict (an empty side)."""

    name: str
    kind: str
    status: str
    rows_reference: int
    rows_current: int
    psi: float | None = None
    ks: float | None = None
    js: float | None = None
    metric: str = "ks"
    null_ratio_reference: float = 0.0
    null_ratio_current: float = 0.0
    unseen_ratio: float | None = None
    mean_reference: float | None = None
    mean_current: float | None = None
    bins: tuple[str, ...] = field(default=(), repr=False)
    """Labels of the compared bins (fine bins of numeric features: their left edges; categories)."""
    reference_counts: tuple[int, ...] = field(default=(), repr=False)
    current_counts: tuple[int, ...] = field(default=(), repr=False)

    @property
    def null_ratio_change(self) -> float:
        """``|n_cur/C - n_ref/R|``: nulls never enter the distributions; this is how they are compared."""
        return abs(self.null_ratio_current - self.null_ratio_reference)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "status": self.status, "psi": self.psi, "ks": self.ks,
                "js": self.js, "metric": self.metric, "rows_reference": self.rows_reference,
                "rows_current": self.rows_current, "null_ratio_reference": self.null_ratio_reference,
                "null_ratio_current": self.null_ratio_current, "null_ratio_change": self.null_ratio_change,
                "unseen_ratio": self.unseen_ratio, "mean_reference": self.mean_reference,
                "mean_current": self.mean_current}


def _f(x: float | None, digits: int = 4) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


@dataclass(frozen=True)
class DriftReport:
    """Drift of each feature of a view or service between a reference and a current sample.

    ``status``: the worst feature verdict (``alert`` > ``warn`` > ``ok``), ``insufficient_data`` when no feature
    has one. :meth:`to_text`, :meth:`to_dict` (JSON-ready) and :meth:`to_html` (a self-contained page).

    >>> report = store.drift("driver_activity", reference=("2026-10-01", "2026-10-31"))  # doctest: +SKIP
    >>> report.status, report.features["driver_stats__conv_rate"].psi                    # doctest: +SKIP
    ('ok', 0.0042)
    """

    what: str
    reference: str
    current: str
    features: dict[str, FeatureDrift]
    warn: float = 0.1
    alert: float = 0.25
    min_rows: int = 1000
    checked_at: str = ""

    @property
    def status(self) -> str:
        ranks = [RANK[f.status] for f in self.features.values()]
        best = max(ranks, default=-1)
        return next(s for s, r in RANK.items() if r == best)

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "reference": self.reference, "current": self.current, "status": self.status,
                "thresholds": {"warn": self.warn, "alert": self.alert, "min_rows": self.min_rows},
                "checked_at": self.checked_at, "features": {k: f.to_dict() for k, f in self.features.items()}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)

    def to_text(self) -> str:
        lines = [f"drift of {self.what}: {self.status}",
                 f"  reference: {self.reference}", f"  current:   {self.current}",
                 f"  PSI warn {self.warn} / alert {self.alert}; no verdict below {self.min_rows:,} values per side"]
        head = ("feature", "status", "psi", "ks/linf", "js", "rows ref", "rows cur", "null Δ", "unseen")
        rows: list[tuple[str, ...]] = [head]
        for f in self.features.values():
            ks = _f(f.ks) + ("" if f.metric == "ks" or f.ks is None else " (linf)")
            rows.append((f.name, f.status, _f(f.psi), ks, _f(f.js), f"{f.rows_reference:,}", f"{f.rows_current:,}",
                         _f(f.null_ratio_change), _f(f.unseen_ratio)))
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        short = [f.name for f in self.features.values() if f.status == "insufficient_data"]
        if short:
            lines.append(f"insufficient data (fewer than {self.min_rows:,} values on a side, no verdict): "
                         + ", ".join(short))
        return "\n".join(lines)

    __str__ = to_text

    def to_html(self) -> str:
        from featurestore.monitoring.drift_html import render
        return render(self)


def _status(psi: float, values_ref: int, values_cur: int, warn: float, alert: float, min_rows: int) -> str:
    if min(values_ref, values_cur) < min_rows:
        return "insufficient_data"
    return "alert" if psi >= alert else "warn" if psi >= warn else "ok"


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def compare_feature(ref: FeatureProfile, cur: FeatureProfile, warn: float = 0.1, alert: float = 0.25,
                    min_rows: int = 1000) -> FeatureDrift:
    """The drift of one feature (``cur`` counted on ``ref``'s bins for numeric features)."""
    base: dict[str, Any] = dict(rows_reference=ref.rows, rows_current=cur.rows,
                                null_ratio_reference=_ratio(ref.missing, ref.rows),
                                null_ratio_current=_ratio(cur.missing, cur.rows))
    if ref.kind == "numeric" and ref.histogram is not None and cur.histogram is not None:
        r, c = np.array(ref.histogram.counts), np.array(cur.histogram.counts)
        edges = ref.histogram.bins.edges()
        labels = ("< " + f"{edges[0]:.6g}", *(f"{e:.6g}" for e in edges[:-1]), ">= " + f"{edges[-1]:.6g}") \
            if not ref.histogram.bins.constant else (f"< {edges[0]:.6g}", f"= {edges[0]:.6g}", f"> {edges[0]:.6g}")
        base.update(kind="numeric", bins=labels, reference_counts=tuple(int(x) for x in r),
                    current_counts=tuple(int(x) for x in c), mean_reference=ref.mean, mean_current=cur.mean)
        if r.sum() == 0 or c.sum() == 0:
            return FeatureDrift(ref.name, status="insufficient_data", **base)
        groups = coarse_groups(r, COARSE_BINS)
        rc, cc = regroup(r, groups), regroup(c, groups)
        psi = formulas.psi(rc, cc)
        return FeatureDrift(ref.name, status=_status(psi, int(r.sum()), int(c.sum()), warn, alert, min_rows),
                            psi=psi, ks=formulas.ks(r, c), js=formulas.js(rc, cc), **base)
    if ref.kind == "categorical":
        cats = categories(ref.values)
        r, c = category_counts(ref.values, cats), category_counts(cur.values, cats)
        seen = set(ref.values)
        unseen = sum(n for v, n in cur.values.items() if v not in seen)
        base.update(kind="categorical", bins=tuple(cats), reference_counts=tuple(int(x) for x in r),
                    current_counts=tuple(int(x) for x in c), unseen_ratio=_ratio(unseen, cur.count))
        if r.sum() == 0 or c.sum() == 0:
            return FeatureDrift(ref.name, status="insufficient_data", metric="linf", **base)
        psi = formulas.psi(r, c)
        return FeatureDrift(ref.name, status=_status(psi, int(r.sum()), int(c.sum()), warn, alert, min_rows),
                            psi=psi, ks=formulas.linf(r, c), js=formulas.js(r, c), metric="linf", **base)
    base.update(kind=ref.kind)
    return FeatureDrift(ref.name, status="insufficient_data", **base)


def compare(reference: Profile, current: Profile, reference_label: str, current_label: str, *, warn: float = 0.1,
            alert: float = 0.25, min_rows: int = 1000, checked_at: str = "") -> DriftReport:
    """The :class:`DriftReport` of every numeric and categorical feature of ``reference`` (also in ``current``);
    other types (bytes, timestamps, arrays) are not compared."""
    features = {name: compare_feature(ref, current.features[name], warn, alert, min_rows)
                for name, ref in reference.features.items()
                if name in current.features and ref.kind != "other"}
    return DriftReport(reference.what, reference_label, current_label, features, warn, alert, min_rows, checked_at)
