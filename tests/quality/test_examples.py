"""Example values in reports are the values as the view holds them: a Float32 1.7 is shown as 1.7, not as the
double 1.7000000476837158 it widens to; a Float64 value is shown as it is."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from featurestore import expect
from featurestore.quality import evaluate
from featurestore.utc import epoch_us, now


@pytest.mark.parametrize("seed", range(5))
def test_float32_examples_are_the_float32_values_in_shortest_form(seed: int) -> None:
    values = (np.random.default_rng(seed).random(50) * 3).astype(np.float32)
    table = pa.table({"x": pa.array(values, pa.float32()), "y": pa.array(values.astype(np.float64)),
                      "__fs_ev": pa.array([0] * 50, pa.int64())})
    ev = evaluate.evaluate_table(table, [expect.between("x", 0, 1), expect.between("y", 0, 1)], epoch_us(now()))
    x, y = ev.results
    bad = [v for v in values.tolist() if v > 1]  # the float32 values, widened to doubles
    assert x.bad_rows == y.bad_rows == len(bad) and x.examples
    for shown in x.examples:  # the shortest text that reads back as the float32 value
        assert float(np.float32(shown)) in bad and repr(shown) == str(np.float32(shown))
    assert set(y.examples) <= set(bad)  # a Float64 column: the double as stored


def test_the_pushed_value_is_the_one_shown() -> None:
    table = pa.table({"conv_rate": pa.array([1.7, 0.5], pa.float32()), "__fs_ev": pa.array([0, 0], pa.int64())})
    ev = evaluate.evaluate_table(table, [expect.between("conv_rate", 0, 1)], epoch_us(now()))
    assert ev.results[0].examples == (1.7,)
    assert "e.g. 1.7" in ev.results[0].describe() and "1.70000004" not in ev.results[0].describe()
