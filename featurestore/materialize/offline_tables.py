"""``materialize-offline``: append feature views' rows (after their batch transforms) to offline feature tables.

Like the online path: one run per view under the repo's exclusive materialization lock, a watermark per view
(kept under its own target, so the online watermarks are untouched), every run in the run log. Incremental runs
start at the watermark (a first run takes every row up to ``end``); a range materialized again is appended as
newer versions (the table is append-only; see ``featurestore/offline/duckdb/feature_tables.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from featurestore.definitions.aggregate_view import AggregateView
from featurestore.definitions.feature_view import FeatureView
from featurestore.errors import InputError
from featurestore.materialize.run import ViewMaterialization, _recorded, watermark
from featurestore.offline.protocol import OfflineStore
from featurestore.registry.file import RegistryState
from featurestore.state import StateStore
from featurestore.state.identity import repo_relative
from featurestore.utc import to_utc

Clock = Callable[[], datetime]


def target_of(folder: Path, repo_path: Path) -> str:
    """The key of the feature tables' watermarks: ``offline-tables:`` and their folder (relative to the repo)."""
    return "offline-tables:" + repo_relative(str(folder), repo_path)


def views_of(state: RegistryState, names: list[str] | None) -> list[FeatureView]:
    """The feature views to materialize offline (every one when ``names`` is None); aggregate views are refused."""
    if names is None:
        return state.feature_views()
    out = []
    for name in names:
        if name in state.objects.get("aggregate_views", {}):
            raise InputError(f"aggregate view {name!r} has no offline feature table: aggregate views are computed "
                             "from their events at training time; materialize-offline takes feature views",
                             view=name)
        out.append(state.feature_view(name))
    return out


def run(offline: OfflineStore, states: StateStore, target: str, views: list[FeatureView], start: datetime | None,
        end: datetime, incremental: bool, clock: Clock) -> list[ViewMaterialization]:
    """Append each view's rows with event time in ``[start, end]`` (incremental: from its watermark) to its feature
    table, holding the exclusive lock; a failure names the view and leaves its watermark where it was."""
    end = to_utc(end, "end_date")
    begin_all = to_utc(start, "start_date") if start is not None else None
    if begin_all is not None and begin_all > end:
        raise InputError(f"start_date {begin_all} is after end_date {end}")
    what = "materialize-offline-incremental" if incremental else "materialize-offline"
    results = []
    with states.exclusive(f"{what} {[v.name for v in views]}"):
        for view in views:
            if isinstance(view, AggregateView):  # pragma: no cover (views_of refuses them)
                continue
            begin = watermark(states, view.name, target) if incremental else begin_all
            if incremental and begin is not None and end <= begin:
                results.append(ViewMaterialization(view.name, begin, end, 0, 0.0, notice=(
                    f"feature view {view.name!r} is already in its feature table up to its watermark "
                    f"{begin.isoformat()}: nothing to do (to append a range again, give a start and an end)")))
                continue

            def work(view: FeatureView = view, begin: datetime | None = begin) -> ViewMaterialization:
                started = time.perf_counter()
                at = clock()
                # an incremental run starts just after the watermark: rows at it were appended by the last run
                first = begin + timedelta(microseconds=1) if incremental and begin is not None else begin
                rows = offline.write_feature_table(view, first, end, at)
                return ViewMaterialization(view.name, begin, end, rows, time.perf_counter() - started)

            results.append(_recorded(states, target, view, begin, end, clock, work))
    return results
