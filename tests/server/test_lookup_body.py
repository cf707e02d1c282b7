"""The fast lookup-body parser accepts a body only when the pydantic model accepts it with the same values;
for every other body the model answers (so 422s stay FastAPI's). Brute force: random bodies vs the model."""

from __future__ import annotations

import json
import random
from typing import Any

import orjson
import pytest
from fastapi.exceptions import RequestValidationError

from server.models import GetOnlineFeaturesRequest, LookupBody, OnlineRequest, _plain, parse, parse_lookup

VALUES: list[Any] = [None, True, False, 0, 1, -7, 2**70, 1.5, "x", "true", [], ["a"], ["a", 1], {}, {"k": [1]},
                     [{"driver_id": 1}], [{"driver_id": 1}, 3], {"driver_id": [1, 2]}, {"driver_id": 1},
                     "rows", "columns", "other", ["stats:f"], "svc"]
KEYS = ["features", "feature_service", "full_feature_names", "entities", "orient", "event_timestamps", "extra"]


def fields(req: Any) -> tuple[Any, ...]:
    return (req.features, req.feature_service, req.full_feature_names, req.entities,
            getattr(req, "orient", "rows"), getattr(req, "event_timestamps", False))


@pytest.mark.parametrize("model", [GetOnlineFeaturesRequest, OnlineRequest])
def test_fast_parse_agrees_with_the_model(model: Any) -> None:
    rng = random.Random(11)
    accepted_fast = 0
    for _ in range(3000):
        if rng.random() < 0.5:  # a valid body, perturbed in 0 to 2 fields
            data: dict[str, Any] = {"features": ["v:f"], "entities": {"driver_id": [1, 2]}}
            data.update({k: rng.choice(VALUES) for k in rng.sample(KEYS, rng.randint(0, 2))})
        else:
            data = {k: rng.choice(VALUES) for k in rng.sample(KEYS, rng.randint(0, len(KEYS)))}
            data.pop("feature_service" if rng.random() < 0.5 else "features", None)
        text = json.dumps(data).encode()  # big ints too (orjson cannot write them)
        body = text if rng.random() < 0.97 else b"[" + text
        try:
            expected: Any = fields(parse(model, body))
        except RequestValidationError as err:
            expected = err
        try:
            fast = _plain(orjson.loads(body), model is OnlineRequest)
        except orjson.JSONDecodeError:
            fast = None
        if fast is not None:
            accepted_fast += 1
            assert not isinstance(expected, Exception), (data, expected)
            assert fields(fast) == expected
        try:
            got: Any = fields(parse_lookup(model, body))
        except RequestValidationError as err:
            assert isinstance(expected, RequestValidationError)
            assert err.errors() == expected.errors()
        else:
            assert got == expected
    assert accepted_fast > 100


def test_a_plain_body_takes_the_fast_road() -> None:
    body = orjson.dumps({"features": ["v:f"], "entities": {"driver_id": [1]}})
    assert isinstance(parse_lookup(GetOnlineFeaturesRequest, body), LookupBody)
    assert _plain(orjson.loads(body), False) is not None
    assert _plain({"features": ["v:f"], "entities": [{"driver_id": 1}]}, False) is None  # rows: native only
