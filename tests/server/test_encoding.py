"""The answers' bytes against a plain-Python reference, on randomized answers of every value type.

The encoders take shortcuts (event times formatted from one datetime64 array, non-finite floats
detected by one sum); the reference builds each ``datetime`` and checks each float. Both must
give the same bytes.
"""

from __future__ import annotations

import base64
import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa
import pytest

from featurestore import NOT_FOUND, OUTSIDE_MAX_AGE, PRESENT, OnlineResponse, ViewResult
from server.encoding import event_times_json, feast_json, native, to_json

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC
MIN_US = (datetime(1, 1, 1, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
MAX_US = (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)


def ref_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if v != v else ("Infinity" if v > 0 else "-Infinity")
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, list):
        return [None if x is None else ref_value(x) for x in v]
    return v


def ref_time(us: int | None) -> datetime:
    return EPOCH if us is None else EPOCH + timedelta(microseconds=us)


def ref_feast(answer: OnlineResponse, keys: dict[str, list[Any]]) -> bytes:
    n = len(next(iter(keys.values())))
    results = [{"values": keys[k], "statuses": [PRESENT] * n, "event_timestamps": [EPOCH] * n} for k in answer.keys]
    for view in answer.views:
        for name in view.out_names:
            results.append({"values": [ref_value(v) for v in answer.features[name]], "statuses": view.statuses,
                            "event_timestamps": [ref_time(t) for t in view.event_times_us]})
    names = [*answer.keys, *answer.features]
    return orjson.dumps({"metadata": {"feature_names": names}, "results": results}, option=OPTIONS)


def random_time(rng: random.Random) -> int:
    kind = rng.random()
    if kind < 0.2:
        return rng.randint(MIN_US, MAX_US)
    if kind < 0.4:
        return rng.randint(MIN_US // 1_000_000 + 1, MAX_US // 1_000_000) * 1_000_000  # whole seconds
    return rng.randint(-2 * 10**15, 4 * 10**15)


FLOATS = [0.0, -0.0, 1.5, 1e308, -1e308, 5e-324, float("nan"), float("inf"), float("-inf")]
GENERATORS: dict[str, tuple[pa.DataType, Any]] = {
    "f64": (pa.float64(), lambda r: r.choice(FLOATS) if r.random() < 0.3 else r.uniform(-1e6, 1e6)),
    "i64": (pa.int64(), lambda r: r.randint(-2**63, 2**63 - 1)),
    "s": (pa.string(), lambda r: r.choice(["", "é", "a\"b", "x" * r.randint(0, 5)])),
    "b": (pa.bool_(), lambda r: r.random() < 0.5),
    "raw": (pa.binary(), lambda r: r.randbytes(r.randint(0, 6))),
    "ts": (pa.timestamp("us", tz="UTC"), lambda r: ref_time(random_time(r))),
    "farr": (pa.list_(pa.float64()), lambda r: [r.choice([*FLOATS, None]) for _ in range(r.randint(0, 3))]),
}


def random_answer(rng: random.Random, n: int) -> tuple[OnlineResponse, dict[str, list[Any]]]:
    keys = {"id": [rng.randint(0, 10) for _ in range(n)]}
    features: dict[str, list[Any]] = {}
    types: dict[str, pa.DataType] = {}
    views = []
    for v in range(rng.randint(1, 3)):
        names = tuple(f"v{v}_{kind}" for kind in rng.sample(sorted(GENERATORS), rng.randint(1, 4)))
        statuses = [rng.choice([PRESENT, PRESENT, NOT_FOUND, OUTSIDE_MAX_AGE]) for _ in range(n)]
        times = [None if s == NOT_FOUND else random_time(rng) for s in statuses]
        for name in names:
            dtype, make = GENERATORS[name.split("_", 1)[1]]
            features[name] = [make(rng) if s == PRESENT and rng.random() < 0.9 else None for s in statuses]
            types[name] = dtype
        views.append(ViewResult(f"view{v}", names, statuses, times))
    statuses_by = {name: view.statuses for view in views for name in view.out_names}
    times_by = {name: view.event_times_us for view in views for name in view.out_names}
    return OnlineResponse(keys, features, statuses_by, times_by, types, tuple(views)), keys


@pytest.mark.parametrize("seed", range(40))
def test_feast_json_equals_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    answer, keys = random_answer(rng, rng.choice([0, 1, 2, 7, 100]) or 1)
    assert feast_json(answer, keys) == ref_feast(answer, keys)


@pytest.mark.parametrize("seed", range(20))
def test_native_json_equals_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    answer, keys = random_answer(rng, rng.choice([1, 3, 50]))
    for orient in ("rows", "columns"):
        got = to_json(native(answer, keys, orient, True, for_json=True))
        expected: dict[str, Any] = dict(orjson.loads(got))
        columns = {**keys, **{k: [ref_value(v) for v in vs] for k, vs in answer.features.items()}}
        names = list(columns)
        ref: dict[str, Any] = {"feature_names": names}
        if orient == "columns":
            ref["columns"] = columns
        else:
            ref["rows"] = [dict(zip(names, r, strict=True)) for r in zip(*columns.values(), strict=True)]
        ref["statuses"] = {v.name: v.statuses for v in answer.views}
        ref["event_timestamps"] = {v.name: [None if t is None else ref_time(t) for t in v.event_times_us]
                                   for v in answer.views}
        assert got == orjson.dumps(ref, option=OPTIONS), expected


def test_event_times_cover_the_datetime_range() -> None:
    rng = random.Random(7)
    times: list[int | None] = [MIN_US, MAX_US, -1, 0, 1, None, 999_999, -1_000_000]
    times += [MAX_US - h * 3_600_000_000 - d for h in range(30) for d in (0, 1, 999_999)]  # orjson's limit is there
    times += [random_time(rng) for _ in range(2000)]
    assert event_times_json(times) == orjson.dumps([ref_time(t) for t in times], option=OPTIONS)
    for t in times:
        assert event_times_json([t]) == orjson.dumps([ref_time(t)], option=OPTIONS), t
    assert event_times_json([]) == b"[]"
