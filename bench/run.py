"""``make bench``: every workload on featurestore (and Feast, if installed) at 1x and 10x data.

Settings (environment variables; sizes are in ``bench/data.py``):

=========================  =======  ======================================================
``BENCH_SCALES``           1,10     data scales to run
``BENCH_REPEAT``           3        runs of each timed batch workload at 1x (best kept); 1 above 1x
``BENCH_LOOKUPS``          1000     SDK lookups per case (after 100 unmeasured)
``BENCH_HTTP_SECONDS``     5        seconds per HTTP case (after 1 s of warmup)
``BENCH_HTTP_WARMUP``      1        unmeasured seconds before each HTTP case
``BENCH_CONNECTIONS``      8,16     concurrent connections of the loaded HTTP cases (one case each)
``BENCH_HTTP_CLIENT``      wrk      ``wrk`` (when installed; ``make bench`` installs it) or ``loadgen``
``BENCH_TIMEOUT``          1200     seconds before a workload counts as failed
``BENCH_FEAST``            1        0: skip Feast even if ``.venv-feast`` exists
``BENCH_EXTRAS``           1        0: skip the featurestore-only cases (extras, transformations)
``BENCH_OUT``              bench/   folder of results.json and RESULTS.md
=========================  =======  ======================================================

Per scale and system: the training set (time cold and warm, peak RSS; Feast on both its default
``dask`` offline store and its DuckDB store), materialization into Redis (time, values/s, peak RSS;
Redis flushed before each run), SDK lookups of 1 and 100 entities (p50/p99), and HTTP lookups of 1
and 100 entities through ``wrk`` (``bench/wrk.py``) or ``bench.loadgen`` in another process,
sequential (1 connection) and loaded (8 and 16 connections). Then the floors: DuckDB's bare ASOF
join, a bare Redis ``MGET``, and a FastAPI hello world (with wrk, also through ``bench.loadgen`` at
16 connections, to show what the Python client can drive). At 1x, featurestore-only extras and the
transformations of issue 11 (a Polars batch transform's training set against the plain one). Results:
``bench/results.json`` and the generated part of ``bench/RESULTS.md``. ``python -m bench.run --report``
re-renders RESULTS.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import data as bench_data
from bench import wrk
from bench.harness import ROOT, best_of, free_port, machine, run_json, server
from bench.report import write_results
from bench.systems import System, feast, featurestore, prepare

OUT = Path(os.environ.get("BENCH_OUT", ROOT / "bench"))
FEATURES = [f"stats_live:f{i}" for i in range(10)]


def setting(name: str, default: int) -> int:
    return int(os.environ.get(f"BENCH_{name}", default))


def connections() -> list[int]:
    """The loaded HTTP cases' connection counts (``BENCH_CONNECTIONS``, default 8 and 16)."""
    return [int(c) for c in os.environ.get("BENCH_CONNECTIONS", "8,16").split(",") if c.strip()]


def http_client() -> str:
    """``wrk`` when installed (unless ``BENCH_HTTP_CLIENT=loadgen``), else ``loadgen``."""
    wanted = os.environ.get("BENCH_HTTP_CLIENT", "wrk")
    if wanted not in ("wrk", "loadgen"):
        raise SystemExit(f"BENCH_HTTP_CLIENT must be wrk or loadgen, not {wanted!r}")
    if wanted == "wrk" and not wrk.available():
        log("wrk is not installed (make bench installs it): HTTP cases use bench/loadgen.py")
        return "loadgen"
    return wanted


def check_answer(answer: bytes) -> str | None:
    """Why a lookup answer holds no values (not all PRESENT), or None."""
    try:
        results = json.loads(answer).get("results", [])
    except ValueError:
        return f"answer is not JSON: {answer[:100]!r}"
    statuses = {s for row in results[1:] for s in row.get("statuses", [])}
    return None if statuses == {"PRESENT"} else f"answer without values: statuses {sorted(statuses)}"


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def loadgen(url: str, body: dict[str, Any], connections: int, folder: Path, lookup: bool,
            client: str = "loadgen") -> dict[str, Any]:
    """Drive ``url`` from another process (``client``: wrk or bench.loadgen); a ``lookup`` answer must hold
    values (all PRESENT), not errors."""
    body_file, answer_file = folder / "body.json", folder / "answer.json"
    body_file.write_text(json.dumps(body))
    seconds, warmup = os.environ.get("BENCH_HTTP_SECONDS", "5"), os.environ.get("BENCH_HTTP_WARMUP", "1")
    if client == "wrk":
        request = urllib.request.Request(url, data=body_file.read_bytes(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                answer_file.write_bytes(answer.read())
        except OSError as err:
            return {"error": f"first request failed: {err}"}
        result = wrk.run(url, body_file, connections, float(seconds), float(warmup))
    else:
        result = run_json([sys.executable, "-m", "bench.loadgen", url, "--body", str(body_file), "--connections",
                           str(connections), "--seconds", seconds, "--warmup", warmup, "--save-answer",
                           str(answer_file)], timeout=float(seconds) + float(warmup) + 120)
    if lookup and "error" not in result:
        why = check_answer(answer_file.read_bytes())
        if why:
            result = {"error": why}
    return result


def http_cases(url: str, folder: Path, prefix: str) -> dict[str, Any]:
    """Sequential and loaded lookups of 1 and 100 entities: ``<prefix>_<n>_seq`` and ``<prefix>_<n>_c<conns>``."""
    out: dict[str, Any] = {}
    client = http_client()
    for n in (1, 100):
        body = {"features": FEATURES, "entities": {"driver_id": list(range(n))}}
        for case, conns in (("seq", 1), *((f"c{c}", c) for c in connections())):
            out[f"{prefix}_{n}_{case}"] = loadgen(f"{url}/get-online-features", body, conns, folder,
                                                  prefix != "hello", client)
            log(f"  {prefix} {n} {case}: {out[f'{prefix}_{n}_{case}']}")
    return out


def training_sets(system: System, data: Path, repeat: int) -> dict[str, Any]:
    """``training_set`` (cold, and warm except on Feast's slow dask store), plus Feast's DuckDB store."""
    out = {"training_set": best_of([system.run("training-set", data, warm=system.key != "feast")
                                    for _ in range(repeat)])}
    if system.key == "feast":
        out["training_set_duckdb"] = best_of([system.run("training-set", data, offline_store="duckdb", warm=True)
                                              for _ in range(repeat)])
    return out


def flush(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushall()


def measure(system: System, data: Path, redis_url: str, repeat: int, folder: Path) -> dict[str, Any]:
    """The shared workloads on one system, in order: batch, materialize, SDK lookups, HTTP."""
    out: dict[str, Any] = {"label": system.label, **system.info}
    out.update(training_sets(system, data, repeat))
    log(f"  {system.label} training set: {out['training_set']} {out.get('training_set_duckdb', '')}")
    runs = []
    for _ in range(repeat):
        flush(redis_url)
        runs.append(system.run("materialize", data, redis_url=redis_url))
    out["materialize"] = best_of(runs)
    log(f"  {system.label} materialize: {out['materialize']}")
    lookups = setting("LOOKUPS", 1000)
    for n in (1, 100):
        out[f"lookup_{n}"] = system.run("lookup", data, redis_url=redis_url, entities=n, iterations=lookups,
                                        warmup=100)
        log(f"  {system.label} lookup {n}: {out[f'lookup_{n}']}")
    out["online_ttl"] = system.run("online-ttl", data, redis_url=redis_url)
    port = free_port()
    try:
        with server(system.argv("serve", data, redis_url=redis_url, port=port), port) as url:
            out.update(http_cases(url, folder, "http"))
    except RuntimeError as err:
        out["http_error"] = str(err)
    return out


def floors(fs: System, data: Path, redis_url: str, repeat: int, folder: Path) -> dict[str, Any]:
    """The bare engines under both systems; featurestore's keys must be in Redis (run after it)."""
    out: dict[str, Any] = {"raw_asof": best_of([fs.run("raw-asof", data) for _ in range(repeat)])}
    for n in (1, 100):
        out[f"mget_{n}"] = fs.run("raw-mget", data, redis_url=redis_url, entities=n,
                                  iterations=setting("LOOKUPS", 1000), warmup=100)
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "bench.hello_app:app", "--host", "127.0.0.1", "--port", str(port),
            "--http", "httptools", "--loop", "uvloop", "--no-access-log", "--log-level", "warning"]
    with server(argv, port) as url:
        out.update(http_cases(url, folder, "hello"))
        if http_client() == "wrk":  # what the Python client drives on the same server: is it the bottleneck?
            conns = max(connections(), default=16)
            body = {"features": FEATURES, "entities": {"driver_id": [0]}}
            out[f"hello_1_c{conns}_loadgen"] = loadgen(f"{url}/get-online-features", body, conns, folder, False)
    log(f"  floors: {out}")
    return out


def extras(fs: System, sizes: bench_data.Sizes, redis_url: str) -> dict[str, Any]:
    """featurestore-only cases at 1x: streamed Parquet training set, 1M distinct entities, SQLite."""
    data = bench_data.make(sizes)
    out: dict[str, Any] = {"training_set_parquet": best_of([fs.run("training-set", data, parquet=True)
                                                            for _ in range(setting("REPEAT", 3))])}
    wide = bench_data.make(bench_data.Sizes(sizes.rows, sizes.rows, 1000, sizes.seed))
    flush(redis_url)
    out["materialize_wide"] = fs.run("materialize", wide, redis_url=redis_url)
    out["materialize_sqlite"] = fs.run("materialize", data)
    for n in (1, 100):
        out[f"lookup_sqlite_{n}"] = fs.run("lookup", data, entities=n, iterations=setting("LOOKUPS", 1000), warmup=100)
    log(f"  extras: {out}")
    return out


def transforms(fs: System, sizes: bench_data.Sizes) -> dict[str, Any]:
    """featurestore-only cases of issue 11 at 1x (targets in bench/report_transforms.py): the training set of the
    plain view and of the same source through a Polars batch transform, alternated so both see the same machine,
    best of ``BENCH_REPEAT``. Each run is a fresh process and store: the transform runs in the first, timed call."""
    data = bench_data.make(sizes)
    runs: dict[str, list[dict[str, Any]]] = {}
    cases: dict[str, tuple[str, dict[str, Any]]] = {
        "training_set": ("training-set", {"warm": True}),
        "training_set_batch": ("training-set", {"warm": True, "view": "stats_tx"}),
        "training_set_on_demand": ("training-set", {"warm": True, "on_demand": "expr"}),
        "training_set_on_demand_python": ("training-set", {"warm": True, "on_demand": "py"}),
    }
    for _ in range(setting("REPEAT", 3)):
        for case, (command, flags) in cases.items():
            runs.setdefault(case, []).append(fs.run(command, data, **flags))
    out = {case: best_of(found) for case, found in runs.items()}
    # the Python row function's rate: the entity rows over the time it adds to the plain training set (warm runs)
    plain, python = out["training_set"], out["training_set_on_demand_python"]
    if "warm_seconds" in plain and "warm_seconds" in python:
        added = python["warm_seconds"] - plain["warm_seconds"]
        out["python_function"] = {"rows_per_s": python["rows"] / added if added > 0 else None,
                                  "added_seconds": added}
    # online, 1 entity, SQLite: the plain lookup of stats_live and the on-demand views over it, alternated
    out["materialize_sqlite"] = fs.run("materialize", data)
    lookups = {"lookup_1": {}, "lookup_on_demand_polars_1": {"on_demand": "expr"},
               "lookup_on_demand_python_1": {"on_demand": "py"}}
    found: dict[str, list[dict[str, Any]]] = {}
    for _ in range(setting("REPEAT", 3)):
        for case, flags in lookups.items():
            found.setdefault(case, []).append(fs.run("lookup", data, entities=1, iterations=setting("LOOKUPS", 1000),
                                                     warmup=100, **flags))
    out.update({case: best_of(runs_, key="p50_ms") for case, runs_ in found.items()})
    log(f"  transforms: {out}")
    return out


def _json_lines(argv: list[str], timeout: float) -> list[dict[str, Any]]:
    """Run a bench script in a child process; the JSON objects it prints, one per line (its errors as one)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return [{"error": f"timed out after {timeout:.0f} s: {' '.join(argv[1:])}"}]
    found = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not found:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return [*found, {"error": f"exit {done.returncode}: {' / '.join(tail)}"}]
    return found


def aggregates() -> dict[str, Any]:
    """The cases of issue 12 (targets in bench/report_aggregates.py): training sets of an aggregate view at the
    issue's three shapes beside a DuckDB self-join written by hand (bench/aggregates_offline.py), then materialize
    and lookups of a 16-feature view over 10M events (bench/aggregates_online.py, SDK and HTTP)."""
    out: dict[str, Any] = {}
    timeout = float(setting("TIMEOUT", 1200))
    shapes = os.environ.get("BENCH_AGG_SHAPES", "1m,skew,10m").split(",")
    for shape in shapes:
        workloads = ["featurestore", "by-hand"] if shape != "skew" else ["featurestore"]
        for found in _json_lines([sys.executable, "-m", "bench.aggregates_offline", "--shapes", shape,
                                  "--workloads", *workloads], timeout):
            if "error" in found and "workload" not in found:
                out.setdefault(f"offline_{shape}", found)
                continue
            key = {"featurestore": "offline", "by-hand": "by_hand"}.get(found["workload"], found["workload"])
            out[f"{key}_{shape}"] = found
    events = str(setting("AGG_EVENTS", 10_000_000))
    online = _json_lines([sys.executable, "bench/aggregates_online.py", "--events", events, "--entities",
                          str(setting("AGG_ENTITIES", 10_000)), "--repeat", str(setting("AGG_LOOKUPS", 2000)),
                          "--http"], timeout * 2)
    result = online[-1]
    if "error" in result:
        out["materialize"] = result
    else:
        out["materialize"] = result.get("materialize", {})
        lookup = result.get("lookup", {})
        for n in (1, 100):
            if f"p50_ms_{n}" in lookup:
                out[f"lookup_{n}"] = {"p50_ms": lookup[f"p50_ms_{n}"], "p99_ms": lookup.get(f"p99_ms_{n}"),
                                      "n": lookup.get(f"n_{n}")}
        for window in ("1h", "30d"):
            if f"p50_ms_count_{window}" in lookup:
                out[f"lookup_{window}"] = {"p50_ms": lookup[f"p50_ms_count_{window}"]}
        if "commands_per_lookup" in lookup:
            out["commands"] = {"per_lookup": lookup["commands_per_lookup"], "by_command": lookup.get("commands")}
        if "http_1_seq" in result:
            out["http_1_seq"] = result["http_1_seq"]
    log(f"  aggregates: {out}")
    return out


def monitoring() -> dict[str, Any]:
    """The cases of issue 13 (targets in bench/report_monitoring.py), each script in a child process:
    expectations (bench/validation.py: a dry-run validation against a materialize of the same 1M-row view, SQLite
    and Redis), statistics (bench/profile.py: 10M rows x 10 features from Parquet; drift of two 1M-row samples) and
    feature logging (bench/feature_log.py: HTTP p50 of a logged service against the same service unlogged)."""
    timeout = float(setting("TIMEOUT", 1200))
    out: dict[str, Any] = {}
    validation = _json_lines([sys.executable, "bench/validation.py"], timeout)[-1]
    for store in ("sqlite", "redis"):
        out[f"validation_{store}"] = validation.get(store, validation if "error" in validation else
                                                    {"error": f"{store} not measured (no redis-server?)"})
    out["profile"] = _json_lines([sys.executable, "-m", "bench.profile", "--rows",
                                  str(setting("PROFILE_ROWS", 10_000_000)), "--drift-rows",
                                  str(setting("PROFILE_DRIFT_ROWS", 1_000_000)), "--repeat", "3"], timeout)[-1]
    logged = _json_lines([sys.executable, "bench/feature_log.py", "--runs", str(setting("LOG_RUNS", 10))], timeout)[-1]
    for case in ("plain", "logged"):
        out[f"feature_log_{case}"] = logged.get(case, logged if "error" in logged else {"error": "not measured"})
    log(f"  monitoring: {out}")
    return out


def reproducibility() -> dict[str, Any]:
    """The cases of issue 14 (targets in bench/report_reproducibility.py), in a child process
    (bench/reproducibility.py): creating a versioned training set against ``to_parquet`` of the same, and the
    training set of a transformed view from its offline feature table against recomputing the transform."""
    found = _json_lines([sys.executable, "bench/reproducibility.py", "--pairs", str(setting("REPRO_PAIRS", 11)),
                         "--runs", str(setting("REPRO_RUNS", 5))], float(setting("TIMEOUT", 1200)))[-1]
    out = {key: found.get(key, found) for key in ("creation", "feature_table", "feature_table_window")}
    log(f"  reproducibility: {out}")
    return out


def ui() -> dict[str, Any]:
    """The cases of issue 15 (targets in bench/report_ui.py), in a child process (bench/ui.py): the server time of
    every web UI page type over a generated registry of 500 views, HTML and JSON, against 100 ms."""
    found = _json_lines([sys.executable, "-m", "bench.ui", "--views", str(setting("UI_VIEWS", 500)), "--requests",
                         str(setting("UI_REQUESTS", 30))], float(setting("TIMEOUT", 1200)))[-1]
    log(f"  ui: {json.dumps(found.get('worst', found))}")
    return found


def cluster() -> dict[str, Any]:
    """The Redis Cluster cases of issue 16 (bench/cluster.py, in a child process): lookups of 1 and 100 entities
    and materialize on a local 3-master cluster beside a standalone redis-server."""
    found = _json_lines([sys.executable, "-m", "bench.cluster", "--entities", str(setting("CLUSTER_ENTITIES", 200_000)),
                         "--lookups", str(setting("CLUSTER_LOOKUPS", 2000))], float(setting("TIMEOUT", 1200)))[-1]
    log(f"  cluster: {json.dumps(found)}")
    return found


def spark() -> dict[str, Any]:
    """The Spark engine's training sets at ``BENCH_SPARK_SCALES`` (default 1,10) on ``local[2]`` beside DuckDB
    (bench/spark.py), with per-row costs and a cluster-size estimate; ``{"skipped": ...}`` without Java/pyspark."""
    scales = os.environ.get("BENCH_SPARK_SCALES", "1,10")
    found = _json_lines([sys.executable, "-m", "bench.spark", "--scales", scales],
                        float(setting("TIMEOUT", 1200)))[-1]
    log(f"  spark: {json.dumps(found.get('estimate', found))}")
    return found


SECTIONS = {"aggregates": aggregates, "monitoring": monitoring, "reproducibility": reproducibility, "ui": ui,
            "cluster": cluster, "spark": spark}
"""The sections ``BENCH_SECTIONS`` may name (each re-measured alone, the rest kept from the last run)."""


def main(argv: list[str]) -> None:
    if argv == ["--report"]:
        write_results(json.loads((OUT / "results.json").read_text()), OUT / "RESULTS.md")
        return
    section = os.environ.get("BENCH_SECTIONS")
    if section in SECTIONS:  # only one issue's cases; the rest kept from the last run
        results = json.loads((OUT / "results.json").read_text())
        results[section] = SECTIONS[section]()
        results[f"{section}_date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        (OUT / "results.json").write_text(json.dumps(results, indent=1) + "\n")
        print(write_results(results, OUT / "RESULTS.md"))
        return
    from tests.conftest import start_redis

    sizes = bench_data.Sizes.from_env()
    scales = [int(s) for s in os.environ.get("BENCH_SCALES", "1,10").split(",") if s]
    timeout = float(setting("TIMEOUT", 1200))
    systems = [s for s in (featurestore(timeout), feast(timeout)) if s is not None]
    if len(systems) == 1:
        log("Feast is not installed (make bench-feast): measuring featurestore and the floors only")
    results: dict[str, Any] = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
                               "sizes": sizes.__dict__, "settings": {k: v for k, v in os.environ.items()
                                                                     if k.startswith("BENCH_")},
                               "http_client": http_client(), "connections": connections(), "scales": {}}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fs-bench-") as tmp:
        redis = start_redis(Path(tmp) / "redis")
        try:
            for scale in scales:
                data = bench_data.make(sizes, scale)
                log(f"== {scale}x: {sizes.times(scale).describe()} ({data})")
                repeat = setting("REPEAT", 3) if scale == 1 else 1
                per: dict[str, Any] = {}
                for system in systems:
                    prepare(system, data, redis.url)
                    per[system.key] = measure(system, data, redis.url, repeat, Path(tmp))
                    if system.key == "featurestore":
                        per["floors"] = floors(system, data, redis.url, repeat, Path(tmp))
                results["scales"][str(scale)] = per
            if setting("EXTRAS", 1) and 1 in scales:
                results["extras"] = extras(systems[0], sizes, redis.url)
                results["transforms"] = transforms(systems[0], sizes)
            if setting("AGGREGATES", 1):
                results["aggregates"] = aggregates()
            if setting("MONITORING", 1):
                results["monitoring"] = monitoring()
            if setting("REPRODUCIBILITY", 1):
                results["reproducibility"] = reproducibility()
            if setting("UI", 1):
                results["ui"] = ui()
            if setting("CLUSTER", 1):
                results["cluster"] = cluster()
            if setting("SPARK", 1):
                results["spark"] = spark()
        finally:
            redis.stop()
    results["minutes"] = round((time.perf_counter() - started) / 60, 1)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(write_results(results, OUT / "RESULTS.md"))


if __name__ == "__main__":
    main(sys.argv[1:])
