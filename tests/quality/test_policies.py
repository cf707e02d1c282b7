"""Each expectation and each policy through SDK push, write_to_online_store and materialize, on SQLite and Redis:
a rejected batch leaves the online store and the push folder byte for byte as before; quarantine sets exactly the
bad rows aside (with reasons) and writes the good ones; warn writes everything; every outcome is recorded."""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pyarrow as pa
import pytest

from featurestore import Expectation, ExpectationError, ExpectationWarning, FeatureStore, expect
from featurestore.quality import outcomes, quarantine

from .conftest import NOW, make_view, online, pushed_rows, rows, snapshot
from .test_reference import is_bad

FAILING: list[tuple[Expectation, Callable[[], pa.Table], str | None, int, list[Any]]] = [
    # (expectation, a batch failing it, column, bad rows, examples)
    (expect.not_null("conv"), lambda: rows([3, 4, 5], [0.5, None, float("nan")]), "conv", 2, ["NaN", None]),
    (expect.between("conv", 0, 1), lambda: rows([3, 4, 5], [0.5, 1.5, -2.0]), "conv", 2, [-2.0, 1.5]),
    (expect.in_set("city", ["ams", "ber"]), lambda: rows([3, 4], [0.5, 0.5], ["ams", "xyz"]), "city", 1, ["xyz"]),
    (expect.between("trips", 0, None), lambda: rows([3, 4], [0.5, 0.5], trips=[-1, 3]), "trips", 1, [-1]),
    (expect.not_future(tolerance="1h"), lambda: rows([3, 4], [0.5, 0.5], ts=[NOW, NOW + timedelta(hours=2)]),
     None, 1, [(NOW + timedelta(hours=2)).isoformat()]),
    (expect.null_ratio("conv", max=0.4), lambda: rows([3, 4], [0.5, None]), "conv", 1, []),
    (expect.row_count(min=3), lambda: rows([3, 4], [0.5, 0.5]), None, 0, []),
]


def _failure(err: ExpectationError, label: str) -> dict[str, Any]:
    assert err.failures is not None
    return next(f for f in err.failures if f["expectation"] == label)


@pytest.mark.parametrize("path", ["push", "write_to_online_store"])
@pytest.mark.parametrize(("case", "policy"), [(i, "reject") for i in range(len(FAILING))] + [
    (i, "quarantine") for i, f in enumerate(FAILING) if not f[0].row_level])  # a batch check rejects under quarantine
def test_a_rejected_batch_writes_nothing(make_store: Callable[..., FeatureStore], case: int, policy: str,
                                         path: str) -> None:
    e, batch, column, bad, examples = FAILING[case]
    store = make_store(make_view([e, expect.between("trips", -5, 100)], policy))  # one passing check more
    store.push("stats_push", rows([1, 2, 9], [0.1, 0.2, 0.3]), to="online_and_offline")  # something stored already
    before = snapshot(store)
    with pytest.raises(ExpectationError) as info:
        if path == "push":
            store.push("stats_push", batch(), to="online_and_offline")
        else:
            store.write_to_online_store("stats", batch().rename_columns(
                ["driver_id", "conv", "city", "trips", "event_timestamp"]))
    assert snapshot(store) == before
    err = info.value
    assert err.view == "stats" and err.rows == batch().num_rows
    assert [f["expectation"] for f in err.failures or []] == [e.label]
    f = _failure(err, e.label)
    assert (f["column"], f["bad_rows"], f["kind"]) == (column, bad, e.kind)
    assert sorted(map(repr, f["examples"])) == sorted(map(repr, examples))
    assert e.label in err.message and (column is None or repr(column) in err.message)
    if not e.row_level:
        assert f["observed"] == pytest.approx(0.5 if e.kind == "null_ratio" else 2)
    counted = outcomes.counters(store.state_store)["stats"]
    assert counted["rejected"]["batches"] == 1 and counted["rejected"]["rows"] == batch().num_rows
    assert outcomes.log(store.state_store, "stats")[-1]["outcome"] == "rejected"


def test_reject_stops_offline_push_and_every_view(make_store: Callable[..., FeatureStore]) -> None:
    """A push feeding two views: one rejects, so neither view nor the offline append gets anything."""
    store = make_store(make_view([expect.between("conv", 0, 1)]), make_view([], name="plain"))
    store.push("stats_push", rows([1], [0.5]), to="online_and_offline")
    before = snapshot(store)
    with pytest.raises(ExpectationError):
        store.push("stats_push", rows([3, 4], [0.5, 7.0]), to="online_and_offline")
    assert snapshot(store) == before
    assert online(store, [3], "plain")["conv"] == [None]


@pytest.mark.parametrize("seed", range(4))
def test_quarantine_push_sets_bad_rows_aside_for_every_target(make_store: Callable[..., FeatureStore],
                                                              seed: int) -> None:
    rng = random.Random(seed)
    exps = [expect.not_null("conv"), expect.between("conv", 0, 1), expect.in_set("city", ["ams", "ber"]),
            expect.not_future()]
    store = make_store(make_view(exps, "quarantine"), make_view([], name="plain"))
    n = rng.randint(1, 30)
    ids = list(range(100, 100 + n))
    conv = [rng.choice([0.2, 0.9, 1.5, None, float("nan"), -0.1]) for _ in ids]
    city = [rng.choice(["ams", "ber", "xyz", None]) for _ in ids]
    ts = [NOW + timedelta(minutes=rng.choice([-30, -1, 5])) for _ in ids]
    batch = rows(ids, conv, city, ts=ts)
    now_us = int(NOW.timestamp() * 1_000_000)
    ref = [dict(r, __fs_ev=int(r["ts"].timestamp() * 1_000_000)) for r in batch.to_pylist()]
    bad = {r["driver_id"]: "; ".join(e.label for e in exps if is_bad(e, r, now_us)) for r in ref}
    bad = {k: v for k, v in bad.items() if v}
    result = store.push("stats_push", batch, to="online_and_offline")
    good = [i for i in ids if i not in bad]
    assert result.rows == len(good)
    for view in ("stats", "plain"):  # the bad rows are dropped for every view of the push
        served = online(store, ids, view)
        assert [i for i, c in zip(ids, served["city"], strict=True) if c is not None or i in good] == good
    assert sorted(r["driver_id"] for r in pushed_rows(store)) == good
    q = quarantine.read(store.data_dir, "stats")
    if not bad:
        assert q is None
        return
    assert q is not None
    got = {r["driver_id"]: r["__fs_reason"] for r in q.to_pylist()}
    assert got == bad
    assert set(q.column("__fs_path").to_pylist()) == {"push"}
    assert q.column_names == ["driver_id", "conv", "city", "trips", "ts", "__fs_reason", "__fs_path",
                              "__fs_quarantined_at"]
    counted = outcomes.counters(store.state_store)["stats"]["quarantined"]
    assert (counted["batches"], counted["rows"], counted["bad_rows"]) == (1, n, len(bad))


def test_quarantine_write_to_online_store(make_store: Callable[..., FeatureStore]) -> None:
    store = make_store(make_view([expect.between("conv", 0, 1)], "quarantine"))
    batch = rows([5, 6], [0.5, 3.0]).rename_columns(["driver_id", "conv", "city", "trips", "event_timestamp"])
    written = store.write_to_online_store("stats", batch)
    assert (written.rows, written.written) == (1, 1)
    assert online(store, [5, 6])["conv"] == [0.5, None]
    q = quarantine.read(store.data_dir, "stats")
    assert q is not None and q.column("driver_id").to_pylist() == [6]
    assert q.column("__fs_path").to_pylist() == ["write_to_online_store"]


def test_warn_writes_everything_and_records(make_store: Callable[..., FeatureStore]) -> None:
    store = make_store(make_view([expect.between("conv", 0, 1), expect.row_count(min=5)], "warn"))
    with pytest.warns(ExpectationWarning, match=r"between\(conv, 0, 1\): 1 bad row") as caught:
        store.push("stats_push", rows([7, 8], [0.5, 3.0]), to="online_and_offline")
    assert caught[0].filename == __file__  # the warning points at the caller's line
    assert online(store, [7, 8])["conv"] == [0.5, 3.0]
    assert sorted(r["driver_id"] for r in pushed_rows(store)) == [7, 8]
    counted = outcomes.counters(store.state_store)["stats"]
    assert counted == {"warned": {"batches": 1, "rows": 2, "bad_rows": 1, "last": NOW.isoformat()}}
    logged = outcomes.log(store.state_store, "stats")
    assert [(x["outcome"], x["path"]) for x in logged] == [("warned", "push")]


def test_every_outcome_is_counted_and_views_without_expectations_record_nothing(
        make_store: Callable[..., FeatureStore]) -> None:
    store = make_store(make_view([expect.between("conv", 0, 1)]), make_view([], name="plain"))
    store.push("stats_push", rows([1, 2, 3], [0.1, 0.2, 0.3]))
    store.push("stats_push", rows([1], [0.4]))
    with pytest.raises(ExpectationError):
        store.push("stats_push", rows([1, 2], [0.4, 9.0]))
    counted = outcomes.counters(store.state_store)
    assert set(counted) == {"stats"}
    assert counted["stats"]["passed"] == {"batches": 2, "rows": 4, "bad_rows": 0, "last": NOW.isoformat()}
    assert counted["stats"]["rejected"] == {"batches": 1, "rows": 2, "bad_rows": 1, "last": NOW.isoformat()}
    assert [x["outcome"] for x in outcomes.log(store.state_store, "stats")] == ["rejected"]


def test_log_keeps_the_newest(make_store: Callable[..., FeatureStore], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outcomes, "KEEP", 3)
    store = make_store(make_view([expect.between("conv", 0, 1)], "warn"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExpectationWarning)
        for i in range(5):
            store.push("stats_push", rows([1] * (i + 1), [5.0] * (i + 1)))
    assert [x["rows"] for x in outcomes.log(store.state_store, "stats")] == [3, 4, 5]
    assert outcomes.counters(store.state_store)["stats"]["warned"]["batches"] == 5
