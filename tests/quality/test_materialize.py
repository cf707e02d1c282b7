"""Expectations on materialize (the view's source rows in [start, end], rows without a key skipped): reject writes
nothing and keeps the watermark; quarantine sets the bad rows aside and serves each entity its latest GOOD row;
warn serves the latest row; ``store.validate`` is the same check as a dry run (nothing written, nothing recorded);
``get_historical_features(validate=True)``."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from featurestore import DefinitionError, ExpectationError, ExpectationWarning, FeatureStore, InputError, expect
from featurestore.quality import outcomes, quarantine

from .conftest import NOW, make_view, online, rows, snapshot
from .test_reference import is_bad

EXPS = [expect.not_null("conv"), expect.between("conv", 0, 1), expect.in_set("city", ["ams", "ber"]),
        expect.not_future(tolerance="30m")]
START, END = NOW - timedelta(days=2), NOW + timedelta(hours=2)


def random_source(repo: Path, seed: int) -> list[dict[str, Any]]:
    """Rows of 6 drivers (some without a key) around NOW, written as the view's batch source; returned as dicts
    with ``__fs_ev``."""
    rng = random.Random(seed)
    n = rng.randint(5, 60)
    ids = [rng.choice([1, 2, 3, 4, 5, 6, None]) for _ in range(n)]
    conv = [rng.choice([0.1, 0.5, 0.9, 1.5, None, math.nan]) for _ in range(n)]
    city = [rng.choice(["ams", "ber", "xyz", None]) for _ in range(n)]
    ts = [NOW + timedelta(minutes=rng.randint(-4000, 100)) for _ in range(n)]
    table = rows(ids, conv, city, trips=[rng.randint(0, 9) for _ in range(n)], ts=ts)  # type: ignore[arg-type]
    pq.write_table(table, repo / "data" / "stats.parquet", row_group_size=rng.choice([4, 1 << 20]))
    return [dict(r, __fs_ev=int(r["ts"].timestamp() * 1_000_000)) for r in table.to_pylist()]


def in_range(source: list[dict[str, Any]]) -> list[dict[str, Any]]:
    lo, hi = int(START.timestamp() * 1e6), int(END.timestamp() * 1e6)
    return [r for r in source if r["driver_id"] is not None and lo <= r["__fs_ev"] <= hi]


def reasons(r: dict[str, Any]) -> str:
    return "; ".join(e.label for e in EXPS if is_bad(e, r, int(NOW.timestamp() * 1e6)))


def latest(source: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for i, r in enumerate(source):  # ties: the row read last wins
        best = out.get(r["driver_id"])
        if best is None or (r["__fs_ev"], i) >= (best["__fs_ev"], best["__i"]):
            out[r["driver_id"]] = dict(r, __i=i)
    return out


def served(store: FeatureStore) -> dict[int, tuple[Any, Any, Any]]:
    got = online(store, [1, 2, 3, 4, 5, 6])
    return {i: (c, s, t) for i, c, s, t in zip(got["driver_id"], got["conv"], got["city"], got["trips"],
                                                strict=True) if t is not None}  # trips is never null


def same(a: Any, b: Any) -> bool:
    return (a is None and b is None) or a == b or (isinstance(a, float) and isinstance(b, float)
                                                   and math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("seed", range(5))
def test_quarantine_serves_the_latest_good_row(make_store: Callable[..., FeatureStore], repo: Path,
                                               seed: int) -> None:
    source = in_range(random_source(repo, seed))
    store = make_store(make_view(EXPS, "quarantine"))
    report = store.validate("stats", START, END)
    store.materialize(START, END)
    want = latest([r for r in source if not reasons(r)])
    got = served(store)
    assert set(got) == set(want)
    for k, r in want.items():
        assert same(got[k][0], r["conv"]) and got[k][1:] == (r["city"], r["trips"])
    bad = [r for r in source if reasons(r)]
    q = quarantine.read(store.data_dir, "stats")
    assert report.bad_rows == len(bad) and report.outcome == ("quarantined" if bad else "passed")
    if not bad:
        assert q is None
        return
    assert q is not None
    key = lambda r: (r["driver_id"], r["ts"], reasons(r) if "__fs_reason" not in r else r["__fs_reason"])  # noqa: E731
    assert sorted(map(key, q.to_pylist())) == sorted(map(key, bad))
    assert set(q.column("__fs_path").to_pylist()) == {"materialize"}
    counted = outcomes.counters(store.state_store)["stats"]["quarantined"]
    assert (counted["batches"], counted["rows"], counted["bad_rows"]) == (1, len(source), len(bad))


@pytest.mark.parametrize("seed", range(3))
def test_warn_serves_the_latest_row(make_store: Callable[..., FeatureStore], repo: Path, seed: int) -> None:
    source = in_range(random_source(repo, 100 + seed))
    store = make_store(make_view(EXPS, "warn"))
    bad = [r for r in source if reasons(r)]
    if bad:
        with pytest.warns(ExpectationWarning):
            store.materialize(START, END)
    else:
        store.materialize(START, END)
    want = latest(source)
    got = served(store)
    assert set(got) == set(want)
    for k, r in want.items():
        assert same(got[k][0], r["conv"]) and got[k][1:] == (r["city"], r["trips"])
    assert quarantine.read(store.data_dir, "stats") is None


def test_reject_writes_nothing_and_keeps_the_watermark(make_store: Callable[..., FeatureStore],
                                                        repo: Path) -> None:
    pq.write_table(rows([1, 2], [0.5, 0.6], ts=[NOW - timedelta(days=1)] * 2), repo / "data" / "stats.parquet")
    store = make_store(make_view(EXPS))
    store.materialize(START, END)
    marks, before = store.watermarks(), snapshot(store)
    pq.write_table(rows([1, 2, 3], [0.7, 1.5, None], ["ams", "ams", "rom"]), repo / "data" / "stats.parquet")
    dry = store.validate("stats", START, END + timedelta(hours=1))
    with pytest.raises(ExpectationError, match="materializing feature view 'stats' failed") as info:
        store.materialize(START, END + timedelta(hours=1))
    assert snapshot(store) == before and store.watermarks() == marks
    assert info.value.failures == dry.failures() and dry.outcome == "rejected" and info.value.rows == 3
    labels = [f["expectation"] for f in info.value.failures or []]
    assert labels == ["not_null(conv)", "between(conv, 0, 1)", "in_set(city, ['ams', 'ber'])"]
    assert "not_null(conv): 1 bad row in column 'conv', e.g. None" in info.value.message


def test_validate_is_a_dry_run(make_store: Callable[..., FeatureStore], repo: Path) -> None:
    random_source(repo, 7)
    store = make_store(make_view(EXPS, "quarantine"))
    before = snapshot(store)
    report = store.validate("stats")  # all history up to the store's clock
    assert report.path == "validate" and report.end == NOW and report.start is None
    assert snapshot(store) == before
    assert outcomes.counters(store.state_store) == {} and quarantine.read(store.data_dir, "stats") is None
    assert report.to_dict()["results"][0]["expectation"] == "not_null(conv)"
    assert str(report).startswith("feature view 'stats': ")
    with pytest.raises(InputError, match="start 2026-02-01T00:00:00\\+00:00 is after end"):
        store.validate("stats", "2026-02-01", "2026-01-01")
    with pytest.raises(InputError, match="end 'soon' is not an ISO-8601"):
        store.validate("stats", None, "soon")


def test_training_sets_validate_on_request(make_store: Callable[..., FeatureStore], repo: Path) -> None:
    pq.write_table(rows([1, 2], [0.5, 1.5], ts=[NOW - timedelta(days=10), NOW - timedelta(hours=1)]),
                   repo / "data" / "stats.parquet")
    store = make_store(make_view([expect.between("conv", 0, 1)]))  # ttl 3 days
    entity = pd.DataFrame({"driver_id": [1], "event_timestamp": [NOW - timedelta(days=9)]})
    store.get_historical_features(entity, ["stats:conv"], validate=True).to_arrow()  # the bad row is later: fine
    late = pd.DataFrame({"driver_id": [1, 2], "event_timestamp": [NOW - timedelta(days=9), NOW]})
    with pytest.raises(ExpectationError, match=r"between\(conv, 0, 1\)"):
        store.get_historical_features(late, ["stats:conv"], validate=True)
    assert store.get_historical_features(late, ["stats:conv"]).to_arrow().num_rows == 2  # not asked: no check
    warned = make_store(make_view([expect.between("conv", 0, 1)], "warn"))
    with pytest.warns(ExpectationWarning):
        warned.get_historical_features(late, ["stats:conv"], validate=True)
    assert outcomes.counters(store.state_store) == {}


@pytest.mark.parametrize(("make", "words"), [
    (lambda: make_view([expect.not_null("nope")]), ["nope", "stats"]),
    (lambda: make_view([expect.between("city", 0, 1)]), ["city", "numeric"]),
    (lambda: make_view([expect.in_set("trips", ["a"])]), ["trips", "type"]),
    (lambda: make_view([expect.not_null("conv")], "drop"), ["drop", "on_invalid"]),
    (lambda: make_view([expect.not_null("conv"), expect.not_null("conv")]), ["twice"]),
])
def test_bad_definitions_name_the_column(make: Callable[[], Any], words: list[str]) -> None:
    with pytest.raises(DefinitionError) as info:
        make()
    for w in words:
        assert w in info.value.message

