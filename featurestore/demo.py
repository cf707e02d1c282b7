"""The end-to-end demo behind ``make demo``: ``python -m featurestore.demo [REPO]``.

Steps, each a small function:

1. ``generate_data``  write the deterministic sample data into ``REPO/data``
2. ``apply_repo``     register the repo's definitions (prints the plan)
3. ``training_set``   a point-in-time-correct training set for the ``trip_model`` service
4. ``online_lookup``  materialize into the online store, then look up three drivers online
5. ``where_things_are``  the files used, and commands to try next

Every step takes the :class:`FeatureStore`; :data:`STEPS` lists them in order.

REPO defaults to ``definitions`` (the example repo). Exit code 1 with
``Error: <message>`` on a FeatureStoreError.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from featurestore import sample_data
from featurestore.errors import FeatureStoreError
from featurestore.online_response import OnlineResponse
from featurestore.plan import Plan
from featurestore.store import FeatureStore

SERVICE = "trip_model"


def heading(text: str) -> None:
    print(f"\n=== {text} ===")


def generate_data(store: FeatureStore) -> list[Path]:
    """Step 1: the sample Parquet and CSV files of the example repo."""
    heading("1. Sample data")
    files = sample_data.write(store.repo_path)
    for path in files:
        print(f"wrote {path}")
    return files


def apply_repo(store: FeatureStore) -> Plan:
    """Step 2: validate and register the definitions (a no-op when nothing changed)."""
    heading(f"2. Apply the definitions of {store.repo_path}")
    plan = store.apply()
    print(plan)
    print(f"registry version {store.state().version}")
    return plan


def format_table(table: pa.Table) -> str:
    """A training set as readable text (pandas when installed, else Arrow's own rendering)."""
    try:
        import pandas as pd
    except ImportError:
        return table.to_string(preview_cols=len(table.column_names))
    with pd.option_context("display.width", 200, "display.max_columns", None):
        return str(table.to_pandas().to_string(index=False))


def training_set(store: FeatureStore, service: str = SERVICE) -> pa.Table:
    """Step 3: features of ``service`` joined point-in-time-correctly onto a small entity frame."""
    heading(f"3. Training set for feature service {service!r}")
    entities = sample_data.entity_frame()
    print(f"entity frame: {entities.num_rows} rows, columns {entities.column_names}")
    features = store.get_feature_service(service)
    print(f"features: {', '.join(features.refs())}")
    result = store.get_historical_features(entities, features=features).to_arrow()
    print(f"training set: {result.num_rows} rows, columns {result.column_names}\n")
    print(format_table(result))
    return result


ONLINE_FEATURES = ["driver_stats:conv_rate", "driver_stats:acc_rate", "driver_stats:avg_daily_trips"]
ONLINE_DRIVERS = [1001, 1002, 1003]


def _show(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def online_lookup(store: FeatureStore) -> OnlineResponse:
    """Step 4: materialize every online view up to now, then read three drivers' latest values."""
    heading("4. Materialize into the online store and look up features online")
    for result in store.materialize_incremental(datetime.now(UTC)):
        print(f"materialized {result.view}: {result.rows} entity rows in {result.seconds:.2f}s")
    resp = store.get_online_features(ONLINE_FEATURES, [{"driver_id": d} for d in ONLINE_DRIVERS])
    print(f"\nget_online_features({ONLINE_FEATURES}, drivers {ONLINE_DRIVERS}):")
    for name, values in resp.to_dict().items():
        print(f"  {name:<16} {', '.join(_show(v) for v in values)}")
    print("statuses:")
    for name, statuses in resp.statuses.items():
        print(f"  {name:<16} {', '.join(statuses)}")
    return resp


def where_things_are(store: FeatureStore) -> None:
    """Last step: the files the demo used and what to try next."""
    heading("Where things are")
    repo = store.repo_path
    print(f"definitions:  {repo}/*.py and {repo / 'featurestore.yaml'}")
    print(f"sample data:  {repo / 'data'}")
    print(f"registry:     {store.registry.path}")
    print("next:")
    print(f"  featurestore --repo {repo} list feature-views")
    print(f"  featurestore --repo {repo} describe feature-service {SERVICE}")
    print(f"  featurestore --repo {repo} history")
    print(f"  featurestore --repo {repo} get-online driver_stats:conv_rate --entity driver_id=1001")


STEPS: list[Callable[[FeatureStore], Any]] = [
    generate_data,
    apply_repo,
    training_set,
    online_lookup,
    where_things_are,
]
"""The demo's steps, in order."""


def run(repo: Path) -> None:
    """Open the repo (its featurestore.yaml must exist) and run every step."""
    store = FeatureStore(repo_path=repo)
    for step in STEPS:
        step(store)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m featurestore.demo",
                                     description="The featurestore end-to-end demo.")
    parser.add_argument("repo", nargs="?", default="definitions", type=Path,
                        help="the feature repo folder (default: definitions)")
    args = parser.parse_args(argv)
    try:
        run(args.repo)
    except FeatureStoreError as err:
        print(f"Error: {err.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
