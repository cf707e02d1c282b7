"""The Feast side of the benchmark, one workload per fresh process, run with Feast's own venv.

``.venv-feast/bin/python bench/feast_workload.py <command> ...``: imports only the standard library, Feast and
what Feast installs (pandas, pyarrow, redis), never ``featurestore`` or ``bench``. Each command prints one JSON
object on the last line of stdout; Feast's own prints and logs go to stderr. DATA is a folder made by
``bench.data`` (``source.parquet``, ``entity.parquet``, ``meta.json``); WORK is the Feast feature repo.

- ``setup --data DATA --work WORK --redis-url URL``: write ``feature_store.yaml`` (project ``bench``, provider
  local, file registry in WORK, Redis online store, the default offline store a ``feast init`` repo gets: ``dask``)
  and ``feature_store.duckdb.yaml`` (the same with ``offline_store: {type: duckdb}``, Feast's DuckDB store over
  ibis, from ``feast[duckdb]``), and apply entity ``driver`` and views ``stats`` (ttl 7 days) and ``stats_live``
  (ttl 0 = unlimited) over a FileSource on ``source.parquet``.
- ``training-set --data DATA --work WORK [--offline-store dask|duckdb] [--warm]``: time
  ``get_historical_features(entity_df, stats:f0..f9).to_arrow()`` on that offline store (default ``dask``);
  ``--warm``: then time the same call again in the same process (``warm_seconds``; peak RSS taken before it).
- ``materialize --work WORK``: time ``materialize`` of ``stats_live`` from 2025-12-31 to now into Redis.
- ``lookup --work WORK --entities N --iterations I [--warmup W]``: latency of ``get_online_features`` of
  ``stats_live:f0..f9`` for N entities per call, ids cycling over all existing drivers.
- ``online-ttl --work WORK``: materialize ``stats`` (ttl 7 days; all its rows are older) and count the values
  a lookup of 100 drivers still serves (a ttl enforced online serves none).
- ``serve --work WORK --port P``: ``feast serve`` (HTTP, one worker, no access log) on 127.0.0.1:P in the
  foreground (replaces this process).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

FEATURES = [f"f{i}" for i in range(10)]
WORK_META = "bench_data.json"  # written by setup: which DATA folder the repo reads
OFFLINE_STORES = ("dask", "duckdb")  # Feast's local offline stores: its default, and its fastest
MATERIALIZE_START = datetime(2025, 12, 31, tzinfo=UTC)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def redis_connection_string(url: str) -> str:
    """``redis://[:password@]host:port/db`` -> Feast's ``host:port,db=N[,password=...][,ssl=true]``."""
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss"):
        raise SystemExit(f"not a redis:// URL: {url}")
    parts = [f"{parsed.hostname or 'localhost'}:{parsed.port or 6379}", f"db={int(parsed.path.strip('/') or 0)}"]
    if parsed.username:
        parts.append(f"username={unquote(parsed.username)}")
    if parsed.password:
        parts.append(f"password={unquote(parsed.password)}")
    if parsed.scheme == "rediss":
        parts.append("ssl=true")
    return ",".join(parts)


def data_dir(work: Path) -> Path:
    return Path(json.loads((work / WORK_META).read_text())["data"])


def yaml_file(work: Path, offline_store: str) -> Path:
    """The repo's config for ``offline_store``: ``feature_store.yaml`` (dask) or ``feature_store.<store>.yaml``."""
    return work / ("feature_store.yaml" if offline_store == "dask" else f"feature_store.{offline_store}.yaml")


def open_store(work: Path, offline_store: str = "dask") -> Any:
    from feast import FeatureStore

    store = FeatureStore(repo_path=str(work), fs_yaml_file=yaml_file(work, offline_store))
    if store.config.offline_store.type != offline_store:
        raise SystemExit(f"{yaml_file(work, offline_store)} configures {store.config.offline_store.type!r}, "
                         f"not {offline_store!r}")
    return store


def setup(args: argparse.Namespace) -> dict[str, Any]:
    import feast
    from feast import Entity, FeatureView, Field, FileSource, ValueType
    from feast.types import Float32

    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    (work / "registry.db").unlink(missing_ok=True)  # a fresh registry on every setup
    common = ("project: bench\n"
              f"registry: {json.dumps(str(work / 'registry.db'))}\n"
              "provider: local\n"
              "online_store:\n"
              "  type: redis\n"
              f"  connection_string: {json.dumps(redis_connection_string(args.redis_url))}\n"
              "entity_key_serialization_version: 3\n")
    # No offline_store section: what `feast init` writes, so Feast uses its default local offline store (dask).
    yaml_file(work, "dask").write_text(common)
    # The same repo (same registry and online store) on Feast's DuckDB offline store, for training sets only.
    yaml_file(work, "duckdb").write_text(common + "offline_store:\n  type: duckdb\n")
    (work / WORK_META).write_text(json.dumps({"data": str(args.data)}))
    driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64)
    source = FileSource(name="source", path=str(args.data / "source.parquet"), timestamp_field="event_timestamp",
                        created_timestamp_column="created")
    schema = [Field(name=f, dtype=Float32) for f in FEATURES]
    stats = FeatureView(name="stats", entities=[driver], ttl=timedelta(days=7), schema=schema, source=source)
    stats_live = FeatureView(name="stats_live", entities=[driver], ttl=timedelta(0), schema=schema, source=source)
    store = open_store(work)
    store.apply([driver, stats, stats_live])
    offline = store.config.offline_store
    return {"feast_version": feast.__version__, "offline_store": offline.type,
            "offline_stores": list(OFFLINE_STORES), "online_store": store.config.online_store.type}


def key_columns(table: Any) -> Any:
    """The (driver_id, event_timestamp) columns as int64 / timestamp[us, UTC], to compare row order."""
    import pyarrow as pa

    return pa.table({"driver_id": table["driver_id"].cast(pa.int64()),
                     "event_timestamp": table["event_timestamp"].cast(pa.timestamp("us", tz="UTC"))})


def training_set(args: argparse.Namespace) -> dict[str, Any]:
    import pandas as pd
    import pyarrow as pa

    if args.data != data_dir(args.work):
        raise SystemExit(f"{args.work} was set up over {data_dir(args.work)}, not {args.data}: run setup first")
    store = open_store(args.work, args.offline_store)
    entity_df = pd.read_parquet(args.data / "entity.parquet")
    refs = [f"stats:{f}" for f in FEATURES]
    t0 = time.perf_counter()
    table = store.get_historical_features(entity_df=entity_df, features=refs).to_arrow()
    seconds = time.perf_counter() - t0
    order_kept = key_columns(table).equals(key_columns(pa.Table.from_pandas(entity_df, preserve_index=False)))
    out = {"seconds": seconds, "rows": table.num_rows, "rows_in": len(entity_df), "order_kept": order_kept,
           "null_f0": table.column("f0").null_count, "offline_store": store.config.offline_store.type,
           "peak_rss_mb": peak_rss_mb()}
    if args.warm:
        del table
        t0 = time.perf_counter()
        store.get_historical_features(entity_df=entity_df, features=refs).to_arrow()
        out["warm_seconds"] = time.perf_counter() - t0
    return out


def distinct_drivers(source: Path, start: datetime, end: datetime) -> int:
    """Entity keys materialize writes: distinct driver_id with an event in [start, end)."""
    import pyarrow.dataset as ds

    ts = ds.field("event_timestamp")
    table = ds.dataset(source).to_table(columns=["driver_id"], filter=(ts >= start) & (ts < end))
    return len(table["driver_id"].unique())


def materialize(args: argparse.Namespace) -> dict[str, Any]:
    store = open_store(args.work)
    end = datetime.now(UTC)
    t0 = time.perf_counter()
    store.materialize(start_date=MATERIALIZE_START, end_date=end, feature_views=["stats_live"])
    seconds = time.perf_counter() - t0
    entities = distinct_drivers(data_dir(args.work) / "source.parquet", MATERIALIZE_START, end)
    return {"seconds": seconds, "entities": entities, "peak_rss_mb": peak_rss_mb()}


def online_ttl(args: argparse.Namespace) -> dict[str, Any]:
    """Materialize ``stats`` (ttl 7 days, every row older than that) and count the values a lookup still serves."""
    store = open_store(args.work)
    store.materialize(start_date=MATERIALIZE_START, end_date=datetime.now(UTC), feature_views=["stats"])
    rows = [{"driver_id": i} for i in range(100)]
    values = store.get_online_features(features=["stats:f0"], entity_rows=rows).to_dict()["f0"]
    return {"asked": len(rows), "values_served": sum(v is not None for v in values)}


def percentiles(seconds: list[float]) -> dict[str, Any]:
    ordered = sorted(seconds)
    return {"p50_ms": ordered[len(ordered) // 2] * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, "n": len(ordered)}


def lookup(args: argparse.Namespace) -> dict[str, Any]:
    store = open_store(args.work)
    entities = int(json.loads((data_dir(args.work) / "meta.json").read_text())["entities"])
    refs = [f"stats_live:{f}" for f in FEATURES]
    size = args.entities

    def rows(call: int) -> list[dict[str, int]]:
        return [{"driver_id": (call * size + k) % entities} for k in range(size)]

    def get(entity_rows: list[dict[str, int]]) -> dict[str, Any]:
        return store.get_online_features(features=refs, entity_rows=entity_rows).to_dict()

    check = get(rows(0))
    missing = [f for f in FEATURES if any(v is None for v in check[f])]
    if missing:
        raise SystemExit(f"lookup got nulls for {missing} (run materialize first)")
    for i in range(args.warmup):
        get(rows(i))
    times = []
    for i in range(args.warmup, args.warmup + args.iterations):
        batch = rows(i)
        t0 = time.perf_counter()
        get(batch)
        times.append(time.perf_counter() - t0)
    return {**percentiles(times), "entities": size}


def serve_argv(work: Path, port: int) -> list[str]:
    """`feast serve`, one gunicorn+uvicorn worker; --max-requests 0: no worker recycling mid-benchmark."""
    feast_cli = str(Path(sys.executable).parent / "feast")
    return [feast_cli, "--chdir", str(work), "--log-level", "warning", "serve", "--type", "http",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--no-access-log",
            "--max-requests", "0", "--keep-alive-timeout", "30"]


def serve(args: argparse.Namespace) -> dict[str, Any]:
    argv = serve_argv(args.work, args.port)
    print(json.dumps({"exec": argv}), flush=True)
    os.execv(argv[0], argv)
    raise AssertionError("unreachable")


COMMANDS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "setup": setup, "training-set": training_set, "materialize": materialize, "lookup": lookup, "serve": serve,
    "online-ttl": online_ttl}


def main(argv: list[str] | None = None) -> None:
    # bench/ is sys.path[0] when run as a script: keep its modules from shadowing the standard library's or Feast's
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    p = argparse.ArgumentParser(prog="feast_workload.py", description=__doc__.splitlines()[0])
    p.add_argument("command", choices=sorted(COMMANDS))
    p.add_argument("--data", type=Path, help="data folder made by bench.data (setup, training-set)")
    p.add_argument("--work", type=Path, required=True, help="the Feast feature repo")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--entities", type=int, default=1)
    p.add_argument("--iterations", type=int, default=2000)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--port", type=int, default=6566)
    p.add_argument("--warm", action="store_true", help="training-set: time a second call in the same process too")
    p.add_argument("--offline-store", choices=OFFLINE_STORES, default="dask",
                   help="Feast offline store of the training set (materialize and the rest use dask, the default)")
    args = p.parse_args(argv)
    args.work = args.work.resolve()
    if args.data is not None:
        args.data = args.data.resolve()
    elif args.command in ("setup", "training-set"):
        p.error(f"{args.command} needs --data")
    with contextlib.redirect_stdout(sys.stderr) if args.command != "serve" else contextlib.nullcontext():
        result = COMMANDS[args.command](args)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
