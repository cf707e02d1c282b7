"""On-demand feature views as definitions: construction checks, registry round trip, fingerprints, apply-time
checks, plans, feature services, and live code against the applied code."""

from __future__ import annotations

import os
import random
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from featurestore import (
    CodeMismatchError,
    DefinitionError,
    Entity,
    FeatureService,
    FeatureStore,
    FeatureView,
    Field,
    NotFoundError,
    OnDemandFeatureView,
    ParquetSource,
    RequestSource,
    on_demand_feature_view,
)
from featurestore.cli.plan_format import format_plan
from featurestore.config import parse_config
from featurestore.types import Bool, Float64, Int64, String

driver = Entity(name="driver", join_keys=["driver_id"])
stats = FeatureView(name="stats", entities=[driver], schema=[Field(name="v", dtype=Float64),
                                                             Field(name="n", dtype=Int64)],
                    source=ParquetSource(path="s.parquet"))
other = FeatureView(name="other", entities=[driver], schema=[Field(name="v", dtype=Float64)],
                    source=ParquetSource(path="s.parquet"))
req = RequestSource(name="req", schema=[Field(name="x", dtype=Float64)])
Y = [Field(name="y", dtype=Float64)]


def odfv(name: str = "calc", sources: list[Any] | None = None, schema: list[Field] | None = None,
         **kwargs: Any) -> OnDemandFeatureView:
    if "udf" not in kwargs:
        kwargs.setdefault("expressions", {"y": pl.col("v") * 2 + pl.col("x")})
    return OnDemandFeatureView(name=name, sources=[stats, req] if sources is None else sources,
                               schema=Y if schema is None else schema, **kwargs)


# -- construction -------------------------------------------------------------------------------------------
def test_request_sources_are_checked_when_built() -> None:
    with pytest.raises(DefinitionError, match="request source 'r' has no fields"):
        RequestSource(name="r", schema=[])
    with pytest.raises(DefinitionError, match="request source 'r' declares field 'x' twice") as err:
        RequestSource(name="r", schema=[Field(name="x", dtype=Float64), Field(name="x", dtype=Int64)])
    assert err.value.field == "x"
    with pytest.raises(DefinitionError, match="schema must be a list of Field"):
        RequestSource(name="r", schema=["x"])  # type: ignore[list-item]
    assert RequestSource.from_dict(req.to_dict()) == req


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"expressions": {"y": pl.col("v")}, "udf": lambda row: row}, "not both"),
    ({"expressions": None}, "needs expressions="),
    ({"expressions": {"y": pl.col("v"), "z": pl.col("v")}}, "expression 'z' is not a feature of its schema"),
    ({"expressions": {}, "schema": [*Y, Field(name="w", dtype=Bool)]}, "feature 'y' of its schema has no expr"),
    ({"expressions": {"y": "v * 2"}}, "expression 'y' is 'v \\* 2', not a Polars expression"),
    ({"expressions": {"y": pl.col("v")}, "schema": []}, "schema must be a non-empty list of Field"),
    ({"expressions": {"y": pl.col("v")}, "schema": [*Y, *Y]}, "declares feature 'y' twice"),
    ({"sources": []}, "has no sources"),
    ({"sources": [stats, stats]}, "lists source 'stats' twice"),
    ({"sources": [stats["v"].with_name("s2")]}, "source 'stats' is renamed"),
    ({"sources": ["stats"]}, "sources must be FeatureView, view\\[\\[...\\]\\] or RequestSource"),
    ({"udf": 42}, "udf must be a function of one row"),
])
def test_construction_errors_name_the_view(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(DefinitionError, match=match) as err:
        odfv(**kwargs)
    assert err.value.name == "calc" and "'calc'" in err.value.message


def test_an_on_demand_view_is_not_a_source() -> None:
    with pytest.raises(DefinitionError, match="source 'calc' is an on-demand feature view"):
        odfv(name="again", sources=[odfv()])


@pytest.mark.parametrize(("expr", "node"), [
    (pl.col("v") - pl.col("v").mean(), "Agg"),
    (pl.col("v").shift(1), "Shift"),
    (pl.col("v").sum().over("n"), "Over"),
    (pl.col("v").cum_sum(), "CumSum"),
    (pl.col("v").rank(), "Rank"),
    (pl.col("v").sort(), "Sort"),
    (pl.col("v").head(1), "Slice"),
    (pl.col("v").shuffle(), "Random"),
    (pl.col("v").diff(), "Diff"),
    (pl.col("v").rolling_mean(2), "RollingExpr"),
    (pl.col("v").fill_null(strategy="forward"), "FillNullWithStrategy"),
    (pl.col("v").is_duplicated(), "Boolean.IsDuplicated"),
    (pl.col("v") + pl.lit(pl.Series([1.0, 2.0])), "Literal Series"),
    (pl.col("v").filter(pl.col("v") > 0), "Filter"),
])
def test_expressions_must_be_row_local(expr: pl.Expr, node: str) -> None:
    with pytest.raises(DefinitionError, match=f"feature 'y' uses {node}.*only row-local") as err:
        odfv(expressions={"y": expr})
    assert (err.value.name, err.value.feature) == ("calc", "y") and str(err.value.value).startswith(node)


@pytest.mark.parametrize("expr", [
    pl.col("v") / pl.col("x") * 60 - 1,
    pl.when(pl.col("v") > 1).then(pl.col("x")).otherwise(None),
    pl.col("v").fill_null(0.0).abs().round(2).clip(0, 10),
    pl.col("n").cast(pl.Float64) + pl.col("x").is_null().cast(pl.Float64),
    pl.coalesce(pl.col("v"), pl.col("x")).sqrt(),
    pl.max_horizontal("v", "x") ** 2,
])
def test_row_local_expressions_are_accepted(expr: pl.Expr) -> None:
    view = odfv(expressions={"y": expr})
    assert view.mode == "polars" and view.is_live and view.expressions is not None


def uses_now(row: dict[str, Any]) -> dict[str, Any]:
    return {"y": datetime.now().hour}


def uses_time(row: dict[str, Any]) -> dict[str, Any]:
    return {"y": time.time()}


def uses_random(row: dict[str, Any]) -> dict[str, Any]:
    return {"y": random.random()}


def uses_numpy_random(row: dict[str, Any]) -> dict[str, Any]:
    return {"y": float(np.random.rand())}


def uses_uuid(row: dict[str, Any]) -> dict[str, Any]:
    return {"y": len(str(uuid.uuid4()))}


def uses_urandom(row: dict[str, Any]) -> dict[str, Any]:
    return {"y": float(os.urandom(1)[0])}


def uses_local_import(row: dict[str, Any]) -> dict[str, Any]:
    from time import monotonic as clock

    return {"y": clock()}


def uses_secrets(row: dict[str, Any]) -> dict[str, Any]:
    import secrets

    return {"y": float(secrets.randbelow(3))}


@pytest.mark.parametrize(("fn", "call"), [
    (uses_now, "datetime.datetime.now"), (uses_time, "time.time"), (uses_random, "random.random"),
    (uses_numpy_random, "numpy.random.rand"), (uses_uuid, "uuid.uuid4"), (uses_urandom, "os.urandom"),
    (uses_local_import, "time.monotonic"), (uses_secrets, "secrets.randbelow"),
])
def test_row_functions_must_not_read_the_clock_or_random_numbers(fn: Any, call: str) -> None:
    with pytest.raises(DefinitionError, match=f"'calc' calls {call}, which reads the wall clock or random"):
        odfv(udf=fn)


def test_the_decorator_makes_a_python_view() -> None:
    @on_demand_feature_view(sources=[stats, req], schema=Y, description="plus", tags={"t": "1"})
    def plus(row: dict[str, Any]) -> dict[str, Any]:
        return {"y": None if row["v"] is None else row["v"] + row["x"]}

    assert isinstance(plus, OnDemandFeatureView)
    assert (plus.name, plus.mode, plus.description, plus.tags) == ("plus", "python", "plus", {"t": "1"})
    assert plus.code.startswith("@on_demand_feature_view(") and "def plus(row" in plus.code
    assert plus.qualname is not None and plus.qualname.endswith("plus") and plus.module == __name__
    assert plus.udf is not None and plus.udf({"v": 1.0, "x": 2.0}) == {"y": 3.0}
    named = on_demand_feature_view(sources=[req], schema=Y, name="other_name")(lambda row: {"y": row["x"]})
    assert named.name == "other_name"


# -- registry form -----------------------------------------------------------------------------------------
def test_to_dict_and_from_dict_give_a_registered_view() -> None:
    view = odfv(sources=[stats[["v"]], req], description="d", owner="o", tags={"a": "b"})
    data = view.to_dict()
    assert data["sources"] == [{"view": "stats", "features": ["v"]}, {"request": req.to_dict()}]
    assert odfv().to_dict()["sources"][0] == {"view": "stats"}
    assert data["mode"] == "polars" and data["fingerprint"] == view.fingerprint and len(view.fingerprint) == 64
    assert list(__import__("json").loads(data["code"])) == ["y"]
    back = OnDemandFeatureView.from_dict(data)
    assert not back.is_live and back.expressions is None and back.udf is None
    assert (back.mode, back.code, back.fingerprint) == (view.mode, view.code, view.fingerprint)
    assert back == view and back.to_dict() == data and hash(back) == hash(view)
    assert [p.features for p in back.view_sources] == [("v",)] and back.request_sources == (req,)


def test_the_fingerprint_follows_the_code() -> None:
    assert odfv().fingerprint == odfv().fingerprint  # built twice: the same
    assert odfv(expressions={"y": pl.col("v") * 3 + pl.col("x")}).fingerprint != odfv().fingerprint
    assert odfv(schema=[Field(name="y", dtype=Float64, description="doc")]).fingerprint == odfv().fingerprint
    wider = odfv(schema=[Field(name="y", dtype=String)], expressions={"y": pl.col("v") * 2 + pl.col("x")})
    assert wider.fingerprint != odfv().fingerprint  # another output type

    def first(row: dict[str, Any]) -> dict[str, Any]:
        return {"y": row["v"]}

    def second(row: dict[str, Any]) -> dict[str, Any]:
        return {"y": row["x"]}

    assert odfv(udf=first).fingerprint != odfv(udf=second).fingerprint
    assert odfv(udf=first) != odfv(udf=second) and odfv(udf=first) == odfv(udf=first)


def test_feature_services_take_on_demand_views_whole_or_projected() -> None:
    view = odfv(schema=[*Y, Field(name="w", dtype=Bool)], expressions={"y": pl.col("v"), "w": pl.col("x") > 1})
    svc = FeatureService(name="svc", features=[view, view[["w"]], stats])
    assert svc.refs() == ["calc:y", "calc:w", "calc:w", "stats:v", "stats:n"]
    assert FeatureService.from_dict(svc.to_dict()) == svc
    with pytest.raises(NotFoundError, match="has no feature 'nope'"):
        view[["nope"]]


# -- apply -------------------------------------------------------------------------------------------------
def _store(tmp: Path) -> FeatureStore:
    pq.write_table(pa.table({
        "driver_id": pa.array([1], pa.int64()), "event_timestamp": pa.array([0], pa.timestamp("us", tz="UTC")),
        "v": [1.0], "n": pa.array([1], pa.int64()),
    }), tmp / "s.parquet")
    return FeatureStore(tmp, config=parse_config({"project": "p"}, "test", env={}))


@pytest.mark.parametrize(("objects", "match"), [
    ([driver, odfv()], "on-demand feature view 'calc' uses unknown feature view 'stats'"),
    ([driver, stats, other, odfv(sources=[stats, other])],
     "input 'v' comes from both feature view 'stats' and feature view 'other'"),
    ([driver, stats, odfv(sources=[stats, RequestSource(name="r", schema=[Field(name="n", dtype=Int64)])],
                          expressions={"y": pl.col("v")})],
     "input 'n' comes from both feature view 'stats' and request source 'r'"),
    ([driver, stats, odfv(expressions={"y": pl.col("v") * pl.col("speed")})],
     "feature 'y': its expression reads column 'speed', which is not an input"),
    ([driver, stats, odfv(sources=[stats[["n"]], req])], "reads column 'v', which is not an input"),
    ([driver, stats, odfv(schema=[Field(name="v", dtype=Float64)], expressions={"v": pl.col("x")})],
     "feature 'v' has the name of an input \\(of feature view 'stats'\\)"),
    ([driver, stats, odfv(name="stats")], "on-demand feature view 'stats' and feature view 'stats' have the same"),
    ([driver, stats, odfv(), FeatureService(name="svc", features=[odfv().projection().with_join_key_map(
        {"driver_id": "d"})])], "on-demand feature view 'calc' has no join keys to map"),
])
def test_apply_checks_on_demand_views(tmp_path: Path, objects: list[Any], match: str) -> None:
    store = _store(tmp_path)
    with pytest.raises(DefinitionError, match=match):
        store.apply(objects)
    assert store.state().version == 0  # nothing written


def test_apply_registers_plans_and_removes_on_demand_views(tmp_path: Path) -> None:
    store = _store(tmp_path)
    view = odfv()
    svc = FeatureService(name="svc", features=[view, stats[["n"]]])
    plan = store.apply([driver, stats, view, svc])
    assert "+ on_demand_feature_view calc" in str(plan)
    registered = store.state().on_demand_feature_view("calc")
    assert registered == view and not registered.is_live
    assert store.state().feature_service("svc") == svc
    assert store.plan([driver, stats, view, svc]).empty
    changed = odfv(expressions={"y": pl.col("v") * 3 + pl.col("x")})
    before = store.state()
    plan = store.plan([changed])
    text = format_plan(plan, before)
    assert f"~ code changed (fingerprint {view.fingerprint[:12]} -> {changed.fingerprint[:12]})" in text
    assert "BinaryExpr" not in text and "BinaryExpr" not in str(plan)  # never the code text
    assert [c.fields for c in plan.changed] == [(f"code changed (fingerprint {view.fingerprint[:12]} -> "
                                                 f"{changed.fingerprint[:12]})",)]
    store.apply([changed])
    assert store.state().on_demand_feature_view("calc").fingerprint == changed.fingerprint
    # a partial apply may not name a feature view like a registered on-demand view, nor drop its source
    with pytest.raises(DefinitionError, match="on-demand feature view 'calc' \\(registered\\) and feature view 'calc'"):
        store.apply([FeatureView(name="calc", entities=[driver], schema=[Field(name="v", dtype=Float64)],
                                 source=ParquetSource(path="s.parquet"))])
    with pytest.raises(DefinitionError, match="on-demand feature view 'calc' would lose its source feature view"):
        store.apply([], objects_to_delete=[stats])
    store.apply([], objects_to_delete=[svc, view])
    assert store.state().names("on_demand_feature_views") == []
    assert store.history()[0]["changes"]["added"] == [
        "entity driver", "feature_view stats", "on_demand_feature_view calc", "feature_service svc"]


# -- live code ---------------------------------------------------------------------------------------------
MODULE = '''\
import polars as pl

from featurestore import Entity, FeatureView, Field, OnDemandFeatureView, ParquetSource, RequestSource
from featurestore import on_demand_feature_view
from featurestore.types import Float64

driver = Entity(name="driver", join_keys=["driver_id"])
stats = FeatureView(name="stats", entities=[driver], schema=[Field(name="v", dtype=Float64)],
                    source=ParquetSource(path="s.parquet"))
req = RequestSource(name="req", schema=[Field(name="x", dtype=Float64)])
scaled = OnDemandFeatureView(name="scaled", sources=[stats, req], schema=[Field(name="y", dtype=Float64)],
                             expressions={{"y": pl.col("v") * {factor} + pl.col("x")}})


@on_demand_feature_view(sources=[stats, req], schema=[Field(name="z", dtype=Float64)])
def plus(row):
    return {{"z": row["v"] + {offset}}}
'''


def _repo(tmp: Path, factor: float = 2.0, offset: float = 1.0) -> FeatureStore:
    store = _store(tmp)
    (tmp / "defs.py").write_text(MODULE.format(factor=factor, offset=offset))
    return store


def test_live_code_matches_the_applied_code_and_names_what_changed(tmp_path: Path) -> None:
    store = _repo(tmp_path)
    assert store.code_status() == []  # nothing registered: nothing imported, nothing to say
    store.apply()
    assert store.code_status() == []
    live = store.live_code()
    assert live.view("scaled").is_live and live.view("plus").udf is not None
    assert live.view("plus").udf({"v": 1.0}) == {"z": 2.0}  # type: ignore[misc]
    with pytest.raises(NotFoundError, match="'nope' is not in the registry"):
        live.view("nope")
    (tmp_path / "defs.py").write_text(MODULE.format(factor=3.0, offset=1.0))  # edited, not applied
    fresh = FeatureStore(tmp_path, config=store.config)
    [err] = fresh.code_status()
    assert isinstance(err, CodeMismatchError) and err.view == "scaled"
    applied = store.state().on_demand_feature_view("scaled").fingerprint
    assert err.applied == applied and err.found not in (None, applied)
    assert "on-demand feature view 'scaled': its code differs from what was applied" in err.message
    with pytest.raises(CodeMismatchError, match="'scaled'") as raised:
        fresh.live_code().view("scaled")
    assert raised.value.view == "scaled"
    assert fresh.live_code().view("plus").is_live  # the unchanged view still runs
    assert fresh.live_code() is fresh.live_code()  # once per snapshot
    fresh.apply()  # apply the edit: a new snapshot, imported again, matching
    assert fresh.code_status() == []
    (tmp_path / "defs.py").write_text(MODULE.format(factor=3.0, offset=1.0).replace("def plus", "def plus_"))
    assert [e.view for e in FeatureStore(tmp_path, config=store.config).code_status()] == ["plus"]
    (tmp_path / "defs.py").write_text("raise RuntimeError('broken')\n")
    errors = FeatureStore(tmp_path, config=store.config).code_status()
    assert [e.view for e in errors] == ["plus", "scaled"]
    assert all("do not import" in e.message and e.found is None for e in errors)


def test_a_feature_view_and_an_on_demand_view_of_one_name_in_the_repo_name_both_files(tmp_path: Path) -> None:
    store = _repo(tmp_path)
    text = MODULE.format(factor=2.0, offset=1.0).split("@on_demand")[0]
    (tmp_path / "more.py").write_text(text.replace('name="stats", entities', 'name="scaled", entities'))
    with pytest.raises(DefinitionError, match=r"a feature view and an on-demand feature view are both named "
                                              r"'scaled': .*defs\.py:\d+.* and .*more\.py:\d+"):
        store.apply()
