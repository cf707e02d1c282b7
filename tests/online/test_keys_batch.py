"""``keys_builder`` (a batch of keys at once) against ``key_builder`` applied key by key, on random keys."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from featurestore.online.keys import key_builder, keys_builder
from featurestore.online.protocol import ViewSpec
from featurestore.types import Bool, Bytes, Float64, Int32, Int64, String, Timestamp, ValueType

GOOD: dict[str, Any] = {
    "Int64": lambda r: r.randint(-2**63, 2**63 - 1), "Int32": lambda r: r.randint(-2**31, 2**31 - 1),
    "String": lambda r: r.choice(["", "a,b", "100%", "é", "x=y", "plain"]), "Bool": lambda r: r.random() < 0.5,
    "Bytes": lambda r: r.randbytes(r.randint(0, 4)), "Float64": lambda r: r.uniform(-1e9, 1e9),
    "Timestamp": lambda r: datetime.fromtimestamp(r.randint(0, 2 * 10**9), UTC),
}
BAD = [None, 1.5, "7", b"x", True, object(), [1]]
TYPES: list[ValueType] = [Int64, Int32, String, Bool, Bytes, Float64, Timestamp]


def outcome(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:  # the error itself is compared
        return (type(exc), str(exc))


@pytest.mark.parametrize("seed", range(30))
def test_batch_equals_key_by_key(seed: int) -> None:
    rng = random.Random(seed)
    types = tuple(rng.sample(TYPES, rng.choice([1, 1, 2])))
    view = ViewSpec("v", tuple(f"k{i}" for i in range(len(types))), types, ("f",), (Int64,), None)
    one, many = key_builder("fs:p:v:", view), keys_builder("fs:p:v:", view)
    keys: list[Any] = [tuple(GOOD[t.name](rng) for t in types) for _ in range(rng.randint(0, 20))]
    if keys and rng.random() < 0.5:  # a bad value, or a key of the wrong length
        i = rng.randrange(len(keys))
        keys[i] = rng.choice([(rng.choice(BAD),) * len(types), (), keys[i] + keys[i]])
    expected = outcome(lambda: [one(k) for k in keys])
    assert outcome(many, keys) == expected


@pytest.mark.parametrize("dtype", TYPES, ids=lambda t: t.name)
def test_every_bad_value_fails_like_key_by_key(dtype: ValueType) -> None:
    view = ViewSpec("v", ("k",), (dtype,), ("f",), (Int64,), None)
    one, many = key_builder("fs:p:v:", view), keys_builder("fs:p:v:", view)
    good = (GOOD[dtype.name](random.Random(1)),)
    for bad in [*BAD, 0, False]:
        keys = [good, (bad,)]
        assert outcome(many, keys) == outcome(lambda: [one(k) for k in keys]), bad  # noqa: B023 (called at once)
