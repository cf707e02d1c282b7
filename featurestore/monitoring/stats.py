"""``FeatureStore.profile`` and ``FeatureStore.drift``: what to read (see :mod:`.samples`), then statistics
(:mod:`.profiler`) and distances (:mod:`.drift_report`); ``record=True`` writes ``drift`` state records.

A sample spec is ``(start, end)`` (the source rows with event time in range; either may be None),
``"served"`` or :class:`~featurestore.monitoring.samples.Served` (a service's logged values, log time in
range), or a training set: a pyarrow/pandas/polars table, a RetrievalJob or a Parquet path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from featurestore.errors import InputError
from featurestore.monitoring.drift_report import DriftReport, compare
from featurestore.monitoring.histograms import NumericBins
from featurestore.monitoring.profile import Profile
from featurestore.monitoring.samples import (
    Served,
    Target,
    iso,
    served_table,
    source_profile,
    table_of,
    table_profile,
    target,
    training_table,
)
from featurestore.offline.protocol import OfflineStore
from featurestore.registry.file import RegistryState
from featurestore.state import StateStore
from featurestore.utc import time_range

DRIFT = "drift"
"""State-store kind of drift records: name = service or view, key = feature."""


@dataclass(frozen=True)
class Context:
    """What the monitoring functions need of a FeatureStore."""

    offline: OfflineStore
    state: RegistryState
    repo_path: Path
    data_dir: Path


def _range_label(start: datetime | None, end: datetime | None) -> str:
    return f"[{iso(start) or '-inf'}, {iso(end) or '+inf'}]"


def sample_profile(ctx: Context, tgt: Target, spec: Any, bins: dict[str, NumericBins] | None = None,
                   what: str = "sample") -> tuple[Profile, str]:
    """The profile of one sample spec (see the module docstring) and its label for reports."""
    if isinstance(spec, str) and spec == "served":
        spec = Served()
    if isinstance(spec, Served):
        table = served_table(ctx.repo_path, ctx.data_dir, ctx.state, tgt, spec)
        start, end = time_range(spec.start, spec.end, what)
        label = f"served values of {tgt.name} {_range_label(start, end)} ({table.num_rows:,} rows)"
        return table_profile(table, tgt.name, bins, iso(start), iso(end), bins is None), label
    if isinstance(spec, (tuple, list)):
        if len(spec) != 2:
            raise InputError(f"{what} as a time range is (start, end), got {len(spec)} values", field=what)
        start, end = time_range(spec[0], spec[1], what)
        profile = source_profile(ctx.offline, ctx.state, tgt, start, end, bins, bins is None)
        return profile, f"source rows of {tgt.name} {_range_label(start, end)} ({profile.rows:,} rows)"
    table = training_table(spec, tgt)
    return table_profile(table, tgt.name, bins, quantiles=bins is None), f"training set ({table.num_rows:,} rows)"


def profile(ctx: Context, what: Any, start: datetime | str | None = None, end: datetime | str | None = None,
            features: list[str] | None = None, served: bool = False) -> Profile:
    """See :meth:`featurestore.FeatureStore.profile`."""
    if not isinstance(what, str) or _is_path(ctx.state, what):  # a training set: its columns
        return table_profile(table_of(what, features), "training set")
    tgt = target(ctx.state, what, features)
    spec: Any = Served(start, end) if served else (start, end)
    return sample_profile(ctx, tgt, spec, None, "profile")[0]


def _is_path(state: RegistryState, what: str) -> bool:
    """A Parquet file or folder (a training set) rather than a registered view or service name."""
    registered = any(what in state.objects.get(k, {}) for k in ("feature_views", "aggregate_views",
                                                                "feature_services"))
    return not registered and (what.endswith(".parquet") or Path(what).exists())


def drift(ctx: Context, what: str, reference: Any, current: Any = "served", *, features: list[str] | None = None,
          min_rows: int = 1000, warn: float = 0.1, alert: float = 0.25, checked_at: str = "") -> DriftReport:
    """See :meth:`featurestore.FeatureStore.drift`."""
    if not 0 <= warn <= alert:
        raise InputError(f"drift thresholds need 0 <= warn <= alert, got warn={warn}, alert={alert}", field="warn")
    if min_rows < 1:
        raise InputError(f"min_rows must be at least 1, got {min_rows}", field="min_rows")
    tgt = target(ctx.state, what, features)
    ref, ref_label = sample_profile(ctx, tgt, reference, None, "reference")
    bins = {n: f.histogram.bins for n, f in ref.features.items() if f.histogram is not None}
    cur, cur_label = sample_profile(ctx, tgt, current, bins, "current")
    return compare(ref, cur, ref_label, cur_label, warn=warn, alert=alert, min_rows=min_rows, checked_at=checked_at)


def record(states: StateStore, report: DriftReport) -> None:
    """One ``drift`` record per feature (the format of SPEC_13)."""
    for name, f in report.features.items():
        value = {"psi": f.psi, "ks": f.ks, "js": f.js, "status": f.status, "rows_reference": f.rows_reference,
                 "rows_current": f.rows_current, "checked_at": report.checked_at}
        states.update(DRIFT, report.what, name, _const(value))


def _const(value: dict[str, Any]) -> Callable[[Any], dict[str, Any]]:
    return lambda _old: value


def records(states: StateStore) -> dict[str, dict[str, dict[str, Any]]]:
    """The recorded drift: target -> feature -> record."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in states.records(DRIFT):
        out.setdefault(r.name, {})[r.key] = r.value
    return out


__all__ = ["DRIFT", "Context", "drift", "profile", "record", "records"]
