"""Online state + fold == the oracle: states built by the real materialize query (DuckDB) at S, records encoded
from pushed rows, folded at random ``now`` in [S, S + H], compared with the oracle at ``T = now`` (as_of_created)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from featurestore.errors import DataSourceError
from featurestore.online.agg_fold import NOT_FOUND, OUTSIDE_MAX_AGE, PRESENT, FoldPlan
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


def _check(plan: FoldPlan, view: Any, state: bytes | None, records: list[tuple[int, bytes]], events: list[Any],
           key: tuple[Any, ...], now: int, where: str) -> None:
    status, values, _ = plan.fold(state, records, now)
    want = expected(view, events, key, now)
    assert status == PRESENT, where
    for name, got, exp in zip(view.feature_names, values, want, strict=True):
        assert same(got, exp), f"{where} {name}: got {got!r}, expected {exp!r}"


@pytest.mark.parametrize("resolution", [None, "10m", "7m"])
def test_states_fold_like_the_oracle(tmp_path: Path, resolution: str | None) -> None:
    """(a) no records: the state alone at random now in [S, S + H]; (b) with records pushed after S."""
    rng = random.Random(f"fold-{resolution}")
    cases = 0
    for round_ in range(6):
        snapshot = BASE + rng.randint(0, 50) * MIN + rng.choice([0, 1, 7])
        events = random_events(rng, rng.randint(20, 250), snapshot)
        path = tmp_path / f"events{round_}.parquet"
        write_events(path, events)
        view = make_view(str(path), resolution, horizon=rng.choice(["2h", "45m", "1d"]))
        horizon = view.serving_horizon_us
        plan = FoldPlan(view)
        states = states_at(offline_store(tmp_path), view, snapshot)
        batch = [e for e in events if e["created"] < snapshot]
        assert set(states) == {e["key"] for e in batch}
        # pushes after S: some late (event before S), some in the future; created strictly increasing
        pushes = []
        created = snapshot + rng.choice([0, 1, 100])
        for _ in range(rng.randint(1, 12)):
            rows = [random_row(rng, rng.randint(1, 8), created + rng.randint(-5 * HOUR, HOUR) // MIN * MIN, 0)
                    for _ in range(rng.randint(1, 6))]
            pushes.append((created, rows))
            created += rng.randint(1, horizon // 4)
        records = push_records(view, pushes)
        pushed = [e for _, rows in pushes for e in rows]
        # records created before S that a write_aggregates did not trim yet: the state has them (ignored)
        stale = push_records(view, [(snapshot - 1, [dict(e) for e in rng.sample(batch, min(5, len(batch)))])])
        for key, recs in stale.items():
            records[key] = recs + records.get(key, [])
        keys = sorted(set(states) | set(records))
        for _ in range(25):
            now = rng.choice([snapshot, snapshot + horizon, snapshot + rng.randint(0, horizon),
                              rng.choice(events)["ts"], rng.choice(pushed)["created"]])
            if not snapshot <= now <= snapshot + horizon:
                continue
            for key in keys:
                state = states.get(key)
                if state is not None:  # (a) the state alone
                    _check(plan, view, state, [], batch, key, now, f"state only, key {key}, now {now - snapshot}")
                recs = records.get(key, [])
                seen = [e for e in pushed if e["key"] == key and e["created"] < now]
                if state is None and not seen:
                    assert plan.fold(None, recs, now)[0] == NOT_FOUND
                    continue
                _check(plan, view, state, recs, batch + pushed, key, now, f"with records, key {key}")
                cases += 1
    assert cases > 300


def test_outside_the_horizon_and_other_definitions(tmp_path: Path) -> None:
    """(d) before S or after S + H: OUTSIDE_MAX_AGE with nulls; so is a state of another view definition."""
    rng = random.Random(4)
    snapshot = BASE + 17 * MIN
    events = random_events(rng, 80, snapshot, keys=3)
    write_events(tmp_path / "e.parquet", events)
    view = make_view(str(tmp_path / "e.parquet"))
    states = states_at(offline_store(tmp_path), view, snapshot)
    plan = FoldPlan(view)
    nulls = (None,) * len(view.feature_names)
    for state in states.values():
        assert plan.fold(state, [], snapshot - 1) == (OUTSIDE_MAX_AGE, nulls, None)
        assert plan.fold(state, [], snapshot + view.serving_horizon_us + 1) == (OUTSIDE_MAX_AGE, nulls, None)
        assert plan.fold(state, [], snapshot + view.serving_horizon_us)[0] == PRESENT
        assert plan.fold(state, [], snapshot)[0] == PRESENT
    # another definition (one more aggregation; a changed horizon alone keeps the states readable)
    other = make_view(str(tmp_path / "e.parquet"), aggregations=[*view.aggregations[:-1]])
    for state in states.values():
        assert FoldPlan(other).fold(state, [], snapshot) == (OUTSIDE_MAX_AGE, nulls[:-1], None)
    assert FoldPlan(make_view(str(tmp_path / "e.parquet"), resolution="1m")).fold(
        next(iter(states.values())), [], snapshot)[0] == OUTSIDE_MAX_AGE
    assert FoldPlan(make_view(str(tmp_path / "e.parquet"), horizon="1d")).fold(
        next(iter(states.values())), [], snapshot)[0] == PRESENT


def test_not_found_values(tmp_path: Path) -> None:
    """(d) no state, no record seen: NOT_FOUND with the empty-window values (0 for counts and sums)."""
    view = make_view(str(tmp_path / "none.parquet"))
    plan = FoldPlan(view)
    status, values, ts = plan.fold(None, [], BASE)
    assert (status, ts) == (NOT_FOUND, None)
    by_name = dict(zip(view.feature_names, values, strict=True))
    assert by_name["count_30m"] == 0 and type(by_name["count_30m"]) is int
    assert by_name["amount_sum_1h"] == 0.0 and type(by_name["amount_sum_1h"]) is float
    assert by_name["qty_sum_2h"] == 0 and type(by_name["qty_sum_2h"]) is int
    assert by_name["merchant_count_distinct_3h"] == 0
    assert by_name["amount_mean_3h"] is None and by_name["merchant_last"] is None
    # a record created at or after now is not seen yet
    records = push_records(view, [(BASE, [random_row(random.Random(1), 1, BASE - MIN, 0)])])[(1,)]
    assert plan.fold(None, records, BASE)[0] == NOT_FOUND
    status, values, ts = plan.fold(None, records, BASE + 1)
    assert (status, ts) == (PRESENT, BASE - MIN)
    assert dict(zip(view.feature_names, values, strict=True))["count"] == 1


def test_event_time_is_the_newest_before_now(tmp_path: Path) -> None:
    snapshot = BASE
    events = [random_row(random.Random(i), 1, ts, min(ts, BASE - 1)) for i, ts in enumerate(
        [BASE - 3 * HOUR, BASE - HOUR, BASE + 10 * MIN])]  # a future event, created before S
    write_events(tmp_path / "e.parquet", events)
    view = make_view(str(tmp_path / "e.parquet"))
    state = states_at(offline_store(tmp_path), view, snapshot)[(1,)]
    plan = FoldPlan(view)
    assert plan.fold(state, [], BASE)[2] == BASE - HOUR
    assert plan.fold(state, [], BASE + 10 * MIN)[2] == BASE - HOUR
    assert plan.fold(state, [], BASE + 10 * MIN + 1)[2] == BASE + 10 * MIN
    late = push_records(view, [(BASE + MIN, [random_row(random.Random(9), 1, BASE - 30 * MIN, 0)])])[(1,)]
    assert plan.fold(state, late, BASE + MIN)[2] == BASE - HOUR
    assert plan.fold(state, late, BASE + MIN + 1)[2] == BASE - 30 * MIN


def test_an_integer_sum_leaving_int64_is_an_error(tmp_path: Path) -> None:
    big = 2**62
    events = [dict(random_row(random.Random(i), 1, BASE - i * MIN, BASE - i * MIN), qty=big) for i in range(1, 4)]
    write_events(tmp_path / "e.parquet", events)
    view = make_view(str(tmp_path / "e.parquet"))
    state = states_at(offline_store(tmp_path), view, BASE)[(1,)]  # 3 * 2**62 is stored exactly
    with pytest.raises(DataSourceError, match=r"aggregate view 'txn'.*feature 'qty_sum_2h'.*outside Int64"):
        FoldPlan(view).fold(state, [], BASE)
    # a negative record brings it back in range: no error
    back = [dict(random_row(random.Random(7), 1, BASE - 30 * MIN, 0), qty=-big) for _ in range(2)]
    records = push_records(view, [(BASE, back)])[(1,)]
    _, values, _ = FoldPlan(view).fold(state, records, BASE + 1)
    assert dict(zip(view.feature_names, values, strict=True))["qty_sum_2h"] == big


@pytest.mark.parametrize("resolution", [None, "10m"])
def test_pages_with_entities_without_tail(tmp_path: Path, resolution: str | None) -> None:
    """States are built page by page: an entity whose events are all old (no tail entry) may open a page."""
    rng = random.Random(11)
    snapshot = BASE
    events = []
    for key in range(1, 9):  # odd keys: only events long before S (no tail); even keys: recent ones too
        times = [snapshot - 20 * HOUR - k * MIN for k in range(3)]
        if key % 2 == 0:
            times += [snapshot - 10 * MIN, snapshot + 5 * MIN]
        events += [random_row(rng, key, ts, min(ts, snapshot - 1)) for ts in times]
    write_events(tmp_path / "e.parquet", events)
    view = make_view(str(tmp_path / "e.parquet"), resolution)
    states = states_at(offline_store(tmp_path), view, snapshot)  # pages of 2 entities
    plan = FoldPlan(view)
    for now in (snapshot, snapshot + 30 * MIN):
        for key, state in states.items():
            _check(plan, view, state, [], events, key, now, f"key {key}")
