"""A large feature repo for the web UI's tests and bench (issue 15): by default 500 views over 20 Parquet sources.

:func:`make_big_repo` writes a complete repo (``featurestore.yaml``, one definitions module ``features.py`` building
every object from ``big_repo.json``, seeded Parquet data), applies it in four registry versions, materializes a
handful of views into the repo's SQLite online store and creates two training sets, in a few seconds. The same
``views`` and ``seed`` give the same definitions and data files.

What it holds, ``views=500``:

- 6 entities: ``driver``, ``customer``, ``card``, ``merchant`` (Int64 keys), ``zone`` (a String key) and ``route``
  (one entity with two String keys, ``origin_zone`` and ``dest_zone``);
- 20 Parquet sources ``src_00`` ... ``src_19`` (2,000 to 3,600 rows each over 14 days up to :data:`END`, with
  ``event_timestamp`` and ``created`` columns and 27 feature columns of Float64, Int64, String and Bool), keyed by
  one entity, by two (``customer`` and ``driver``) or by ``route``; two of them behind push sources;
- 80% feature views (3 to 8 features of at least two types), 10% aggregate views (3 to 8 windowed aggregations),
  10% on-demand views (3 to 8 Polars expressions, or a Python row function one in five) over a feature view and
  one of 3 request sources;
- 50 feature services of 2 to 5 views or projections, ``driver_training`` and ``customer_training`` (4 views each)
  and ``late_additions``;
- a description, owner and tags on every object; each view's description holds a word of its own,
  :func:`unique_word` (``zq`` and 3 letters), found in no other object's text;
- registry versions 1 to 4 (:func:`versions`); the later ones are applied as the objects that changed, as
  ``apply(objects)`` does (a full apply checks every view against its source again: ~3 s for 500 views);
- 6 views materialized (5 feature views, the first aggregate view) and 2 training sets (version 1 of
  ``driver_training`` and ``customer_training``, 300 rows each).
"""

from __future__ import annotations

import copy
import json
import random
import runpy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from featurestore import AggregateView, Entity, FeatureService, FeatureStore, FeatureView, OnDemandFeatureView

END = datetime(2026, 1, 15, tzinfo=UTC)
"""The data's last instant (fixed, so the files are the same on every run)."""
DAYS = 14
SPEC_FILE = "big_repo.json"
TS = pa.timestamp("us", tz="UTC")

ENTITIES: list[dict[str, Any]] = [
    {"name": "driver", "join_keys": ["driver_id"], "description": "A ride-hailing driver", "owner": "ops@example.com",
     "tags": {"domain": "mobility", "pii": "false"}},
    {"name": "customer", "join_keys": ["customer_id"], "description": "A rider with an account",
     "owner": "growth@example.com", "tags": {"domain": "growth", "pii": "true"}},
    {"name": "card", "join_keys": ["card_id"], "description": "A payment card of a rider", "owner": "risk@example.com",
     "tags": {"domain": "risk", "pii": "true"}},
    {"name": "merchant", "join_keys": ["merchant_id"], "description": "A merchant where riders pay",
     "owner": "risk@example.com", "tags": {"domain": "risk", "pii": "false"}},
    {"name": "zone", "join_keys": ["zone_id"], "description": "A pickup zone of the city",
     "owner": "marketplace@example.com", "tags": {"domain": "marketplace", "pii": "false"}},
    {"name": "route", "join_keys": ["origin_zone", "dest_zone"],
     "description": "A trip between two zones (a composite key: origin and destination)",
     "owner": "marketplace@example.com", "tags": {"domain": "marketplace", "pii": "false"}},
]
KEY_GROUPS: list[tuple[str, ...]] = [("driver",), ("customer",), ("card",), ("merchant",), ("zone",),
                                     ("customer", "driver"), ("route",)]
"""The entities of each source, round robin: a single key, two entities (two keys), one composite entity."""
KEY_VALUES = {"driver_id": 120, "customer_id": 150, "card_id": 100, "merchant_id": 60, "zone_id": 40,
              "origin_zone": 12, "dest_zone": 12}
"""How many values each join key takes."""
COLUMNS: dict[str, list[str]] = {
    "Float64": ["rate", "score", "ratio", "amount", "latency", "speed", "balance", "share"],
    "Int64": ["count", "trips", "orders", "visits", "clicks", "errors", "sessions", "items"],
    "String": ["tier", "segment", "region", "channel", "device"],
    "Bool": ["active", "flagged", "verified", "premium", "churned", "promoted"],
}
"""Every source's feature columns by type (27 columns)."""
CATEGORIES = {"tier": ["bronze", "silver", "gold", "platinum"], "segment": ["new", "casual", "regular", "power"],
              "region": ["north", "south", "east", "west", "centre"], "channel": ["app", "web", "phone"],
              "device": ["ios", "android", "desktop"]}
TYPE_OF = {c: t for t, cols in COLUMNS.items() for c in cols}
OWNERS = ["ml-platform@example.com", "pricing@example.com", "growth@example.com", "risk@example.com",
          "marketplace@example.com", "ops@example.com"]
TEAMS = ["pricing", "growth", "risk", "marketplace", "ops", "safety"]
TOPICS = ["conversion", "retention", "fraud", "demand", "supply", "quality", "latency", "engagement"]
CADENCES = ["hourly", "daily", "weekly", "rolling"]
REQUEST_SOURCES: list[dict[str, Any]] = [
    {"name": "trip_context", "schema": [["multiplier", "Float64"], ["threshold", "Float64"]],
     "description": "The trip being quoted: a price multiplier and a threshold", "tags": {"team": "pricing"}},
    {"name": "session_context", "schema": [["weight", "Float64"], ["cutoff", "Float64"]],
     "description": "The app session: a weight and a cutoff chosen by the client", "tags": {"team": "growth"}},
    {"name": "quote_context", "schema": [["factor", "Float64"], ["limit", "Float64"]],
     "description": "A quote's scaling factor and limit", "tags": {"team": "marketplace"}},
]
MATERIALIZED = 6
"""Views materialized into the online store (5 plain ones, the first aggregate view)."""

MODULE = '''\
"""Definitions of a large repo, read from big_repo.json (written by tests/ui/big_repo.py)."""

import json
from datetime import timedelta
from pathlib import Path

import polars as pl

from featurestore import (
    AggregateView,
    Aggregation,
    Entity,
    FeatureService,
    FeatureView,
    Field,
    OnDemandFeatureView,
    ParquetSource,
    PushSource,
    RequestSource,
    types,
)

SPEC = json.loads((Path(__file__).parent / "big_repo.json").read_text())


def row_score(row: dict) -> dict:
    """The sum of the row's numbers, and whether every input is known."""
    numbers = [float(v) for v in row.values() if isinstance(v, int | float) and not isinstance(v, bool)]
    return {"row_score": sum(numbers) if numbers else None,
            "row_complete": all(v is not None for v in row.values()),
            "row_nulls": sum(1 for v in row.values() if v is None)}


def _fields(pairs):
    return [Field(name=n, dtype=getattr(types, t)) for n, t in pairs]


def _expression(e):
    col = pl.col(e["col"])
    if e["op"] == "scale":
        return col.cast(pl.Float64) * pl.col(e["arg"])
    if e["op"] == "over":
        return col.cast(pl.Float64) > pl.col(e["arg"])
    if e["op"] == "floor":
        return col.cast(pl.Float64).floor().cast(pl.Int64)
    return col + 1


entities = {e["name"]: Entity(**e) for e in SPEC["entities"]}
sources = {}
for s in SPEC["sources"]:
    batch = ParquetSource(name=s["name"], path=s["path"], timestamp_field="event_timestamp",
                          created_timestamp_field="created", description=s["description"])
    sources[s["name"]] = (PushSource(name=s["push"], batch_source=batch, description=f"Rows pushed to {s['name']}")
                          if s.get("push") else batch)
requests = {r["name"]: RequestSource(name=r["name"], schema=_fields(r["schema"]), description=r["description"],
                                     tags=r["tags"]) for r in SPEC["request_sources"]}
views = {}
for v in SPEC["views"]:
    common = {"name": v["name"], "description": v["description"], "owner": v["owner"], "tags": v["tags"]}
    if v["kind"] == "feature_view":
        views[v["name"]] = FeatureView(
            **common, entities=[entities[e] for e in v["entities"]], schema=_fields(v["features"]),
            source=sources[v["source"]], ttl=timedelta(hours=v["ttl_hours"]) if v["ttl_hours"] else None)
    elif v["kind"] == "aggregate_view":
        views[v["name"]] = AggregateView(
            **common, entities=[entities[e] for e in v["entities"]], source=sources[v["source"]],
            aggregations=[Aggregation(**a) for a in v["aggregations"]])
    elif v["mode"] == "python":
        views[v["name"]] = OnDemandFeatureView(
            **common, sources=[views[v["view"]][v["inputs"]], requests[v["request"]]],
            schema=_fields(v["features"]), udf=row_score)
    else:
        views[v["name"]] = OnDemandFeatureView(
            **common, sources=[views[v["view"]][v["inputs"]], requests[v["request"]]],
            schema=_fields(v["features"]), expressions={e["out"]: _expression(e) for e in v["expressions"]})
services = {s["name"]: FeatureService(
    name=s["name"], description=s["description"], owner=s["owner"], tags=s["tags"],
    features=[views[p["view"]][p["features"]] if p["features"] else views[p["view"]] for p in s["parts"]])
    for s in SPEC["services"]}

# apply registers the module-level objects
globals().update({f"entity_{k}": v for k, v in entities.items()})
globals().update({f"view_{k}": v for k, v in views.items()})
globals().update({f"service_{k}": v for k, v in services.items()})
'''


def unique_word(index: int) -> str:
    """The word of view ``index``'s description found nowhere else: ``zq`` and three letters."""
    a, rest = divmod(index, 26 * 26)
    b, c = divmod(rest, 26)
    return "zq" + "".join(chr(ord("a") + i) for i in (a, b, c))


def _keys(group: tuple[str, ...]) -> list[str]:
    by_name = {e["name"]: e for e in ENTITIES}
    return [k for e in group for k in by_name[e]["join_keys"]]


def _sources(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for i in range(20):
        group = KEY_GROUPS[i % len(KEY_GROUPS)]
        topic = TOPICS[i % len(TOPICS)]
        out.append({"name": f"src_{i:02d}", "path": f"data/src_{i:02d}.parquet", "entities": list(group),
                    "keys": _keys(group), "rows": rng.choice([2000, 2500, 3000, 3600]),
                    "push": f"src_{i:02d}_push" if i in (0, 1) else None,
                    "description": f"{topic.capitalize()} events per {' and '.join(group)}, "
                                   f"exported {rng.choice(CADENCES)} from the {topic} pipeline"})
    return out


def _tags(rng: random.Random, topic: str) -> dict[str, str]:
    return {"team": rng.choice(TEAMS), "topic": topic, "tier": rng.choice(["gold", "silver", "bronze"])}


def _plain(rng: random.Random, i: int, source: dict[str, Any]) -> dict[str, Any]:
    types = rng.sample(list(COLUMNS), rng.choice([2, 3, 4]))
    n = rng.randint(max(3, len(types)), 8)
    cols = [rng.choice(COLUMNS[t]) for t in types]
    pool = [c for t in COLUMNS for c in COLUMNS[t] if c not in cols]
    cols += rng.sample(pool, n - len(cols))
    topic = rng.choice(TOPICS)
    cadence = rng.choice(CADENCES)
    return {"name": f"{topic}_{cadence}_{i:03d}", "kind": "feature_view", "source": source["name"],
            "entities": source["entities"], "features": [[c, TYPE_OF[c]] for c in cols],
            "ttl_hours": rng.choice([None, 6, 24, 48, 24 * 7, 24 * 30]),
            "description": f"{cadence.capitalize()} {topic} features of the {' and '.join(source['entities'])} "
                           f"from {source['name']} ({unique_word(i)})",
            "owner": rng.choice(OWNERS), "tags": _tags(rng, topic)}


def _aggregate(rng: random.Random, i: int, source: dict[str, Any]) -> dict[str, Any]:
    candidates = [
        {"function": "count", "windows": ["1h", "1d"]},
        {"function": "sum", "column": rng.choice(COLUMNS["Float64"]), "windows": ["1d", "7d"]},
        {"function": "mean", "column": rng.choice(COLUMNS["Float64"]), "windows": ["7d"]},
        {"function": "max", "column": rng.choice(COLUMNS["Int64"]), "windows": ["1d"]},
        {"function": "count_distinct", "column": rng.choice(COLUMNS["String"]), "windows": ["7d"]},
        {"function": "min", "column": rng.choice(COLUMNS["Float64"]), "windows": ["1d"],
         "where": f"{rng.choice(COLUMNS['Bool'])}", "name": "flagged_min_1d"},
    ]
    aggs = [candidates[0], *rng.sample(candidates[1:], rng.randint(1, len(candidates) - 1))]
    while sum(len(a.get("windows") or [None]) for a in aggs) > 8:
        aggs.pop()
    topic = rng.choice(TOPICS)
    return {"name": f"{topic}_windows_{i:03d}", "kind": "aggregate_view", "source": source["name"],
            "entities": source["entities"], "aggregations": aggs,
            "description": f"Windowed {topic} aggregates of the {' and '.join(source['entities'])} over "
                           f"{source['name']} ({unique_word(i)})",
            "owner": rng.choice(OWNERS), "tags": _tags(rng, topic)}


def _on_demand(rng: random.Random, i: int, upstream: dict[str, Any]) -> dict[str, Any]:
    request = rng.choice(REQUEST_SOURCES)
    fields = [f for f, _ in request["schema"]]
    numeric = [c for c, t in upstream["features"] if t in ("Float64", "Int64")]
    ints = [c for c, t in upstream["features"] if t == "Int64"]
    inputs = rng.sample(numeric, min(len(numeric), rng.randint(1, 3))) if numeric else [upstream["features"][0][0]]
    topic = rng.choice(TOPICS)
    common = {"name": f"{topic}_quote_{i:03d}", "kind": "on_demand_feature_view", "view": upstream["name"],
              "inputs": inputs, "request": request["name"], "owner": rng.choice(OWNERS), "tags": _tags(rng, topic),
              "description": f"{topic.capitalize()} scores computed per request from {upstream['name']} and "
                             f"{request['name']} ({unique_word(i)})"}
    if i % 5 == 0 or not numeric:
        return {**common, "mode": "python",
                "features": [["row_score", "Float64"], ["row_complete", "Bool"], ["row_nulls", "Int64"]]}
    exprs = []
    for j, c in enumerate(inputs):
        exprs.append({"out": f"{c}_scaled", "op": "scale", "col": c, "arg": fields[0]})
        exprs.append({"out": f"{c}_over", "op": "over", "col": c, "arg": fields[1]})
        if c in ints:
            exprs.append({"out": f"{c}_next", "op": "next", "col": c, "arg": None})
        elif j == 0:
            exprs.append({"out": f"{c}_floor", "op": "floor", "col": c, "arg": None})
    types = {"scale": "Float64", "over": "Bool", "next": "Int64", "floor": "Int64"}
    return {**common, "mode": "polars", "expressions": exprs[:8],
            "features": [[e["out"], types[e["op"]]] for e in exprs[:8]]}


def _part(rng: random.Random, view: dict[str, Any]) -> dict[str, Any]:
    names = ([c for c, _ in view["features"]] if view["kind"] != "aggregate_view" else None)
    if names and len(names) > 2 and rng.random() < 0.5:
        return {"view": view["name"], "features": rng.sample(names, rng.randint(1, len(names) - 1))}
    return {"view": view["name"], "features": None}


def _service(rng: random.Random, i: int, pool: list[dict[str, Any]]) -> dict[str, Any]:
    chosen = rng.sample(pool, rng.randint(2, 5))
    topic = rng.choice(TOPICS)
    return {"name": f"{topic}_model_{i:02d}", "parts": [_part(rng, v) for v in chosen],
            "description": f"Features of the {topic} model number {i}", "owner": rng.choice(OWNERS),
            "tags": {**_tags(rng, topic), "stage": rng.choice(["production", "staging", "experiment"])}}


def spec(views: int = 500, seed: int = 0) -> dict[str, Any]:
    """The final definitions (registry version 4) as JSON-ready data, the same for the same arguments."""
    rng = random.Random(seed)
    sources = _sources(rng)
    n_agg = n_odfv = max(1, views // 10)
    n_plain = views - n_agg - n_odfv
    if views < 40:
        raise ValueError(f"views={views}: at least 40 views are needed")
    plain = [_plain(rng, i, sources[i % len(sources)]) for i in range(n_plain)]
    aggs = [_aggregate(rng, n_plain + j, sources[(3 * j) % len(sources)]) for j in range(n_agg)]
    early = plain[:-3]  # the last 3 views come in version 2: no other object uses them
    odfvs = [_on_demand(rng, n_plain + n_agg + j, rng.choice(early)) for j in range(n_odfv)]
    services = [_service(rng, i, early + aggs + odfvs) for i in range(50)]
    services += _training_services(plain)
    late = plain[-3:]
    services.append({"name": "late_additions", "parts": [{"view": v["name"], "features": None} for v in late],
                     "description": "The views added in registry version 2", "owner": "ml-platform@example.com",
                     "tags": {"team": "ml-platform", "stage": "experiment"}})
    return {"seed": seed, "entities": copy.deepcopy(ENTITIES), "sources": sources,
            "request_sources": copy.deepcopy(REQUEST_SOURCES), "views": plain + aggs + odfvs, "services": services}


def _training_services(plain: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for entity in ("driver", "customer"):
        views = [v for v in plain[:-3] if v["entities"] == [entity]][:4]
        out.append({"name": f"{entity}_training", "parts": [{"view": v["name"], "features": None} for v in views],
                    "description": f"The {entity} model's training features", "owner": "ml-platform@example.com",
                    "tags": {"team": "ml-platform", "stage": "production"}})
    return out


def versions(final: dict[str, Any]) -> list[dict[str, Any]]:
    """The spec of registry versions 1 to 4 (the last is ``final``), built backwards from it: v2 adds the last 3
    feature views (and ``late_additions`` over them) and rewords 2 views; v3 changes the ttl of 3 views and the tags
    of the entity ``merchant`` (so every view keyed by it changes too); v4 removes the service ``retired_model`` and
    adds the 50th random service."""
    plain = [v["name"] for v in final["views"] if v["kind"] == "feature_view"]
    v3 = copy.deepcopy(final)
    added = final["services"][49]["name"]
    v3["services"] = [s for s in v3["services"] if s["name"] != added]
    v3["services"].append({"name": "retired_model", "parts": [{"view": plain[0], "features": None}],
                           "description": "A model retired in version 4", "owner": "ml-platform@example.com",
                           "tags": {"team": "ml-platform", "stage": "retired"}})
    v2 = copy.deepcopy(v3)
    for v in v2["views"]:
        if v["name"] in plain[20:23]:
            v["ttl_hours"] = 12 if v["ttl_hours"] != 12 else 36
    merchant = next(e for e in v2["entities"] if e["name"] == "merchant")
    merchant["tags"] = {**merchant["tags"], "reviewed": "no"}
    v1 = copy.deepcopy(v2)
    v1["views"] = [v for v in v1["views"] if v["name"] not in plain[-3:]]
    v1["services"] = [s for s in v1["services"] if s["name"] != "late_additions"]
    for v in v1["views"]:
        if v["name"] in plain[10:12]:
            v["description"] = v["description"].replace(" features ", " signals ", 1)
    return [v1, v2, v3, final]


def _column(rng: np.random.Generator, name: str, n: int) -> pa.Array:
    kind = TYPE_OF[name]
    if kind == "Float64":
        values = rng.gamma(2.0, 1.5, n) if name in ("amount", "balance", "latency") else rng.random(n)
        mask = rng.random(n) < 0.02  # a few nulls
        return pa.array(np.round(values, 4), pa.float64(), mask=mask)
    if kind == "Int64":
        return pa.array(rng.poisson(5 + len(name), n), pa.int64())
    if kind == "String":
        cats = CATEGORIES[name]
        return pa.array([cats[i] for i in rng.integers(0, len(cats), n)], pa.string())
    return pa.array(rng.random(n) < 0.3, pa.bool_())


def _key_column(rng: np.random.Generator, key: str, n: int) -> pa.Array:
    values = rng.integers(0, KEY_VALUES[key], n)
    if key in ("zone_id", "origin_zone", "dest_zone"):
        return pa.array([f"z{v:02d}" for v in values], pa.string())
    return pa.array(values + 1, pa.int64())


def write_data(folder: Path, the_spec: dict[str, Any]) -> None:
    """The Parquet file of every source (seeded by the spec's seed and the source's position)."""
    (folder / "data").mkdir(parents=True, exist_ok=True)
    start_us = int((END - timedelta(days=DAYS)).timestamp() * 1_000_000)
    span_us = DAYS * 86_400 * 1_000_000
    for i, s in enumerate(the_spec["sources"]):
        rng = np.random.default_rng([the_spec["seed"], i])
        n = s["rows"]
        columns: dict[str, pa.Array] = {k: _key_column(rng, k, n) for k in s["keys"]}
        event = np.sort(rng.integers(start_us, start_us + span_us, n))
        columns["event_timestamp"] = pa.array(event, pa.int64()).cast(TS)
        columns["created"] = pa.array(event + rng.integers(0, 600_000_000, n), pa.int64()).cast(TS)
        for name in TYPE_OF:
            columns[name] = _column(rng, name, n)
        pq.write_table(pa.table(columns), folder / s["path"])


def write_definitions(folder: Path, the_spec: dict[str, Any]) -> None:
    (folder / SPEC_FILE).write_text(json.dumps(the_spec, indent=1) + "\n")
    (folder / "features.py").write_text(MODULE)


def defined(folder: Path) -> dict[tuple[str, str], Any]:
    """The objects the repo's module defines now, by ``(type, name)`` (the module run as ``apply`` runs it)."""
    kinds = (Entity, FeatureView, AggregateView, OnDemandFeatureView, FeatureService)
    found = runpy.run_path(str(folder / "features.py"))
    return {(type(o).__name__, o.name): o for o in found.values() if isinstance(o, kinds)}


def load_spec(folder: Path) -> dict[str, Any]:
    """The definitions applied last (``big_repo.json`` of the repo)."""
    found: dict[str, Any] = json.loads((folder / SPEC_FILE).read_text())
    return found


def entity_rows(the_spec: dict[str, Any], entity: str, n: int = 300) -> pa.Table:
    """``n`` seeded entity rows of ``entity`` within the data's time range."""
    key = next(e["join_keys"][0] for e in the_spec["entities"] if e["name"] == entity)
    rng = np.random.default_rng([the_spec["seed"], 99, len(entity)])
    start_us = int((END - timedelta(days=DAYS - 1)).timestamp() * 1_000_000)
    times = rng.integers(start_us, int(END.timestamp() * 1_000_000), n)
    return pa.table({key: _key_column(rng, key, n), "event_timestamp": pa.array(times, pa.int64()).cast(TS)})


def make_big_repo(path: Path, views: int = 500, seed: int = 0) -> Path:
    """Write, apply (registry versions 1 to 4), materialize and train the repo described in the module docstring
    at ``path`` (created; must not hold a repo yet); returns ``path``."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    final = spec(views, seed)
    (path / "featurestore.yaml").write_text(
        "# A large repo generated by tests/ui/big_repo.py\nproject: big_registry\nregistry: data/registry.json\n"
        "online_store:\n  type: sqlite\n  path: data/online.db\noffline_store:\n  type: duckdb\n")
    write_data(path, final)
    store = FeatureStore(repo_path=path)
    try:
        before: dict[tuple[str, str], Any] = {}
        for number, version in enumerate(versions(final)):
            write_definitions(path, version)
            now = defined(path)
            if number == 0:
                store.apply()  # every definition module of the repo
            else:  # only what changed (a full apply re-checks all 500 views against their sources: ~3 s)
                changed = [o for key, o in now.items() if key not in before or before[key].to_dict() != o.to_dict()]
                store.apply(changed, objects_to_delete=[o for key, o in before.items() if key not in now])
            before = now
        plain = [v["name"] for v in final["views"] if v["kind"] == "feature_view"]
        first_agg = next(v["name"] for v in final["views"] if v["kind"] == "aggregate_view")
        store.materialize(END - timedelta(days=DAYS), END, [*plain[:MATERIALIZED - 1], first_agg])
        for entity in ("driver", "customer"):
            store.create_training_set(f"{entity}_training", entity_rows(final, entity),
                                      store.get_feature_service(f"{entity}_training"), full_feature_names=True)
    finally:
        store.close()
    return path
