"""Online/offline consistency: a service's logged lookups replayed through the training-set path.

Each logged row (entity keys, request fields, ``__log_timestamp`` = T) becomes an entity row at T of
``get_historical_features(..., as_of_created=True)`` for the service; every feature's served value is compared
with the training set's after the online codec's round trip (both in the feature's Arrow type, so a Float32
compares as the float32 the online path gives; NaN equals NaN, also inside arrays; a served ``NOT_FOUND`` or
``OUTSIDE_MAX_AGE`` is a null). Each mismatch is explained:

* ``ttl``: the view has a ttl and the row in question (the offline row when the served status is
  ``OUTSIDE_MAX_AGE``, else the served row) is within :data:`TTL_SLACK_US` of ``T - ttl``;
* ``lag``: the offline row the training set picked was not online yet at T: no materialize run of the view had
  finished by T, or its event time is after the largest ``end`` of the runs finished by T, or its created time is
  after the last of their ``finished_at`` (the run log, :mod:`featurestore.materialize.runlog`). An aggregate
  view's mismatch is ``lag`` only when no run had finished by T; an on-demand feature's when one of its source
  views' rows is;
* ``unexplained``: anything else (0 in a correct deployment; values pushed online only are such a skew).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from featurestore.definitions.aggregate_view import AggregateView, Aggregation
from featurestore.definitions.durations import parse_duration
from featurestore.definitions.feature_service import FeatureService
from featurestore.definitions.field import Field
from featurestore.definitions.sources import PushSource
from featurestore.errors import InputError
from featurestore.monitoring.log_files import LOG_TIME, read_log
from featurestore.monitoring.log_plan import TIMESTAMP, plan_of
from featurestore.offline.entity_input import load
from featurestore.offline.protocol import OfflineStore, RetrievalJob
from featurestore.online.response import OUTSIDE_MAX_AGE
from featurestore.registry.file import RegistryState
from featurestore.resolution import ResolvedRequest, ResolvedView, resolve
from featurestore.state import StateStore
from featurestore.types import Timestamp
from featurestore.utc import epoch_us, from_epoch_us

KIND = "consistency"
"""State-store kind of the recorded counts (name = service, key = feature)."""
REASONS = ("lag", "ttl", "unexplained")
TTL_SLACK_US = 1_000_000
"""How close to ``T - ttl`` a row's event time must be for a mismatch to be explained by the ttl (1 s)."""
EXAMPLES = 10
"""Mismatches kept as examples per feature (unexplained first)."""
ENTITY_TIME = "event_timestamp"
CREATED_MAX = "fs_consistency_created_max"


@dataclass(frozen=True)
class Inputs:
    """What a check reads: the registry snapshot, the service, its log folder, the offline engine, the training
    set of an entity table, the runs of a view (the run log, oldest first) and the clock."""

    state: RegistryState
    service: FeatureService
    folder: Path
    offline: OfflineStore
    training: Callable[[pa.Table], RetrievalJob]
    runs: Callable[[str], list[dict[str, Any]]]
    clock: Callable[[], datetime]


@dataclass(frozen=True)
class Mismatch:
    """One row of one feature where the served value and the training set's differ."""

    feature: str
    reason: str
    keys: dict[str, Any]
    time: datetime
    served: Any
    offline: Any
    status: str

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "reason": self.reason, "keys": {k: _jsonable(v) for k, v in self.keys.items()},
                "time": self.time.isoformat(), "served": _jsonable(self.served), "offline": _jsonable(self.offline),
                "status": self.status}


@dataclass(frozen=True)
class FeatureConsistency:
    """The counts of one feature (``<projection>__<feature>``): rows compared, matches, and mismatches by reason."""

    feature: str
    rows: int = 0
    matches: int = 0
    lag: int = 0
    ttl: int = 0
    unexplained: int = 0
    examples: tuple[Mismatch, ...] = ()

    @property
    def mismatches(self) -> int:
        return self.lag + self.ttl + self.unexplained

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "rows": self.rows, "matches": self.matches, "mismatches": self.mismatches,
                "lag": self.lag, "ttl": self.ttl, "unexplained": self.unexplained,
                "examples": [m.to_dict() for m in self.examples]}


@dataclass(frozen=True)
class ConsistencyReport:
    """The result of ``store.check_consistency``: per feature of the service, its counts.

    >>> r = ConsistencyReport("svc", None, None, 2, (FeatureConsistency("v__x", rows=2, matches=1, lag=1),))
    >>> r.ok, r.mismatches, r.unexplained
    (True, 1, 0)
    >>> print(r.to_text().splitlines()[2])
    v__x                                         2        1       1      1      0            0
    """

    service: str
    start: datetime | None
    end: datetime | None
    rows: int
    """Logged rows replayed."""
    features: tuple[FeatureConsistency, ...] = ()
    checked_at: datetime | None = field(default=None, compare=False)

    @property
    def mismatches(self) -> int:
        return sum(f.mismatches for f in self.features)

    @property
    def unexplained(self) -> int:
        return sum(f.unexplained for f in self.features)

    @property
    def ok(self) -> bool:
        """No unexplained mismatch (the CLI exits 2 otherwise)."""
        return self.unexplained == 0

    def feature(self, name: str) -> FeatureConsistency:
        """The counts of feature ``name`` (``<projection>__<feature>``)."""
        return next(f for f in self.features if f.feature == name)

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.service, "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None, "rows": self.rows,
                "mismatches": self.mismatches, "unexplained": self.unexplained, "ok": self.ok,
                "checked_at": self.checked_at.isoformat() if self.checked_at else None,
                "features": [f.to_dict() for f in self.features]}

    def to_text(self) -> str:
        lines = [f"consistency of service {self.service!r}: {self.rows} logged rows, {self.mismatches} mismatches, "
                 f"{self.unexplained} unexplained",
                 f"{'feature':<40} {'rows':>6} {'matches':>8} {'mismatch':>7} {'lag':>6} {'ttl':>6} "
                 f"{'unexplained':>12}"]
        lines += [f"{f.feature:<40} {f.rows:>6} {f.matches:>8} {f.mismatches:>7} {f.lag:>6} {f.ttl:>6} "
                  f"{f.unexplained:>12}" for f in self.features]
        for f in self.features:
            for m in f.examples:
                if m.reason == "unexplained":
                    lines.append(f"  unexplained {m.feature} keys={m.keys} at {m.time.isoformat()}: served "
                                 f"{m.served!r} ({m.status}), offline {m.offline!r}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def same(a: Any, b: Any) -> bool:
    """Equal values, NaN equal to NaN (also inside lists)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _column(table: pa.Table, name: str, dtype: pa.DataType) -> list[Any]:
    if name not in table.column_names:
        return [None] * table.num_rows
    return table.column(name).cast(dtype).to_pylist()  # type: ignore[no-any-return]


def _timed(rv: ResolvedView, i: int) -> ResolvedView | None:
    """The request of a view reading the time columns of the rows the training set uses: a feature view's
    (event, created) of the row picked; an aggregate view's newest created time among the events of its
    longest window (None without a created column)."""
    view = rv.view
    batch = view.source.batch_source if isinstance(view.source, PushSource) else view.source
    created = batch.created_timestamp_field
    if isinstance(view, AggregateView):
        if not created:
            return None
        windows = [w for a in view.aggregations for w in a.windows]
        lifetime = any(not a.windows for a in view.aggregations)
        longest = () if lifetime or not windows else (max(windows, key=lambda w: parse_duration(w, "window")),)
        extra: tuple[Field, ...] = () if created in {f.name for f in view.schema} else (
            Field(name=created, dtype=Timestamp),)
        agg = replace(view, schema=(*view.schema, *extra),
                      aggregations=(Aggregation(function="max", column=created, windows=longest, name=CREATED_MAX),))
        return replace(rv, view=agg, features=agg.feature_names, out_names=(f"__fs_t{i}_1",))
    names = [batch.timestamp_field] + ([created] if created else [])
    extra = tuple(Field(name=n, dtype=Timestamp) for n in names if n not in view.feature_names)
    timed = replace(view, schema=(*view.schema, *extra))
    return replace(rv, view=timed, features=tuple(names), out_names=tuple(f"__fs_t{i}_{j}" for j in range(len(names))))


def _times_query(inputs: Inputs, resolved: ResolvedRequest, entity: pa.Table) -> dict[int, tuple[list[Any], ...]]:
    """Per view of the request (by position): per entity row the event and created times (epoch µs) of the source
    row the training set picked (None: none); for an aggregate view (None, newest created time in its window)."""
    requests: list[ResolvedView] = []
    where: list[int] = []
    for i, rv in enumerate(resolved.views):
        timed = _timed(rv, i)
        if timed is not None:
            requests.append(timed)
            where.append(i)
    if not requests:
        return {}
    table = inputs.offline.historical(load(entity), requests, as_of_created=True).to_arrow()
    out: dict[int, tuple[list[Any], ...]] = {}
    none = [None] * table.num_rows
    for i, req in zip(where, requests, strict=True):
        cols = {o[-1]: [None if v is None else epoch_us(v) for v in table.column(o).to_pylist()] for o in req.out_names}
        out[i] = (cols.get("0", none), cols.get("1", none))
    return out


class _Runs:
    """A view's materialization state at a time T, from the run log: the largest end and last finish of the
    successful runs finished by T."""

    def __init__(self, runs: list[dict[str, Any]]) -> None:
        done = [(epoch_us(datetime.fromisoformat(r["finished_at"])), epoch_us(datetime.fromisoformat(r["end"])))
                for r in runs if r.get("ok") and r.get("end") and r.get("finished_at")]
        self.done = sorted(done)

    def at(self, t_us: int) -> tuple[int, int] | None:
        """``(largest end, last finished_at)`` of the runs finished before ``t_us``; None when none had."""
        ends = [(f, e) for f, e in self.done if f < t_us]
        if not ends:
            return None
        return max(e for _, e in ends), max(f for f, _ in ends)


def _not_online(runs: _Runs, t_us: int, ev: int | None, cr: int | None) -> bool:
    state = runs.at(t_us)
    if state is None:
        return True
    end, finished = state
    return ev is not None and (ev > end or (cr is not None and cr > finished))


def check(inputs: Inputs, start: datetime | None, end: datetime | None,
          states: StateStore | None = None) -> ConsistencyReport:
    """Replay the service's log in ``[start, end]`` and compare (module docstring); ``states``: record the counts."""
    service = inputs.service
    resolved = resolve(service, inputs.state, True)
    plan = plan_of(service, resolved, inputs.folder)
    if plan is None:
        raise InputError(f"feature service {service.name!r} has no logging: give it logging=LoggingConfig(...) so "
                         "its lookups are logged, then check them", name=service.name)
    log = read_log(inputs.folder, start, end)
    n = log.num_rows
    checked_at = inputs.clock()
    names = [col for col, _, _ in plan.features]
    if n == 0:
        report = ConsistencyReport(service.name, start, end, 0, tuple(FeatureConsistency(c) for c in names), checked_at)
        _record(report, states)
        return report
    entity: dict[str, pa.Array] = {}
    for k, t in (*plan.keys, *plan.request_fields):
        entity[k] = pa.array(_column(log, k, t), t)
    times_us = [epoch_us(t) for t in log.column(LOG_TIME).to_pylist()]
    entity[ENTITY_TIME] = pa.array(times_us, pa.int64()).cast(TIMESTAMP)
    entity_table = pa.table(entity)
    training = inputs.training(entity_table).to_arrow()
    keys = {k: _column(log, k, t) for k, t in plan.keys}
    owner: dict[str, tuple[str, int]] = {}  # feature column -> (kind, position in resolved.views / on_demand)
    for i, rv in enumerate(resolved.views):
        for o in rv.out_names:
            owner[o] = ("aggregate" if isinstance(rv.view, AggregateView) else "view", i)
    for j, od in enumerate(resolved.on_demand):
        for o in od.out_names:
            owner[o] = ("on_demand", j)
    lazy: dict[str, Any] = {}

    def times() -> dict[int, tuple[list[Any], ...]]:
        if "times" not in lazy:
            lazy["times"] = _times_query(inputs, resolved, entity_table)
        return lazy["times"]  # type: ignore[no-any-return]

    runs: dict[int, _Runs] = {}

    def runs_of(i: int) -> _Runs:
        if i not in runs:
            runs[i] = _Runs(inputs.runs(resolved.views[i].view.name))
        return runs[i]

    def view_lag(i: int, row: int) -> bool:
        if isinstance(resolved.views[i].view, AggregateView):
            return _agg_lag(runs_of(i), times_us[row], times().get(i), row)
        ev, cr = times()[i]
        return _not_online(runs_of(i), times_us[row], ev[row], cr[row])

    results = []
    for col, out, dtype in plan.features:
        served = _column(log, col, dtype)
        status = _column(log, f"{col}__status", pa.string())
        offline = _column(training, out, dtype)
        kind, pos = owner[out]
        proj = resolved.on_demand[pos].name if kind == "on_demand" else resolved.views[pos].name
        served_ev = _column(log, f"{proj}__event_timestamp", TIMESTAMP)
        counts = {"rows": 0, "matches": 0, "lag": 0, "ttl": 0, "unexplained": 0}
        examples: list[Mismatch] = []
        for row in range(n):
            if status[row] is None:
                continue  # logged before the service had this feature
            counts["rows"] += 1
            if same(served[row], offline[row]):
                counts["matches"] += 1
                continue
            if kind == "on_demand":
                srcs = resolved.on_demand[pos].sources
                reason = "lag" if any(view_lag(i, row) for i in srcs) else "unexplained"
            elif kind == "aggregate":
                reason = "lag" if view_lag(pos, row) else "unexplained"
            else:
                reason = _reason(resolved.views[pos].view, times()[pos], runs_of(pos), row, times_us[row],
                                 status[row], served_ev[row])
            counts[reason] += 1
            if len(examples) < EXAMPLES or (reason == "unexplained" and any(m.reason != reason for m in examples)):
                mismatch = Mismatch(col, reason, {k: v[row] for k, v in keys.items()}, from_epoch_us(times_us[row]),
                                    served[row], offline[row], status[row])
                examples = sorted([*examples, mismatch], key=lambda m: m.reason != "unexplained")[:EXAMPLES]
        results.append(FeatureConsistency(col, examples=tuple(examples), **counts))
    report = ConsistencyReport(service.name, start, end, n, tuple(results), checked_at)
    _record(report, states)
    return report


def _agg_lag(runs: _Runs, t_us: int, newest: tuple[list[Any], ...] | None, row: int) -> bool:
    """An aggregate view's state at T is the last snapshot S (largest ``end``) before T: the window lags when an
    event it counts was created at or after S (not pushed online)."""
    state = runs.at(t_us)
    if state is None:
        return True
    created = newest[1][row] if newest is not None else None
    return created is not None and created >= state[0]


def _reason(view: Any, picked: tuple[list[Any], ...], runs: _Runs, row: int, t_us: int, status: str,
            served_ev: datetime | None) -> str:
    ev, cr = picked[0][row], picked[1][row]  # the row the training set picked (None: none)
    if view.ttl:
        boundary = t_us - int(view.ttl.total_seconds() * 1_000_000)
        near = ev if status == OUTSIDE_MAX_AGE else (epoch_us(served_ev) if served_ev and ev is None else None)
        if near is not None and abs(near - boundary) <= TTL_SLACK_US:
            return "ttl"
    if ev is not None and _not_online(runs, t_us, ev, cr):
        return "lag"
    return "unexplained"


def _record(report: ConsistencyReport, states: StateStore | None) -> None:
    if states is None:
        return
    at = (report.checked_at or datetime.now()).isoformat()
    for f in report.features:
        value = {"rows": f.rows, "matches": f.matches, "mismatches": f.mismatches, "lag": f.lag, "ttl": f.ttl,
                 "unexplained": f.unexplained, "checked_at": at}
        states.update(KIND, report.service, f.feature, _const(value))


def _const(value: dict[str, Any]) -> Callable[[Any], dict[str, Any]]:
    return lambda _: value
