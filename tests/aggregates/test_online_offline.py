"""Online equals offline: materialize at S, push random rows at random times in [S, S + H) (some late: their
event time long before their arrival), then read at random ``now`` in [S, S + H] (injected clock) and compare
every aggregate feature with the training-set value at ``T = now`` (``as_of_created=True``) over the same repo
and with the brute-force reference; on SQLite and Redis, from the SDK and over HTTP."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from featurestore import FeatureStore
from server import create_app
from tests.aggregates.oracle import Event, oracle, same
from tests.aggregates.push_repo import (
    DAY,
    HORIZON,
    MINUTE,
    TS,
    Clock,
    Repo,
    S,
    batch,
    make_repo,
    rows,
    us,
)

CARDS = list(range(1, 13))
NEW_CARDS = [101, 102]
"""Cards with pushed rows only (no state)."""
UNKNOWN = 999
"""A card with no row at all."""


@pytest.fixture(params=["sqlite", "redis", "redis_cluster"])
def online(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    if request.param == "sqlite":
        return {"type": "sqlite", "path": str(tmp_path / "online.db")}
    if request.param == "redis_cluster":
        return {"type": "redis", "cluster": True, "url": request.getfixturevalue("clean_cluster_url")}
    return {"type": "redis", "url": request.getfixturevalue("clean_redis_url")}


def features_of(store: FeatureStore) -> list[str]:
    state = store.state()
    return [f"{v}:{f}" for v in ("card_txn", "card_txn_5m") for f in state.aggregate_view(v).feature_names]


def events_of(table: pa.Table, rank: int) -> list[Event]:
    """The rows as the reference reads them (``ord``: rank * 2**62 + row; pushes differ by created time)."""
    out = []
    for i, r in enumerate(table.to_pylist()):
        amount = r["amount"]
        out.append({"key": (r["card_id"],), "ts": us(r["event_timestamp"]), "created": us(r["created"]),
                    "ord": rank * 2**62 + i, "amount": amount, "qty": r["qty"], "merchant_id": r["merchant_id"],
                    "status": r["status"]})
    return out


def declined(e: Event) -> bool | None:
    return None if e["status"] is None else e["status"] == "declined"


Spine = list[tuple[tuple[Any, ...], int]]


def expected(store: FeatureStore, events: list[Event], spine: Spine) -> dict[str, list[Any]]:
    """Per feature ``view:name``, the reference's values over ``spine``."""
    out = {}
    for name in ("card_txn", "card_txn_5m"):
        view = store.state().aggregate_view(name)
        for agg in view.aggregations:
            where = declined if agg.where is not None else None
            for feature, window in zip(agg.feature_names, agg.window_us, strict=True):
                out[f"{name}:{feature}"] = oracle(events, spine, agg.function, agg.column, window, where,
                                                  view.resolution_us, as_of_created=True)
    return out


def http_values(client: TestClient, features: list[str], cards: list[int]) -> tuple[dict[str, list[Any]], list[str]]:
    r = client.post("/get-online-features", json={"features": features, "entities": {"card_id": cards},
                                                  "full_feature_names": True})
    assert r.status_code == 200, r.text
    body = r.json()
    names = body["metadata"]["feature_names"][1:]
    results = body["results"][1:]
    values = {n: res["values"] for n, res in zip(names, results, strict=True)}
    return values, results[0]["statuses"]


def check(got: dict[str, list[Any]], want: dict[str, list[Any]], where: str) -> None:
    for name, values in want.items():
        key = name.replace(":", "__")
        mine = got[key]
        for i, (a, b) in enumerate(zip(mine, values, strict=True)):
            if isinstance(b, float) and isinstance(a, int):
                a = float(a)
            assert same(a, b), f"{where}: {name} row {i}: got {a!r}, expected {b!r}"


@pytest.mark.parametrize("seed", [1, 2])
def test_online_equals_offline_at_any_time_up_to_the_horizon(tmp_path: Path, online: dict[str, Any],
                                                             seed: int) -> None:
    rng = random.Random(seed)
    s_us = us(S)
    batch_rows = batch(rng, CARDS, 600, s_us, 3 * DAY)
    repo: Repo = make_repo(tmp_path / "repo", online, batch_rows)
    clock = Clock(S)
    store = repo.store(clock)
    features = features_of(store)
    store.materialize(S - timedelta(days=30), S)
    events = events_of(batch_rows, 0)

    # pushes at random times in [S, S + H): events near their arrival, late ones (hours to days before), a few
    # slightly ahead of it, on known and new cards; whole minutes so that ties are common
    arrivals = sorted(rng.sample(range(s_us, s_us + HORIZON, MINUTE // 4), 8))
    for at in arrivals:
        clock.set_us(at)
        n = rng.randint(1, 15)
        base = at - at % MINUTE
        times = [base - rng.choice([0, 1, 5, 30, 90, 600, 2000, 4000]) * MINUTE + rng.choice([0, 0, 0, 2]) * MINUTE
                 for _ in range(n)]
        pushed = rows(rng, CARDS[:4] + NEW_CARDS, times)
        result = store.push("txn_push", pushed, to=rng.choice(["online", "online_and_offline"]))
        assert {w.view: w.written for w in result.online if w.view.startswith("card_txn")} == {
            "card_txn": n, "card_txn_5m": n}
        stamped = pushed.append_column("created", pa.array([at] * n, pa.int64()).cast(TS))
        events += events_of(stamped, 1)

    # reads: the ends of the range, each arrival and the microsecond after it, and random times
    nows = sorted({s_us, s_us + HORIZON, *arrivals, *(a + 1 for a in arrivals),
                   *(rng.randrange(s_us, s_us + HORIZON + 1) for _ in range(6))})
    cards = CARDS + NEW_CARDS + [UNKNOWN]
    spine = [((c,), t) for t in nows for c in cards]
    reference = expected(store, events, spine)

    entity = pa.table({"card_id": pa.array([k[0] for k, _ in spine], pa.int64()),
                       "event_timestamp": pa.array([t for _, t in spine], pa.int64()).cast(TS)})
    training = store.get_historical_features(entity, features, full_feature_names=True, as_of_created=True)
    offline = training.to_arrow().to_pydict()
    check(offline, reference, "offline")

    sdk, over_http = {}, {}
    http_clock = Clock(S)
    with TestClient(create_app(store=repo.store(http_clock))) as client:
        for t in nows:
            clock.set_us(t)
            http_clock.set_us(t)
            answer = store.get_online_features(features, {"card_id": cards}, full_feature_names=True)
            for name, values in answer.to_dict().items():
                sdk.setdefault(name, []).extend(values)
            statuses = answer.statuses[features[0].replace(":", "__")]
            assert statuses[-1] == "NOT_FOUND" and set(statuses[:len(CARDS)]) == {"PRESENT"}, (t, statuses)
            values, http_statuses = http_values(client, features, cards)
            assert http_statuses == statuses
            for name, vals in values.items():
                over_http.setdefault(name, []).extend(vals)
    check(sdk, reference, "online (SDK)")
    check(over_http, reference, "online (HTTP)")
    for name in reference:  # the same as the training set, value for value
        key = name.replace(":", "__")
        assert all(same(float(a) if isinstance(a, int) and isinstance(b, float) else a, b)
                   for a, b in zip(sdk[key], offline[key], strict=True)), name

    # past the horizon (or before the snapshot) the values are not served
    for t in (s_us + HORIZON + 1, s_us - 1):
        clock.set_us(t)
        answer = store.get_online_features(features[:2], {"card_id": CARDS[:2]}, full_feature_names=True)
        key = features[0].replace(":", "__")
        assert answer.statuses[key] == ["OUTSIDE_MAX_AGE"] * 2
        assert answer.to_dict()[key] == [None, None]
