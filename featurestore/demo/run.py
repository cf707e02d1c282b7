"""The end-to-end demo behind ``make demo``: ``python -m featurestore.demo [REPO] [--redis-url URL]``.

Steps, each a small function of the :class:`FeatureStore` (:data:`STEPS` lists them in order):

1. ``generate_data``     write the deterministic sample data into ``REPO/data``
2. ``apply_repo``        register the repo's definitions (prints the plan)
3. ``training_set``      a point-in-time-correct training set for the ``trip_model`` service (and the
                         on-demand ``trip_quote`` and the windowed aggregates of ``card_risk``)
4. ``online_lookup``     materialize into the online store, then look up three drivers in-process, and a
                         card's aggregates before and after pushing a transaction
5. ``monitoring``       a push that breaks ``driver_stats``' expectations refused (nothing written), a dry-run
                         validation, freshness, a drift report between two periods (text and HTML) and the
                         consistency of logged lookups (``featurestore/demo/monitoring.py``)
6. ``training``          a versioned training set with an ``as_of`` cutoff, a late row landing after it, the set
                         re-created identically; a transformed view's offline feature table; lineage
                         (``featurestore/demo/training.py``)
7. ``http_lookup``       start ``featurestore serve`` in the background, look up over HTTP (printed
                         as the equivalent ``curl`` command and its JSON answer), stop the server
8. ``where_things_are``  the files used, and commands to try next

Each step is timed; the total is printed at the end. The online store is the repo's
(the example repo: embedded SQLite) or, with ``--redis-url`` (default: ``$REDIS_URL``), Redis at
that URL, for this process and the server it starts (``FEATURESTORE_REDIS_URL``).

REPO defaults to ``definitions`` (the example repo). Exit code 1 with ``Error: <message>`` on a
FeatureStoreError (an unreachable Redis is reported before anything else runs).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from featurestore.config import RepoConfig, load_config
from featurestore.demo import monitoring, sample_data, training
from featurestore.demo.client import DemoError, curl_command, format_json, get_json, post_json, serving
from featurestore.errors import FeatureStoreError
from featurestore.online.factory import describe_online_store, online_store_env
from featurestore.online.response import OnlineResponse
from featurestore.registry.plan import Plan
from featurestore.store import FeatureStore

SERVICE = "trip_model"
WIDTH = 100


def wrapped(text: str, indent: str = "  ") -> str:
    return textwrap.fill(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_on_hyphens=False)


def _relative(store: FeatureStore, path: Path) -> str:
    return str(path.relative_to(store.repo_path)) if path.is_relative_to(store.repo_path) else str(path)


def generate_data(store: FeatureStore) -> list[Path]:
    """Step 1: the sample Parquet, CSV and DuckDB files of the example repo."""
    files = sample_data.write(store.repo_path)
    print(f"into {store.repo_path / 'data'}:")
    for path in files:
        print(f"  wrote {_relative(store, path)}")
    return files


def apply_repo(store: FeatureStore) -> Plan:
    """Step 2: validate and register the definitions (a no-op when nothing changed)."""
    print(f"definitions of {store.repo_path}:")
    plan = store.apply()
    print(textwrap.indent(str(plan), "  "))
    print(f"registry version {store.state().version}")
    return plan


def format_table(table: pa.Table) -> str:
    """A training set as readable text, wrapped in blocks of columns (pandas when installed)."""
    try:
        import pandas as pd
    except ImportError:
        return str(table.to_string(preview_cols=len(table.column_names)))
    frame = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)  # ints stay ints beside nulls
    text = frame.to_string(line_width=WIDTH, na_rep="null").replace("<NA>", "null")  # same width
    return "\n".join(line.rstrip(" \\") for line in text.splitlines())


def training_set(store: FeatureStore, service: str = SERVICE) -> pa.Table:
    """Step 3: features of ``service`` joined point-in-time-correctly onto a small entity frame."""
    entities = sample_data.entity_frame()
    features = store.get_feature_service(service)
    print(f"feature service {service!r}:")
    print(wrapped(", ".join(features.refs())))
    print(f"entity frame: {entities.num_rows} trip requests, columns:")
    print(wrapped(", ".join(entities.column_names)))
    result = store.get_historical_features(entities, features=features).to_arrow()
    print(f"training set: {result.num_rows} rows x {result.num_columns} columns; per row and view, the")
    print("latest feature row at or before event_timestamp and within the view's ttl (else null):\n")
    print(format_table(result))
    quote_training_set(store, entities)
    card_training_set(store)
    return result


QUOTE_SERVICE = "trip_quote"
DISTANCES = [12.0, 3.5, 27.0, 8.25, 41.0, 15.5, 2.0, 22.0, 6.75, 30.0]
"""The trips' distances (km): request data of the on-demand views ``eta`` and ``fare``."""


def quote_training_set(store: FeatureStore, entities: pa.Table) -> pa.Table:
    """Step 3, on-demand: ``eta`` (Polars expressions) and ``fare`` (a Python function) over the same rows."""
    n = entities.num_rows
    trips = entities.select(["driver_id", "event_timestamp"]).append_column(
        "distance_km", pa.array((DISTANCES * (n // len(DISTANCES) + 1))[:n], pa.float64()))
    features = store.get_feature_service(QUOTE_SERVICE)
    print(f"\nfeature service {QUOTE_SERVICE!r} (on-demand views eta and fare, computed per row from")
    print("driver_stats and the request's distance_km, a column of the entity frame):")
    print(wrapped(", ".join(features.refs())))
    result = store.get_historical_features(trips, features=features).to_arrow()
    print(format_table(result))
    return result


CARD_SERVICE = "card_risk"
CARD_FEATURES = ["card_txn:count_1h", "card_txn:count_1d", "card_txn:amount_sum_7d", "card_txn:amount_max_1d",
                 "card_txn:merchant_id_count_distinct_7d", "card_txn:declined_amount_7d"]


def card_training_set(store: FeatureStore) -> pa.Table:
    """Step 3, aggregates: windowed counts and sums of each card's transactions before each row's time."""
    features = store.get_feature_service(CARD_SERVICE)
    print(f"\nfeature service {CARD_SERVICE!r} (aggregate view card_txn: per card, its transactions in the window "
          "before each row's time, the end excluded):")
    print(wrapped(", ".join(features.refs())))
    result = store.get_historical_features(sample_data.card_frame(), features=CARD_FEATURES).to_arrow()
    print(format_table(result))
    return result


ONLINE_FEATURES = ["driver_stats:conv_rate", "driver_stats:acc_rate", "driver_stats:avg_daily_trips"]
ONLINE_DRIVERS = [1001, 1002, 1003]


def _show(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def online_lookup(store: FeatureStore) -> OnlineResponse:
    """Step 4: materialize every online view up to now, then read three drivers' latest values."""
    print(f"online store: {describe_online_store(store.config.online_store)}")
    for result in store.materialize_incremental(datetime.now(UTC)):
        print(f"  materialized {result.view}: {result.rows} entity rows in {result.seconds:.2f}s")
    resp = store.get_online_features(ONLINE_FEATURES, [{"driver_id": d} for d in ONLINE_DRIVERS])
    print("\nstore.get_online_features(driver_stats:*, drivers 1001-1003):")
    for name, values in resp.to_dict().items():
        print(f"  {name:<16} {', '.join(_show(v) for v in values)}")
    print("statuses:")
    for name, statuses in resp.statuses.items():
        print(f"  {name:<16} {', '.join(statuses)}")
    card_push(store)
    return resp


PUSH_CARD = sample_data.CARDS[0]


def card_push(store: FeatureStore) -> tuple[int, int]:
    """Step 4, aggregates: a card's aggregates, then a transaction pushed and ``count_1h`` read again."""
    def count() -> tuple[int, Any]:
        answer = store.get_online_features(CARD_FEATURES, [{"card_id": PUSH_CARD}])
        return int(answer.to_dict()["count_1h"][0]), answer

    before, answer = count()
    print(f"\nstore.get_online_features(card_txn:*, card {PUSH_CARD}):")
    for name, values in answer.to_dict().items():
        print(f"  {name:<32} {_show(values[0])}")
    now = store.clock()
    txn = pa.table({"card_id": pa.array([PUSH_CARD], pa.int64()),
                    "event_timestamp": pa.array([now], pa.timestamp("us", tz="UTC")),
                    "amount": [42.5], "merchant_id": ["m99"], "status": ["approved"]})
    result = store.push("txn_push", txn)
    after, _ = count()
    print(f'store.push("txn_push", one transaction of card {PUSH_CARD}): appended offline, '
          f"{result.written} records online")
    print(f"  count_1h of card {PUSH_CARD}: {before} -> {after}")
    return before, after


def server_env(config: RepoConfig) -> dict[str, str]:
    """The environment of the demo's server: this one, plus the online store the demo uses."""
    return {**os.environ, **online_store_env(config.online_store)}


def lookup_request() -> dict[str, Any]:
    """Two trip requests: customers 2001 and 2002, each with their first regular driver."""
    customers = sample_data.CUSTOMERS[:2]
    return {"feature_service": SERVICE, "entities": {
        "driver_id": [sample_data.regulars(c)[0] for c in customers],
        "customer_id": customers,
        "zone_id": sample_data.ZONES[:2],
    }}


def server_log(store: FeatureStore) -> Path:
    return store.repo_path / "data" / "demo-server.log"


def http_lookup(store: FeatureStore) -> dict[str, Any]:
    """Step 5: ``featurestore serve`` in the background, a Feast-compatible lookup, then stop it."""
    body = lookup_request()
    with serving(store.repo_path, server_env(store.config), server_log(store)) as server:
        print(f"started: featurestore serve --port {server.url.rsplit(':', 1)[1]} (pid {server.pid}), "
              f"ready in {server.ready_seconds:.1f}s")
        overview = get_json(f"{server.url}/ui/api")  # the web UI's overview, as JSON
        counts = overview["counts"]
        print(f"web UI at {server.url}/ui: {counts['feature_views']} feature views, "
              f"{counts['aggregate_views']} aggregate, {counts['on_demand_feature_views']} on-demand, "
              f"{counts['feature_services']} services, {counts['training_sets']} training sets; "
              f"{len(overview['stale_views'])} past max_staleness, "
              f"{len(overview['failing_expectations'])} with failing expectations")
        url = f"{server.url}/get-online-features"
        answer = post_json(url, body)
        print(f"\n{curl_command(url, body)}\n")
        print(format_json(answer, width=WIDTH))
        quote = {"feature_service": QUOTE_SERVICE, "entities": {"driver_id": body["entities"]["driver_id"]},
                 "request_context": {"distance_km": DISTANCES[:2]}}
        quote_answer = post_json(url, quote)
        print(f"\non-demand features, request data in request_context:\n{curl_command(url, quote)}\n")
        print(format_json(quote_answer, width=WIDTH))
    print(f"\nstopped the server (pid {server.pid})")
    n_keys = len(body["entities"])
    statuses = [s for result in answer["results"][n_keys:] for s in result["statuses"]]
    counts = {s: statuses.count(s) for s in dict.fromkeys(statuses)}
    print(f"{len(answer['results']) - n_keys} features x {len(body['entities']['driver_id'])} entities: "
          + ", ".join(f"{n} {s}" for s, n in counts.items()))
    return dict(answer)


def where_things_are(store: FeatureStore) -> None:
    """Last step: the files the demo used and what to try next."""
    repo = store.repo_path
    print(f"definitions:  {repo}/*.py and featurestore.yaml")
    print(f"sample data:  {repo / 'data'}")
    print(f"registry:     {store.registry.describe()}")
    print(f"server log:   {server_log(store)}")
    print("next:")
    print(f"  featurestore --repo {repo} list feature-views")
    print(f"  featurestore --repo {repo} describe feature-service {SERVICE}")
    print(f"  featurestore --repo {repo} get-online --service {SERVICE} \\")
    print("      --entity driver_id=1001,customer_id=2001,zone_id=airport")
    print(f"  featurestore --repo {repo} serve     # then open http://127.0.0.1:6566/docs and /ui")
    print(f"  featurestore --repo {repo} ui        # just the web UI: http://127.0.0.1:6567/ui")


STEPS: list[tuple[str, Callable[[FeatureStore], Any]]] = [
    ("Sample data", generate_data),
    ("Apply the definitions", apply_repo),
    ("Point-in-time training set", training_set),
    ("Materialize into the online store and look up in-process", online_lookup),
    ("Data quality and monitoring: expectations, drift, consistency", monitoring.monitoring),
    ("Reproducible training sets, feature tables and lineage", training.training),
    ("Serve over HTTP and look up", http_lookup),
    ("Where things are", where_things_are),
]
"""The demo's steps, in order: (title, function)."""


def open_store(repo: Path, redis_url: str | None) -> FeatureStore:
    """The repo's store; on Redis at ``redis_url`` if given; its online store checked to answer before anything runs."""
    overrides = {"FEATURESTORE_ONLINE_STORE": "redis", "FEATURESTORE_REDIS_URL": redis_url} if redis_url else {}
    store = FeatureStore(repo_path=repo, config=load_config(repo, env={**os.environ, **overrides}))
    try:
        store.online.ping()
    except FeatureStoreError as err:
        store.close()
        hint = "run the demo without REDIS_URL for the embedded store" if redis_url else "check featurestore.yaml"
        raise type(err)(f"{err.message} (start {describe_online_store(store.config.online_store)}, or {hint})",
                        **err.fields) from None
    return store


def run(repo: Path, redis_url: str | None = None) -> float:
    """Open the repo (its featurestore.yaml must exist) and run every step; returns the total seconds."""
    if not all(importlib.util.find_spec(m) for m in ("fastapi", "uvicorn")):
        raise DemoError("the demo's HTTP step needs the 'server' extra: pip install -e '.[server]' "
                        "('make demo' installs it)")
    start = time.perf_counter()
    store = open_store(repo, redis_url)
    timings: list[tuple[str, float]] = []
    try:
        for number, (title, step) in enumerate(STEPS, start=1):
            print(f"\n=== {number}. {title} ===")
            began = time.perf_counter()
            step(store)
            timings.append((title, time.perf_counter() - began))
            print(f"[{timings[-1][1]:.2f}s]")
    finally:
        store.close()
    total = time.perf_counter() - start
    print(f"\n=== Done in {total:.1f}s ===")
    for number, (title, seconds) in enumerate(timings, start=1):
        print(f"  {number}. {title:<58} {seconds:6.2f}s")
    return total


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds like Ctrl-C, so the background server is stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m featurestore.demo",
                                     description="The featurestore end-to-end demo.")
    parser.add_argument("repo", nargs="?", default="definitions", type=Path,
                        help="the feature repo folder (default: definitions)")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or None, metavar="URL",
                        help="use Redis at URL as the online store, e.g. redis://localhost:6379/0 "
                             "(default: $REDIS_URL; unset: the repo's online store)")
    args = parser.parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        run(args.repo, args.redis_url)
    except FeatureStoreError as err:
        print(f"Error: {err.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted; the demo's server (if started) was stopped.", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main())
