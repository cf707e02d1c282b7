"""``apply`` of aggregate views: every check against the source naming the culprit, the schema it fills, plans and
their online effects, round trips, feature services and on-demand views over them, the CLI and the catalog."""

from __future__ import annotations

import json
import os
import re
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient

from featurestore import (
    AggregateView,
    Aggregation,
    DefinitionError,
    Entity,
    FeatureService,
    FeatureStore,
    FeatureView,
    Field,
    OnDemandFeatureView,
    ParquetSource,
    PushSource,
    types,
)
from featurestore.cli import main
from featurestore.config import parse_config
from featurestore.resolution import HIDDEN, resolve
from server import create_app
from tests.cli_helpers import failed, ok

card = Entity(name="card", join_keys=["card_id"])
TXNS = "data/txns.parquet"
COLUMNS = ["card_id", "event_timestamp", "created", "amount", "qty", "score", "status", "merchant_id", "labels",
           "flag", "when", "day", "price"]


def write_txns(repo: Path) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    (repo / "data").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({
        "card_id": pa.array([1, 2], pa.int64()),
        "event_timestamp": pa.array([t0, t0 + timedelta(hours=1)], pa.timestamp("us", tz="UTC")),
        "created": pa.array([t0, t0 + timedelta(hours=1)], pa.timestamp("us", tz="UTC")),
        "amount": pa.array([1.5, 2.5], pa.float64()),
        "qty": pa.array([1, 2], pa.int32()),
        "score": pa.array([0.5, 0.25], pa.float32()),
        "status": ["ok", "declined"],
        "merchant_id": ["m1", "m2"],
        "labels": pa.array([["a"], []], pa.list_(pa.string())),
        "flag": [True, False],
        "when": pa.array([t0, t0], pa.timestamp("us", tz="UTC")),
        "day": pa.array([1, 2], pa.int64()),
        "price": pa.array([1, 2], pa.decimal128(10, 2)),
    }), repo / TXNS)


def source(**kwargs: Any) -> ParquetSource:
    return ParquetSource(path=TXNS, timestamp_field="event_timestamp", created_timestamp_field="created", **kwargs)


def agg_view(*aggs: Aggregation, **kwargs: Any) -> AggregateView:
    args: dict[str, Any] = {"name": "card_txn", "entities": [card], "source": source(),
                            "aggregations": list(aggs) or [Aggregation(function="count", windows=["1h"])]}
    args.update(kwargs)
    return AggregateView(**args)


@pytest.fixture
def store(tmp_path: Path) -> FeatureStore:
    write_txns(tmp_path)
    return FeatureStore(tmp_path, config=parse_config({"project": "p"}, "test", env={}))


def test_apply_fills_the_schema_and_the_output_types(store: FeatureStore) -> None:
    v = agg_view(
        Aggregation(function="count", windows=["1h", "1d"]),
        Aggregation(function="count", column="labels"),
        Aggregation(function="sum", column="qty", windows=["1d"]),
        Aggregation(function="sum", column="day", windows=["1d"]),
        Aggregation(function="sum", column="score", windows=["1d"]),
        Aggregation(function="sum", column="amount", windows=["1d"], where="status = 'declined'", name="declined"),
        Aggregation(function="mean", column="qty"),
        Aggregation(function="stddev", column="score"),
        Aggregation(function="min", column="qty"),
        Aggregation(function="max", column="status"),
        Aggregation(function="first", column="when"),
        Aggregation(function="last", column="flag"),
        Aggregation(function="count_distinct", column="merchant_id", windows=["7d"]),
    )
    store.apply([card, v])
    got = store.get_aggregate_view("card_txn")
    assert [f.name for f in got.key_fields] == ["card_id"] and got.key_fields[0].dtype is types.Int64
    assert {f.name: f.dtype for f in got.input_fields} == {
        "labels": types.Array(types.String), "qty": types.Int32, "day": types.Int64, "score": types.Float32,
        "amount": types.Float64, "status": types.String, "when": types.Timestamp, "flag": types.Bool,
        "merchant_id": types.String}
    assert {f.name: f.dtype.name for f in got.features} == {
        "count_1h": "Int64", "count_1d": "Int64", "labels_count": "Int64", "qty_sum_1d": "Int64",
        "day_sum_1d": "Int64", "score_sum_1d": "Float64", "declined": "Float64", "qty_mean": "Float64",
        "score_stddev": "Float64", "qty_min": "Int32", "status_max": "String", "when_first": "Timestamp",
        "flag_last": "Bool", "merchant_id_count_distinct_7d": "Int64"}
    assert [v.name for v in store.list_aggregate_views()] == ["card_txn"]
    assert store.list_feature_views() == []
    assert store.plan([card, v]).empty  # applied twice: no change
    assert store.apply([card, v]).empty and store.state().version == 1


def test_declared_types_are_kept_and_checked(store: FeatureStore) -> None:
    v = agg_view(Aggregation(function="max", column="qty"),
                 schema=[Field(name="card_id", dtype=types.Int64), Field(name="qty", dtype=types.Int64)])
    store.apply([card, v])
    assert store.get_aggregate_view("card_txn").feature("qty_max").dtype is types.Int64
    bad = agg_view(Aggregation(function="max", column="amount"), schema=[Field(name="amount", dtype=types.String)])
    with pytest.raises(DefinitionError, match="aggregation 'max' \\(amount_max\\): column 'amount' is declared String "
                                              "but the source holds double"):
        store.apply([card, bad])


def test_field_mapping_applies_to_join_keys_and_aggregations_name_raw_columns(store: FeatureStore) -> None:
    payer = Entity(name="payer", join_keys=["payer_id"])
    v = AggregateView(name="payer_txn", entities=[payer], source=source(field_mapping={"card_id": "payer_id"}),
                      aggregations=[Aggregation(function="sum", column="amount", windows=["1d"],
                                                where="card_id > 0")])
    store.apply([payer, v])
    got = store.get_aggregate_view("payer_txn")
    assert [(f.name, f.dtype) for f in got.key_fields] == [("payer_id", types.Int64)]
    assert got.source_column("payer_id") == "card_id"


@pytest.mark.parametrize(("aggs", "kwargs", "match"), [
    ([Aggregation(function="sum", column="amout", windows=["1d"])], {},
     "aggregate view 'card_txn' \\(source parquet:data/txns.parquet\\), aggregation 'sum' \\(amout_sum_1d\\): "
     "aggregated column 'amout' is missing from the source; it has \\['card_id', 'event_timestamp'"),
    ([Aggregation(function="count", column="nope")], {}, "aggregation 'count' \\(nope_count\\): aggregated column "
                                                         "'nope' is missing"),
    ([Aggregation(function="sum", column="status", windows=["1d", "7d"])], {},
     "aggregation 'sum' \\(status_sum_1d, status_sum_7d\\): sum needs a numeric column \\(Int32, Int64, Float32, "
     "Float64\\), but column 'status' is String"),
    ([Aggregation(function="mean", column="flag")], {}, "mean needs a numeric column .* column 'flag' is Bool"),
    ([Aggregation(function="stddev", column="when")], {}, "stddev needs a numeric column .* 'when' is Timestamp"),
    ([Aggregation(function="sum", column="labels")], {}, "sum needs a numeric column .* 'labels' is Array\\(String\\)"),
    ([Aggregation(function="max", column="labels")], {},
     "aggregation 'max' \\(labels_max\\): max does not take list columns, and column 'labels' is Array\\(String\\)"),
    ([Aggregation(function="count_distinct", column="labels")], {}, "count_distinct does not take list columns"),
    ([Aggregation(function="first", column="labels")], {}, "first does not take list columns"),
    ([Aggregation(function="last", column="labels")], {}, "last does not take list columns"),
    ([Aggregation(function="min", column="labels")], {}, "min does not take list columns"),
    ([Aggregation(function="max", column="price")], {}, "column 'price' has type decimal128\\(10, 2\\), which "
                                                       "featurestore does not handle"),
    ([], {"source": ParquetSource(path=TXNS, timestamp_field="status")},
     "aggregate view 'card_txn' .*: timestamp column 'status' has type string, not a timestamp"),
    ([], {"source": ParquetSource(path=TXNS, timestamp_field="event_timestamp", created_timestamp_field="qty")},
     "created timestamp column 'qty' has type int32, not a timestamp"),
    ([], {"source": ParquetSource(path=TXNS, timestamp_field="ts")},
     "timestamp column 'ts' is missing from the source"),
    ([], {"entities": [Entity(name="amt", join_keys=["amount"])]},
     "join key 'amount' has type double; keys must be integers, strings, bytes or booleans"),
    ([], {"entities": [Entity(name="c", join_keys=["card"])]}, "join key 'card' column 'card' is missing"),
    ([], {"entities": [Entity(name="card", join_keys=["card"])]},
     "aggregate view 'card_txn': entity 'card' has join keys \\['card_id'\\] in the registry but \\['card'\\] here"),
    ([], {"entities": [Entity(name="merchant", join_keys=["merchant_id"])]},
     "aggregate view 'card_txn' uses unknown entity 'merchant': apply it too"),
    ([], {"source": source(field_mapping={"cc": "card_id"})}, "field_mapping column 'cc' is missing from the source"),
])
def test_apply_errors_name_the_culprit(store: FeatureStore, aggs: list[Aggregation], kwargs: dict[str, Any],
                                       match: str) -> None:
    entities = [e for e in kwargs.get("entities", ()) if e.name not in ("merchant", "card")]  # merchant: unknown
    with pytest.raises(DefinitionError, match=match) as raised:
        store.apply([card, *entities, agg_view(*aggs, **kwargs)])
    assert raised.value.fields.get("name") == "card_txn"
    assert store.state().version == 0  # nothing applied


@pytest.mark.parametrize(("where", "match"), [
    ("stauts = 'declined'", "Referenced column \"stauts\" not found"),
    ("status = 'declined' AND", "syntax error"),
    ("status = ", "syntax error"),
    ("amount + 1", "it is of type DOUBLE, not a boolean"),
    ("status", "it is of type VARCHAR, not a boolean"),
    ("true); DROP TABLE x; SELECT (true", "more than one SQL statement"),
    ("sum(amount) > 1", "aggregate|GROUP BY"),
    ("nosuchfunction(amount)", "nosuchfunction"),
])
def test_a_where_duckdb_cannot_bind_is_refused_at_apply(store: FeatureStore, where: str, match: str) -> None:
    v = agg_view(Aggregation(function="count", windows=["1h"]),
                 Aggregation(function="sum", column="amount", windows=["1d", "7d"], where=where, name="w"))
    with pytest.raises(DefinitionError) as raised:
        store.apply([card, v])
    message = raised.value.message
    assert message.startswith("aggregate view 'card_txn', aggregation 'sum' (w_1d, w_7d): its where ")
    assert "is not a DuckDB predicate on the source's columns" in message
    assert "__fs_" not in message and "LINE" not in message
    assert re.search(match, message), message
    assert raised.value.fields.get("feature") == "w_1d" and raised.value.fields.get("value") == where


def test_a_good_where_may_use_any_source_column(store: FeatureStore) -> None:
    v = agg_view(Aggregation(function="count", windows=["1h"], where="status <> 'ok' AND qty BETWEEN 1 AND 3"),
                 Aggregation(function="sum", column="amount", windows=["1d"], where="-- a comment\nflag",
                             name="flagged"),
                 Aggregation(function="max", column="amount", where="len(labels) > 0 OR \"when\" IS NULL"))
    store.apply([card, v])
    assert store.get_aggregate_view("card_txn").aggregations[1].where == "-- a comment\nflag"


def test_one_name_space_for_feature_aggregate_and_on_demand_views(store: FeatureStore) -> None:
    fv = FeatureView(name="card_txn", entities=[card], source=source(), schema=[Field(name="amount",
                                                                                       dtype=types.Float64)])
    with pytest.raises(DefinitionError, match="aggregate view 'card_txn' and feature view 'card_txn' have the same "
                                              "name: feature views, aggregate views and on-demand feature views share"):
        store.apply([card, fv, agg_view()])
    store.apply([card, fv])
    with pytest.raises(DefinitionError, match="aggregate view 'card_txn' and feature view 'card_txn' \\(registered\\)"):
        store.apply([agg_view()])
    odfv = OnDemandFeatureView(name="card_txn", sources=[fv], schema=[Field(name="x", dtype=types.Float64)],
                               expressions={"x": pl.col("amount")})
    with pytest.raises(DefinitionError, match="on-demand feature view 'card_txn' and aggregate view 'card_txn' have"):
        store.apply([card, agg_view(), odfv], [fv])


def test_one_push_source_name_is_one_source_across_feature_and_aggregate_views(store: FeatureStore) -> None:
    fv = FeatureView(name="txn", entities=[card], source=PushSource(name="txn_push", batch_source=source()),
                     schema=[Field(name="amount", dtype=types.Float64)])
    other = PushSource(name="txn_push", batch_source=source(field_mapping={"card_id": "card_id"}))
    with pytest.raises(DefinitionError, match="push source 'txn_push' of view 'txn' differs from the push source of "
                                              "the same name of view 'card_txn'"):
        store.apply([card, fv, agg_view(source=other)])
    store.apply([card, agg_view(source=other)])
    with pytest.raises(DefinitionError, match="push source 'txn_push' of view 'txn' differs"):
        store.apply([fv])  # against the registered aggregate view's push source
    store.apply([fv.__class__(**{**fv.__dict__, "source": other})])  # the same push source: fine


def test_plan_says_a_changed_aggregate_view_must_be_materialized_again(store: FeatureStore) -> None:
    v = agg_view(Aggregation(function="count", windows=["1h"]),
                 Aggregation(function="sum", column="amount", windows=["1d"]))
    store.apply([card, v])
    same_states = agg_view(*v.aggregations, description="cards", owner="risk@example.com", tags={"t": "1"})
    plan = store.plan([card, same_states])
    assert [c.label for c in plan.changed] == ["aggregate_view card_txn"] and plan.online_effects == ()
    cases = {
        "aggregations": agg_view(Aggregation(function="count", windows=["1h", "1d"]), v.aggregations[1]),
        "serving horizon": agg_view(*v.aggregations, serving_horizon="3d"),
        "resolution": agg_view(*v.aggregations, resolution="1m"),
        "source": agg_view(*v.aggregations, source=source(field_mapping={"card_id": "card_id"})),
        "entities": agg_view(*v.aggregations, entities=[Entity(name="card", join_keys=["card_id"], owner="x")]),
    }
    for reason, changed in cases.items():
        plan = store.plan([card, changed])
        [effect] = plan.online_effects
        assert effect.view == "card_txn" and effect.deletes
        assert reason in effect.reason
        assert f"online card_txn: {reason} changed (its online states no longer match the definition): online data " \
               "deleted (materialize again)" in str(plan)
    plan = store.plan([card, agg_view(*v.aggregations, serving_horizon="3d", resolution="1m")])
    assert "serving horizon, resolution changed" in str(plan)
    plan = store.apply([card], [v])
    assert [c.label for c in plan.removed] == ["aggregate_view card_txn"]
    assert "online card_txn: aggregate view removed: online data deleted (materialize again)" in str(plan)
    assert plan.removed_views() == ["card_txn"]
    assert store.list_aggregate_views() == []


def test_history_records_aggregate_views(store: FeatureStore) -> None:
    v = agg_view()
    store.apply([card, v])
    store.apply([agg_view(Aggregation(function="count", windows=["2h"]))])
    history = store.history()
    assert history[0]["changes"]["added"] == ["entity card", "aggregate_view card_txn"]
    assert history[1]["changes"]["changed"] == ["aggregate_view card_txn"]
    assert AggregateView.from_dict(history[1]["objects"]["aggregate_views"]["card_txn"]).feature_names == ("count_2h",)


def test_services_and_on_demand_views_over_aggregate_views(store: FeatureStore) -> None:
    v = agg_view(Aggregation(function="count", windows=["1h", "1d"]),
                 Aggregation(function="sum", column="amount", windows=["1d"]))
    odfv = OnDemandFeatureView(name="hour_share", sources=[v[["count_1h", "count_1d"]]],
                               schema=[Field(name="share", dtype=types.Float64)],
                               expressions={"share": pl.col("count_1h") / pl.col("count_1d")})
    svc = FeatureService(name="fraud", features=[v[["amount_sum_1d"]], odfv])
    whole = FeatureService(name="all", features=[v])
    store.apply([card, v, odfv, svc, whole])
    state = store.state()
    assert state.on_demand_feature_view("hour_share").view_sources[0].view == "card_txn"
    resolved = resolve(store.get_feature_service("fraud"), state)
    [part] = resolved.views
    assert part.view.name == "card_txn" and isinstance(part.view, AggregateView)
    assert part.features == ("amount_sum_1d", "count_1h", "count_1d")
    assert part.out_names == ("amount_sum_1d", f"{HIDDEN}card_txn__count_1h", f"{HIDDEN}card_txn__count_1d")
    assert part.key_types == (types.Int64,)
    [od] = resolved.on_demand
    assert od.inputs == (("count_1h", f"{HIDDEN}card_txn__count_1h"), ("count_1d", f"{HIDDEN}card_txn__count_1d"))
    assert [f.dtype for f in od.input_fields] == [types.Int64, types.Int64]
    assert resolved.columns == ("amount_sum_1d", "share")
    by_refs = resolve(["card_txn:*", "hour_share:share"], state)
    assert by_refs.views[0].features == ("count_1h", "count_1d", "amount_sum_1d")
    assert resolve("all", state).views[0].features == ("count_1h", "count_1d", "amount_sum_1d")
    # a partial apply must not take away what the service and the on-demand view read
    fewer = agg_view(Aggregation(function="count", windows=["1h", "1d"]))
    with pytest.raises(DefinitionError, match=r"feature service '(all|fraud)' would lose features of view 'card_txn'"):
        store.apply([fewer])
    with pytest.raises(DefinitionError, match="on-demand feature view 'hour_share' would lose its source aggregate "
                                              "view 'card_txn'"):
        store.apply([], [v])
    bad = FeatureService(name="bad", features=[v[["count_1h"]].with_join_key_map({"nope": "x"})])
    with pytest.raises(DefinitionError, match="feature service 'bad': aggregate view 'card_txn' has no join key "
                                              "'nope'"):
        store.apply([bad])
    odfv_bad = OnDemandFeatureView(name="typo", sources=[v], schema=[Field(name="y", dtype=types.Float64)],
                                   expressions={"y": pl.col("count_2h")})
    with pytest.raises(DefinitionError, match="its expression reads column 'count_2h', which is not an input; the "
                                              "inputs are \\['amount_sum_1d', 'count_1d', 'count_1h'\\]"):
        store.apply([odfv_bad])
    stats = FeatureView(name="stats", entities=[card], source=source(field_mapping={"amount": "count_1h"}),
                        schema=[Field(name="count_1h", dtype=types.Float64)])
    clash = OnDemandFeatureView(name="clash", sources=[v, stats],
        schema=[Field(name="y", dtype=types.Float64)], expressions={"y": pl.col("amount_sum_1d")})
    with pytest.raises(DefinitionError, match="input 'count_1h' comes from both aggregate view 'card_txn' and feature "
                                              "view 'stats'"):
        store.apply([stats, clash])


# -- the CLI and the catalog ---------------------------------------------------------------------------------------

DEFS = '''
from featurestore import AggregateView, Aggregation, Entity, FeatureService, ParquetSource, PushSource

card = Entity(name="card", join_keys=["card_id"])

card_txn = AggregateView(
    name="card_txn",
    entities=[card],
    source=PushSource(name="txn_push",
                      batch_source=ParquetSource(path="data/txns.parquet", timestamp_field="event_timestamp",
                                                 created_timestamp_field="created")),
    aggregations=[
        Aggregation(function="count", windows=["1h", "1d"]),
        Aggregation(column="amount", function="sum", windows=["{window}"]),
        Aggregation(column="merchant_id", function="last"),
        Aggregation(column="amount", function="sum", windows=["7d"], where="status = 'declined'",
                    name="declined_amount_7d"),
    ],
    resolution="1m",
    owner="risk@example.com",
)

fraud = FeatureService(name="fraud", features=[card_txn[["count_1h", "declined_amount_7d"]]])
'''


def cli_repo(folder: Path, window: str = "1d") -> Path:
    write_txns(folder)
    (folder / "featurestore.yaml").write_text(yaml.safe_dump({
        "project": "cards", "registry": "data/registry.json",
        "online_store": {"type": "sqlite", "path": "data/online.db"}, "offline_store": {"type": "duckdb"}}))
    (folder / "defs.py").write_text(textwrap.dedent(DEFS).replace("{window}", window))
    return folder


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FEATURESTORE_"):
            monkeypatch.delenv(name)


def test_cli_plans_applies_lists_and_describes_aggregate_views(tmp_path: Path, clean_env: None) -> None:
    repo = cli_repo(tmp_path / "r")
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(main, ["--repo", str(repo), *args])

    out = ok(run("plan"))
    assert "+ aggregate_view card_txn" in out and "+ feature_service fraud" in out
    out = ok(run("apply"))
    assert "+ aggregate_view card_txn" in out and "Applied: registry version 1." in out
    assert "No changes" in ok(run("plan"))
    out = ok(run("list", "aggregate-views"))
    header, row = out.splitlines()
    assert header.split() == ["NAME", "ENTITIES", "JOIN", "KEYS", "FEATURES", "WINDOWS", "HORIZON", "RESOLUTION",
                              "SOURCE", "OWNER", "TAGS"]
    assert row.split() == ["card_txn", "card", "card_id", "5", "1h,1d,lifetime,7d", "2d", "1m", "push:txn_push",
                           "risk@example.com", "-"]
    listed = json.loads(ok(run("list", "aggregate-views", "--json")))
    assert AggregateView.from_dict(listed[0]).feature_names == ("count_1h", "count_1d", "amount_sum_1d",
                                                                "merchant_id_last", "declined_amount_7d")
    described = yaml.safe_load(ok(run("describe", "aggregate-view", "card_txn")))
    assert described["aggregate_view"] == "card_txn" and described["join_keys"] == {"card_id": "Int64"}
    assert described["features"] == {
        "count_1h": "Int64  # count(*) over 1h", "count_1d": "Int64  # count(*) over 1d",
        "amount_sum_1d": "Float64  # sum(amount) over 1d",
        "merchant_id_last": "String  # last(merchant_id) over lifetime",
        "declined_amount_7d": "Float64  # sum(amount) over 7d where status = 'declined'"}
    assert described["windows"] == ["1h", "1d", "lifetime", "7d"]
    assert described["serving_horizon"] == "2d" and described["resolution"] == "1m"
    assert described["feature_services"] == ["fraud"] and described["online"] is True
    assert described["source"]["name"] == "txn_push"
    assert "materialization" in described
    assert json.loads(ok(run("describe", "aggregate-view", "card_txn", "--json")))["name"] == "card_txn"
    assert yaml.safe_load(ok(run("describe", "feature-service", "fraud")))["features"] == {
        "card_txn": {"count_1h": "Int64", "declined_amount_7d": "Float64"}}
    assert yaml.safe_load(ok(run("describe", "entity", "card")))["aggregate_views"] == ["card_txn"]
    assert "aggregate view 'nope' is not in the registry (registered: card_txn)" in failed(
        run("describe", "aggregate-view", "nope"))
    cli_repo(repo, window="2d")  # edit the definitions: a plan names the feature and the online effect
    out = ok(run("plan"))
    assert "~ aggregate_view card_txn" in out
    assert "    - feature amount_sum_1d: sum(amount) over 1d" in out
    assert "    + feature amount_sum_2d: sum(amount) over 2d" in out
    assert "  online card_txn: aggregations changed (its online states no longer match the definition): online " \
           "data deleted (materialize again)" in out
    (repo / "defs.py").write_text((repo / "defs.py").read_text().replace("status = 'declined'", "stat = 'declined'"))
    err = failed(run("apply"))
    assert "aggregate view 'card_txn', aggregation 'sum' (declined_amount_7d): its where \"stat = 'declined'\" is " \
           "not a DuckDB predicate on the source's columns: Binder Error: Referenced column \"stat\" not found" in err
    assert "LINE" not in err and ok(run("list", "aggregate-views")).count("1h,1d,lifetime,7d") == 1  # nothing applied


def test_catalog_lists_aggregate_views(tmp_path: Path, clean_env: None) -> None:
    repo = cli_repo(tmp_path / "r")
    FeatureStore(repo).apply()
    with TestClient(create_app(repo), raise_server_exceptions=False) as client:
        r = client.get("/features")
    assert r.status_code == 200
    [view] = r.json()["aggregate_views"]
    assert view["name"] == "card_txn" and view["entities"] == ["card"]
    assert view["join_keys"] == [{"name": "card_id", "type": "Int64"}]
    assert view["features"][0] == {"name": "count_1h", "type": "Int64", "function": "count", "column": None,
                                   "window": "1h", "where": None}
    assert view["features"][3] == {"name": "merchant_id_last", "type": "String", "function": "last",
                                   "column": "merchant_id", "window": None, "where": None}
    assert view["features"][4] == {"name": "declined_amount_7d", "type": "Float64", "function": "sum",
                                   "column": "amount", "window": "7d", "where": "status = 'declined'"}
    assert view["windows"] == ["1h", "1d", "lifetime", "7d"]
    assert (view["serving_horizon"], view["resolution"], view["online"]) == ("2d", "1m", True)
    assert view["materialization"] is None and view["source"]["name"] == "txn_push"
    assert r.json()["feature_views"] == []
    assert r.json()["feature_services"][0]["features"] == ["card_txn:count_1h", "card_txn:declined_amount_7d"]


def test_repo_files_defining_a_feature_view_and_an_aggregate_view_of_one_name_name_both(tmp_path: Path,
                                                                                        clean_env: None) -> None:
    repo = cli_repo(tmp_path / "r")
    (repo / "more.py").write_text(textwrap.dedent('''
        from featurestore import Entity, FeatureView, Field, ParquetSource
        from featurestore.types import Float64

        card_txn_plain = FeatureView(name="card_txn", entities=[Entity(name="card", join_keys=["card_id"])],
                                     source=ParquetSource(path="data/txns.parquet"),
                                     schema=[Field(name="amount", dtype=Float64)])
    '''))
    with pytest.raises(DefinitionError, match=r"a feature view and an aggregate view are both named 'card_txn': "
                                              r"aggregate view 'card_txn' \(defs\.py:\d+\) and feature view "
                                              r"'card_txn_plain' \(more\.py:\d+\)"):
        FeatureStore(repo).apply()
