"""A push source feeding aggregate views and a feature view with expectations: the feature view's policy decides for
the whole push (reject: nothing appended offline nor online; quarantine: the bad rows are dropped for every target,
aggregate views included)."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pytest

from featurestore import ExpectationError
from featurestore.quality import quarantine
from tests.aggregates import push_repo

from .conftest import snapshot

CHECKED = '''schema=[Field(name="card_id", dtype=Int64), Field(name="amount", dtype=Float64)],
                        expectations=[expect.between("amount", 0, 250)], on_invalid="POLICY")'''


@pytest.fixture(params=["sqlite", "redis"])
def online(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, object]:
    if request.param == "sqlite":
        return push_repo.sqlite_online(tmp_path)
    return {"type": "redis", "url": request.getfixturevalue("clean_redis_url")}


@pytest.mark.parametrize("policy", ["reject", "quarantine"])
def test_aggregate_push_follows_the_feature_views_policy(tmp_path: Path, online: dict[str, object],
                                                         policy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    defs = push_repo.DEFS.replace("from featurestore import ", "from featurestore import expect, ").replace(
        'schema=[Field(name="card_id", dtype=Int64), Field(name="amount", dtype=Float64)])',
        CHECKED.replace("POLICY", policy))
    monkeypatch.setattr(push_repo, "DEFS", defs)
    repo = push_repo.make_repo(tmp_path / "repo", online)
    clock = push_repo.Clock(push_repo.S)
    store = repo.store(clock)
    rng = random.Random(3)
    times = [push_repo.us(push_repo.S) - rng.randint(1, 50) * push_repo.MINUTE for _ in range(30)]
    good = push_repo.rows(rng, [1, 2, 3], times[:20])
    good = good.set_column(good.schema.get_field_index("amount"), "amount", pa.array([10.0] * 20, pa.float64()))
    store.push("txn_push", good)
    clock.set_us(push_repo.us(push_repo.S) + push_repo.MINUTE)  # lookups see what was pushed before now
    before = snapshot(store)
    count_before = store.get_online_features(["card_txn:count_1d"], {"card_id": [1, 2, 3]}).to_dict()["count_1d"]
    mixed = push_repo.rows(rng, [1, 2, 3], times[20:])
    amounts = [5.0, 300.0, 7.0, None, 900.0, 1.0, 2.0, 3.0, 4.0, 6.0]
    mixed = mixed.set_column(mixed.schema.get_field_index("amount"), "amount", pa.array(amounts, pa.float64()))
    bad_cards = [c for c, a in zip(mixed.column("card_id").to_pylist(), amounts, strict=True)
                 if a is not None and a > 250]
    if policy == "reject":
        with pytest.raises(ExpectationError, match="card_last"):
            store.push("txn_push", mixed)
        assert snapshot(store) == before
        return
    result = store.push("txn_push", mixed)
    clock.set_us(push_repo.us(push_repo.S) + 2 * push_repo.MINUTE)
    assert result.rows == len(amounts) - len(bad_cards)
    after = store.get_online_features(["card_txn:count_1d"], {"card_id": [1, 2, 3]}).to_dict()["count_1d"]
    cards = mixed.column("card_id").to_pylist()
    for i, card in enumerate([1, 2, 3]):
        kept = sum(1 for c, a in zip(cards, amounts, strict=True) if c == card and not (a is not None and a > 250))
        assert after[i] == count_before[i] + kept and count_before[i] > 0
    q = quarantine.read(store.data_dir, "card_last")
    assert q is not None and sorted(q.column("amount").to_pylist()) == [300.0, 900.0]
    store.close()
