"""Row functions must not read the wall clock or random numbers: lint_udf refuses them, naming the call."""

from __future__ import annotations

import datetime
import os
import random
import secrets
import time
import uuid
from datetime import date
from datetime import datetime as dt
from random import random as rand
from time import time as now
from typing import Any

import numpy as np
import pytest

from featurestore import DefinitionError
from featurestore.definitions.purity import lint_udf


def uses_datetime_module(row: dict[str, Any]) -> dict[str, Any]:
    return {"age": datetime.datetime.now() - row["ts"]}


def uses_alias(row: dict[str, Any]) -> dict[str, Any]:
    return {"age": dt.utcnow()}


def uses_date_today(row: dict[str, Any]) -> dict[str, Any]:
    return {"d": date.today()}


def uses_time(row: dict[str, Any]) -> dict[str, Any]:
    return {"t": time.time()}


def uses_imported_time(row: dict[str, Any]) -> dict[str, Any]:
    return {"t": now()}


def uses_perf_counter(row: dict[str, Any]) -> dict[str, Any]:
    return {"t": time.perf_counter_ns()}


def uses_random(row: dict[str, Any]) -> dict[str, Any]:
    return {"r": random.randint(0, 3)}


def uses_imported_random(row: dict[str, Any]) -> dict[str, Any]:
    return {"r": rand()}


def uses_numpy_random(row: dict[str, Any]) -> dict[str, Any]:
    return {"r": np.random.rand()}


def uses_uuid(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(uuid.uuid4())}


def uses_urandom(row: dict[str, Any]) -> dict[str, Any]:
    return {"b": os.urandom(4)}


def uses_secrets(row: dict[str, Any]) -> dict[str, Any]:
    return {"s": secrets.token_hex(4)}


def imports_inside(row: dict[str, Any]) -> dict[str, Any]:
    import time as clock

    return {"t": clock.monotonic()}


def references_without_calling(row: dict[str, Any]) -> dict[str, Any]:
    f = time.time_ns
    return {"t": f()}


@pytest.mark.parametrize("fn,call", [
    (uses_datetime_module, "datetime.datetime.now"), (uses_alias, "datetime.datetime.utcnow"),
    (uses_date_today, "datetime.date.today"), (uses_time, "time.time"), (uses_imported_time, "time.time"),
    (uses_perf_counter, "time.perf_counter_ns"), (uses_random, "random.randint"), (uses_imported_random, "random."),
    (uses_numpy_random, "numpy.random."), (uses_uuid, "uuid.uuid4"), (uses_urandom, "os.urandom"),
    (uses_secrets, "secrets.token_hex"), (imports_inside, "time.monotonic"),
    (references_without_calling, "time.time_ns"),
], ids=lambda x: getattr(x, "__name__", x))
def test_clock_and_randomness_are_refused_naming_view_and_call(fn: Any, call: str) -> None:
    with pytest.raises(DefinitionError, match=r"on-demand view 'v' calls .*wall clock or random") as err:
        lint_udf("v", fn)
    assert err.value.name == "v" and str(err.value.value).startswith(call)


def pure(row: dict[str, Any]) -> dict[str, Any]:
    random_value = row["random"]  # a name that merely looks like a module is not judged by its text
    when = row["ts"]
    return {"fare": 2.5 + random_value, "hour": when.hour, "age": (when - datetime.timedelta(days=1)).day,
            "m": max(1, 2), "t": time.strftime("%Y", time.gmtime(0)) if False else None}


def test_a_pure_function_passes() -> None:
    lint_udf("v", pure)
    lint_udf("v", lambda row: {"x": row["a"] * 2})


def test_a_lambda_inside_a_call_is_linted() -> None:
    fns = [lambda row: {"t": time.time()}, lambda row: {"x": row["a"]}]  # the first is refused
    with pytest.raises(DefinitionError, match=r"time\.time"):
        lint_udf("v", fns[0])


def test_a_function_without_source_is_refused() -> None:
    with pytest.raises(DefinitionError, match="source of its function cannot be read"):
        lint_udf("v", len)
