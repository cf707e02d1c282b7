"""OnDemandRunner: offline (Arrow) and online (Python values) agree exactly; typing and user errors are named."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

from featurestore import DefinitionError, Field, InputError, TransformError
from featurestore.transform import OnDemandRunner
from featurestore.types import Array, Bool, Float32, Float64, Int32, Int64, String, Timestamp
from tests.transform.test_compile import POOLS, same

INPUTS = [Field(name="i32", dtype=Int32), Field(name="i64", dtype=Int64), Field(name="f32", dtype=Float32),
          Field(name="f64", dtype=Float64), Field(name="flag", dtype=Bool), Field(name="s", dtype=String),
          Field(name="ts", dtype=Timestamp)]


def random_inputs(rng: random.Random, n: int) -> dict[str, list[Any]]:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    cols = {f.name: [rng.choice(POOLS[{"Bool": "Boolean"}.get(f.dtype.name, f.dtype.name)])
                     for _ in range(n)] for f in INPUTS if f.name != "ts"}
    cols["ts"] = [None if rng.random() < 0.2 else base + timedelta(seconds=rng.randint(0, 10**6)) for _ in range(n)]
    return cols


def table_of(cols: dict[str, list[Any]]) -> pa.Table:
    return pa.table({f.name: pa.array(cols[f.name], type=f.dtype.to_arrow()) for f in INPUTS})


def assert_same_rows(offline: pa.Table, online: dict[str, list[Any]], offset: int = 0) -> None:
    for name, values in online.items():
        expected = offline.column(name).to_pylist()[offset:offset + len(values)]
        bad = [(i, e, g) for i, (e, g) in enumerate(zip(expected, values, strict=True)) if not same(e, g)]
        assert not bad, f"{name}: (row, offline, online) {bad[:3]}"


EXPRESSIONS = {
    "ratio": (pl.col("f64") / pl.col("i64") * 60, Float64),
    "long": (pl.col("f32") > 20, Bool),
    "wrapped": (pl.col("i32") * 3 + pl.col("i64"), Int64),
    "picked": (pl.when(pl.col("flag")).then(pl.col("f32")).otherwise(pl.col("f32") / 2), Float32),
    "filled": (pl.col("i64").fill_null(0) // 7, Int64),
    "name_len": (pl.col("s").str.len_chars(), Int64),  # not compiled: Polars runs it online
    "upper": (pl.col("s").str.to_uppercase() + "!", String),
    "day": (pl.col("ts").dt.truncate("1d"), Timestamp),
    "hour": (pl.col("ts").dt.hour(), Int32),
    "sqrt": (pl.col("f64").abs().sqrt(), Float64),
    "as_f32": (pl.col("i32"), Float32),
}


@pytest.mark.parametrize("seed", range(4))
def test_polars_expressions_agree_offline_and_online(seed: int) -> None:
    rng = random.Random(seed)
    chosen = rng.sample(sorted(EXPRESSIONS), 5)
    runner = OnDemandRunner("v", [Field(name=n, dtype=EXPRESSIONS[n][1]) for n in chosen],
                            expressions={n: EXPRESSIONS[n][0] for n in chosen}, inputs=INPUTS)
    cols = random_inputs(rng, 40)
    offline = runner.run_table(table_of(cols))
    assert offline.schema == pa.schema([(n, EXPRESSIONS[n][1].to_arrow()) for n in chosen])
    assert_same_rows(offline, runner.run_rows(cols, 40))
    for i in rng.sample(range(40), 8):  # one entity per request, as online lookups mostly are
        assert_same_rows(offline, runner.run_rows({k: v[i:i + 1] for k, v in cols.items()}, 1), offset=i)


def test_most_simple_expressions_are_compiled() -> None:
    names = ["ratio", "long", "wrapped", "picked", "filled", "name_len"]
    runner = OnDemandRunner("v", [Field(name=n, dtype=EXPRESSIONS[n][1]) for n in names],
                            expressions={n: EXPRESSIONS[n][0] for n in names}, inputs=INPUTS)
    assert runner.compiled == ("ratio", "long", "wrapped", "picked", "filled")


def fare(row: dict[str, Any]) -> dict[str, Any]:
    rate = row["f64"]
    return {"fare": None if rate is None else 2.5 + 1.2 * rate, "f32_back": row["f32"],
            "words": None if row["s"] is None else [row["s"], row["s"] * 2], "when": row["ts"],
            "n": None if row["i32"] is None else row["i32"] + 1}


FARE_OUT = [Field(name="fare", dtype=Float64), Field(name="f32_back", dtype=Float32),
            Field(name="words", dtype=Array(String)), Field(name="when", dtype=Timestamp),
            Field(name="n", dtype=Int64)]


@pytest.mark.parametrize("seed", range(3))
def test_python_row_function_agrees_offline_and_online_and_with_direct_calls(seed: int) -> None:
    rng = random.Random(seed)
    runner = OnDemandRunner("fare", FARE_OUT, udf=fare, inputs=INPUTS)
    cols = random_inputs(rng, 30)
    offline = runner.run_table(table_of(cols))
    assert_same_rows(offline, runner.run_rows(cols, 30))
    for i in range(30):
        assert_same_rows(offline, runner.run_rows({k: v[i:i + 1] for k, v in cols.items()}, 1), offset=i)
    # brute force: the function called on each row's to_pylist values
    for i, row in enumerate(table_of(cols).to_pylist()):
        direct = fare(row)
        for f in FARE_OUT:
            got = offline.column(f.name)[i].as_py()
            want = direct[f.name]
            if isinstance(want, float) and math.isnan(want):
                assert math.isnan(got)
            else:
                assert got == want, (f.name, i)


def test_online_inputs_are_given_their_declared_types() -> None:
    """An int for a Float64 request field (JSON ``12``) computes as 12.0 on both paths."""
    runner = OnDemandRunner("v", [Field(name="x", dtype=Float64)], expressions={"x": pl.col("f64") * 2},
                            inputs=[Field(name="f64", dtype=Float64)])
    out = runner.run_rows({"f64": [12]}, 1)
    assert out == {"x": [24.0]} and type(out["x"][0]) is float
    with pytest.raises(InputError, match="input 'f64'") as err:
        runner.run_rows({"f64": ["12"]}, 1)
    assert err.value.field == "f64" and err.value.view == "v"
    with pytest.raises(InputError, match="needs input 'f64'"):
        runner.run_rows({}, 1)
    with pytest.raises(InputError, match="needs input column 'f64'") as err2:
        runner.run_table(pa.table({"other": [1.0]}))
    assert err2.value.column == "f64"


def test_literal_only_expressions_keep_the_row_count() -> None:
    runner = OnDemandRunner("v", [Field(name="one", dtype=Int64)], expressions={"one": pl.lit(1)}, inputs=[])
    assert runner.run_table(pa.table({"x": [1, 2, 3]})).column("one").to_pylist() == [1, 1, 1]
    assert runner.run_rows({}, 3) == {"one": [1, 1, 1]}


# output typing --------------------------------------------------------------------------------------------

def test_an_expression_of_the_wrong_type_is_refused_naming_view_and_feature() -> None:
    with pytest.raises(TransformError, match="feature 'x' is computed as String, declared Float64") as err:
        OnDemandRunner("v", [Field(name="x", dtype=Float64)], expressions={"x": pl.col("s") + "a"},
                       inputs=[Field(name="s", dtype=String)])
    assert (err.value.view, err.value.feature) == ("v", "x")
    with pytest.raises(TransformError, match="computed as Float64, declared Int64"):
        OnDemandRunner("v", [Field(name="x", dtype=Int64)], expressions={"x": pl.col("i") / 2},
                       inputs=[Field(name="i", dtype=Int64)])


@pytest.mark.parametrize("compiled", [True, False])
def test_a_value_out_of_the_declared_range_names_the_feature_and_row(compiled: bool) -> None:
    expr = pl.col("i") * 2 if compiled else (pl.col("i") * 2).sqrt().cast(pl.Int64) * pl.col("i")
    runner = OnDemandRunner("v", [Field(name="x", dtype=Int32)], expressions={"x": expr},
                            inputs=[Field(name="i", dtype=Int64)])
    assert runner.compiled == (("x",) if compiled else ())
    big = 2**31
    with pytest.raises(TransformError, match="does not fit Int32") as err:
        runner.run_table(pa.table({"i": [1, big, 3]}), rows_described=lambda i: f"row {i} (driver_id={i + 100})")
    assert (err.value.view, err.value.feature, err.value.row) == ("v", "x", "row 1 (driver_id=101)")
    with pytest.raises(TransformError) as err2:
        runner.run_rows({"i": [1, big]}, 2)
    assert (err2.value.view, err2.value.feature) == ("v", "x")


@pytest.mark.parametrize("result,match,feature", [
    ({"fare": "1.5"}, "feature 'fare' is declared Float64, but the function returned '1.5'", "fare"),
    ({"fare": True}, "feature 'fare' is declared Float64", "fare"),
    ({}, "returned no value for feature 'fare'", "fare"),
    ({"fare": 1.0, "tip": 2.0}, "returned 'tip', which is not one of its features", "tip"),
    ([1.0], "returned a list, not a dict", None),
])
def test_row_function_output_errors(result: Any, match: str, feature: str | None) -> None:
    runner = OnDemandRunner("fare", [Field(name="fare", dtype=Float64)], udf=lambda row: result,
                            inputs=[Field(name="x", dtype=Int64)])
    with pytest.raises(TransformError, match=match) as err:
        runner.run_table(pa.table({"x": [1, 2]}))
    assert (err.value.view, err.value.feature, err.value.row) == ("fare", feature, "row 0")
    with pytest.raises(TransformError, match=match) as err2:
        runner.run_rows({"x": [1]}, 1)
    assert (err2.value.view, err2.value.feature, err2.value.row) == ("fare", feature, None)


def test_an_exception_in_user_code_names_the_view_and_offline_the_row() -> None:
    def divide(row: dict[str, Any]) -> dict[str, Any]:
        return {"q": 1 / row["x"]}

    runner = OnDemandRunner("ratio", [Field(name="q", dtype=Float64)], udf=divide,
                            inputs=[Field(name="x", dtype=Int64)])
    with pytest.raises(TransformError, match=r"'ratio' raised ZeroDivisionError: .* at row 2 \(driver_id=7\)") as e:
        runner.run_table(pa.table({"x": [1, 2, 0]}), rows_described=lambda i: f"row {i} (driver_id=7)")
    assert e.value.row == "row 2 (driver_id=7)" and isinstance(e.value.__cause__, ZeroDivisionError)
    with pytest.raises(TransformError, match="'ratio' raised ZeroDivisionError") as e2:
        runner.run_rows({"x": [0]}, 1)
    assert e2.value.view == "ratio" and e2.value.row is None


def test_a_failing_polars_expression_names_the_feature() -> None:
    runner = OnDemandRunner("v", [Field(name="ok", dtype=Int64), Field(name="n", dtype=Int64)],
                            expressions={"ok": pl.col("s").str.len_chars(), "n": pl.col("s").str.to_integer()},
                            inputs=[Field(name="s", dtype=String)])
    for run in (lambda: runner.run_table(pa.table({"s": ["1", "x"]})), lambda: runner.run_rows({"s": ["x"]}, 1)):
        with pytest.raises(TransformError, match="feature 'n' failed in Polars") as err:
            run()
        assert (err.value.view, err.value.feature) == ("v", "n")


# definition checks ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("expr", [
    pl.col("x") - pl.col("x").mean(), pl.col("x").shift(1), pl.col("x").sum().over("y"), pl.col("x").cum_sum(),
    pl.col("x").rank(), pl.col("x").sort(), pl.col("x").head(2), pl.col("x").shuffle(), pl.col("x").sample(1),
    pl.col("x").diff(), pl.col("x").rolling_mean(3), pl.col("x").forward_fill(), pl.len(), pl.col("x").first(),
    pl.col("x").filter(pl.col("x") > 1), pl.col("x").is_unique(), pl.col("x").any(), pl.col("x").str.join(","),
    pl.col("x").list.eval(pl.element() * 2), pl.all(), pl.col("x").map_elements(lambda v: v),
    pl.lit(pl.Series([1, 2])), pl.int_range(0, 3),
], ids=str)
def test_expressions_that_look_at_other_rows_are_refused(expr: pl.Expr) -> None:
    with pytest.raises(DefinitionError, match="on-demand view 'v': feature 'f'") as err:
        OnDemandRunner("v", [Field(name="f", dtype=Float64)], expressions={"f": expr},
                       inputs=[Field(name="x", dtype=Float64), Field(name="y", dtype=Int64)])
    assert (err.value.name, err.value.feature) == ("v", "f")


def test_expressions_must_match_the_schema_and_read_known_inputs() -> None:
    with pytest.raises(DefinitionError, match="feature 'b'") as err:
        OnDemandRunner("v", [Field(name="a", dtype=Float64)], expressions={"a": pl.col("x"), "b": pl.col("x")},
                       inputs=[Field(name="x", dtype=Float64)])
    assert err.value.feature == "b"
    with pytest.raises(DefinitionError, match="reads 'nope', which is not an input") as err2:
        OnDemandRunner("v", [Field(name="a", dtype=Float64)], expressions={"a": pl.col("nope")},
                       inputs=[Field(name="x", dtype=Float64)])
    assert err2.value.column == "nope"
    with pytest.raises(DefinitionError, match="exactly one of expressions and udf"):
        OnDemandRunner("v", [Field(name="a", dtype=Float64)], inputs=[])
