"""Folding many entities at once (agg_batch.fold_rows, numpy) == folding them one by one (FoldPlan.fold) == the
oracle: states built by the real materialize query (DuckDB), some entities with records, some without a row, some
states outside their horizon or of another definition, floats with and without NaN, integers near the int64 edge."""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import pytest

from featurestore import Aggregation
from featurestore.errors import DataSourceError
from featurestore.online.agg_batch import fold_rows
from featurestore.online.agg_fold import PRESENT, FoldPlan
from featurestore.utc import MIN_US
from tests.aggregates.oracle import same
from tests.aggregates.state_helpers import (
    BASE,
    HOUR,
    MIN,
    expected,
    make_view,
    offline_store,
    push_records,
    random_events,
    random_row,
    states_at,
    write_events,
)

NUMERIC = [
    Aggregation(function="count", windows=["30m", "1h", "3h"]),
    Aggregation(function="count"),
    Aggregation(column="amount", function="sum", windows=["1h", "5h"]),
    Aggregation(column="qty", function="sum", windows=["2h"]),
    Aggregation(column="qty", function="sum", name="qty_total"),
    Aggregation(column="amount", function="mean", windows=["3h"]),
    Aggregation(column="qty", function="mean", windows=["90m"]),
    Aggregation(column="amount", function="stddev", windows=["4h"]),
    Aggregation(column="amount", function="stddev", name="amount_sd_life"),
    Aggregation(column="qty", function="stddev", windows=["3h"]),
    Aggregation(column="qty", function="min", windows=["1h"]),
    Aggregation(column="qty", function="max"),
    Aggregation(column="amount", function="max", windows=["2h"]),
    Aggregation(column="amount", function="min", windows=["5h"]),
    Aggregation(column="qty", function="count_distinct", windows=["3h"]),
    Aggregation(column="amount", function="count_distinct", windows=["1h"]),
    Aggregation(column="qty", function="last", windows=["1h"]),
    Aggregation(column="qty", function="first", windows=["2h"]),
    Aggregation(column="qty", function="last"),
    Aggregation(column="amount", function="first"),
    Aggregation(column="amount", function="last", windows=["5h"]),
    Aggregation(column="amount", function="sum", windows=["3h"], where="status = 'declined'", name="declined_3h"),
    Aggregation(column="qty", function="max", windows=["3h"], where="qty >= 3", name="big_max_3h"),
    Aggregation(function="count", windows=["1h"], where="qty >= 3", name="big_1h"),
]


def _counting(plan: FoldPlan) -> list[int]:
    calls = [0]
    fold = plan.fold

    def counted(*args: Any) -> Any:
        calls[0] += 1
        return fold(*args)

    plan.fold = counted  # type: ignore[method-assign]
    return calls


@pytest.mark.parametrize("aggregations", [NUMERIC, None], ids=["numeric", "with-strings"])
def test_batch_folds_like_one_by_one(tmp_path: Path, aggregations: list[Aggregation] | None) -> None:
    rng = random.Random("batch")
    batched = compared = 0
    for round_ in range(5):
        snapshot = BASE + rng.randint(0, 50) * MIN + rng.choice([0, 1, 7])
        events = random_events(rng, rng.randint(150, 500), snapshot, keys=20)
        if round_ % 2 == 0:  # no NaN: the vectorized float path for every entity
            for e in events:
                if e["amount"] is not None and math.isnan(e["amount"]):
                    e["amount"] = round(rng.uniform(-1e6, 1e6), 3)
        path = tmp_path / f"events{round_}.parquet"
        write_events(path, events)
        view = make_view(str(path), horizon=rng.choice(["2h", "45m", "1d"]), aggregations=aggregations)
        plan = FoldPlan(view)
        other = FoldPlan(make_view(str(path), horizon="3h", aggregations=aggregations))  # another fingerprint
        states = states_at(offline_store(tmp_path), view, snapshot)
        batch = [e for e in events if e["created"] < snapshot]
        pushes = [(snapshot + 5 + j, [random_row(rng, rng.randint(1, 20), snapshot + rng.randint(-HOUR, HOUR), 0)])
                  for j in range(4)]
        records = push_records(view, pushes)
        pushed = [e for _, rows in pushes for e in rows]
        keys = [*sorted(set(states) | set(records)), (999,)]
        for _ in range(6):
            now = snapshot + rng.choice([0, view.serving_horizon_us, rng.randint(0, view.serving_horizon_us)])
            rows: list[Any] = []
            for key in keys:
                state, recs = states.get(key), tuple(records.get(key, ()))
                rows.append(None if state is None and not recs else (MIN_US if state is None else snapshot,
                                                                     (state, recs)))
            for fold_plan in (plan, other):
                want = [fold_plan.fold(r[1][0], r[1][1], now) if r is not None else None for r in rows]
                calls = _counting(fold_plan)
                status, ts, vals = fold_rows(fold_plan, rows, now)
                del fold_plan.fold
                batched += len([r for r in rows if r is not None]) - calls[0]
                for i, (key, w) in enumerate(zip(keys, want, strict=True)):
                    if w is None:
                        assert (status[i], ts[i], vals[i]) == ("NOT_FOUND", None, fold_plan.empty)
                        continue
                    assert (status[i], ts[i]) == w[0::2], key
                    for name, got, exp in zip(view.feature_names, vals[i], w[1], strict=True):
                        assert same(got, exp), f"{key} {name} at {now - snapshot}: {got!r} != {exp!r}"
                    if fold_plan is plan and status[i] == PRESENT:
                        seen = [e for e in pushed if e["key"] == key and e["created"] < now]
                        for name, got, exp in zip(view.feature_names, vals[i],
                                                  expected(view, batch + seen, key, now), strict=True):
                            assert same(got, exp), f"oracle: {key} {name}: {got!r} != {exp!r}"
                    compared += 1
    assert compared > 500
    if aggregations is NUMERIC:
        assert batched > 200  # most entities took the vectorized path
    else:
        assert batched == 0  # string inputs: one by one


def test_batch_integer_sum_overflow_is_the_same_error(tmp_path: Path) -> None:
    """Integer sums near the int64 edge: exact, and a sum leaving int64 raises FoldPlan.fold's DataSourceError."""
    rng = random.Random("big")
    snapshot = BASE
    events = random_events(rng, 200, snapshot, keys=8)
    for e in events:
        e["qty"] = rng.choice([2**62, -(2**62), 2**61, 5])
    path = tmp_path / "e.parquet"
    write_events(path, events)
    view = make_view(str(path), aggregations=[Aggregation(column="qty", function="sum", windows=["3h"]),
                                              Aggregation(column="qty", function="mean", windows=["3h"])])
    plan = FoldPlan(view)
    states = states_at(offline_store(tmp_path), view, snapshot)
    rows: list[Any] = [(snapshot, (s, ())) for s in states.values()]
    try:
        want: Any = [plan.fold(s, (), snapshot) for s in states.values()]
    except DataSourceError as exc:
        want = exc
    if isinstance(want, DataSourceError):
        with pytest.raises(DataSourceError, match="outside Int64"):
            fold_rows(plan, rows, snapshot)
    else:
        status, ts, vals = fold_rows(plan, rows, snapshot)
        assert [(s, v, t) for s, v, t in zip(status, vals, ts, strict=True)] == want
