"""`make bench` works end to end on tiny data, and its report says what happened (no timing assertions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import report, report_transforms, wrk
from bench.harness import free_port, server
from bench.systems import FEAST_PYTHON

ROOT = Path(__file__).resolve().parents[1]
TINY = {"BENCH_ENTITIES": "300", "BENCH_ROWS": "6000", "BENCH_ENTITY_ROWS": "500", "BENCH_SCALES": "1",
        "BENCH_REPEAT": "1", "BENCH_LOOKUPS": "50", "BENCH_HTTP_SECONDS": "0.3", "BENCH_HTTP_WARMUP": "0",
        "BENCH_FEAST": "0", "BENCH_AGG_SHAPES": "tiny", "BENCH_AGG_EVENTS": "20000", "BENCH_AGG_ENTITIES": "200",
        "BENCH_AGG_LOOKUPS": "100", "BENCH_PROFILE_ROWS": "20000", "BENCH_PROFILE_DRIFT_ROWS": "5000",
        "BENCH_LOG_RUNS": "1", "BENCH_UI_VIEWS": "60", "BENCH_UI_REQUESTS": "3", "BENCH_CLUSTER_ENTITIES": "2000",
        "BENCH_CLUSTER_LOOKUPS": "60",
        "BENCH_SPARK": "0"}  # the Spark section has its own test below (a JVM start is slow)


@pytest.mark.usefixtures("redis_server")  # the bench starts its own redis-server: skip or fail like the others
def test_make_bench_runs_every_workload_and_writes_results(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BENCH_", "FEATURESTORE_"))}
    (tmp_path / "RESULTS.md").write_text("# Results\n\nnotes kept\n\n" + report.BEGIN + "\nold\n" + report.END +
                                         "\n\nmore notes\n")
    proc = subprocess.run([sys.executable, "-m", "bench.run"], cwd=ROOT, capture_output=True, text=True,
                          env={**env, **TINY, "BENCH_OUT": str(tmp_path)}, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    per = results["scales"]["1"]
    fs = per["featurestore"]
    errors = {case: found["error"] for case, found in [*fs.items(), *per["floors"].items(), *results["extras"].items(),
                                                       *results["transforms"].items()]
              if isinstance(found, dict) and "error" in found}
    assert errors == {}
    assert fs["training_set"]["rows"] == fs["training_set"]["rows_in"] == 500
    assert fs["training_set"]["order_kept"] is True and fs["training_set"]["warm_seconds"] > 0
    assert fs["materialize"]["entities"] == 300
    assert fs["online_ttl"] == {"asked": 100, "values_served": 0}
    client = "wrk" if wrk.available() else "loadgen"
    assert results["http_client"] == client and results["connections"] == [8, 16]
    for n in (1, 100):  # sequential, 8 and 16 connections, on featurestore and on the hello-world floor
        for case in ("seq", "c8", "c16"):
            for found in (fs[f"http_{n}_{case}"], per["floors"][f"hello_{n}_{case}"]):
                assert found["requests"] > 0 and found["errors"] == 0 and found["client"] == client, (case, found)
        assert fs[f"http_{n}_c16"]["connections"] == 16
    if client == "wrk":  # the Python client measured beside wrk on the floor, to show which one is the bottleneck
        assert per["floors"]["hello_1_c16_loadgen"]["client"] == "loadgen"
    assert per["floors"]["raw_asof"]["rows"] == 500
    assert results["extras"]["materialize_wide"]["entities"] == 6000
    plain, batch = results["transforms"]["training_set"], results["transforms"]["training_set_batch"]
    assert (plain["view"], plain["features"], batch["view"], batch["features"]) == ("stats", 10, "stats_tx", 11)
    for found in (plain, batch):  # the transform keeps every row: every entity row answered, in input order
        assert found["rows"] == found["rows_in"] == 500 and found["order_kept"] is True and found["warm_seconds"] > 0
    text = (tmp_path / "RESULTS.md").read_text()
    assert "notes kept" in text and "more notes" in text and "\nold\n" not in text
    assert "| seconds, first call in the process |" in text and results["machine"]["cpu"] in text
    assert "| HTTP, 100 entities × 10, 16 connections: requests/s |" in text
    assert "| HTTP 1 entity, 16 connections: ≥ 70% of the hello world's requests/s |" in text
    assert "| training set ≤ 1.2x the bare ASOF join's seconds |" in text
    assert "### Transformations (issue 11)" in text
    agg = results["aggregates"]
    assert {k: v for k, v in agg.items() if isinstance(v, dict) and "error" in v} == {}
    assert agg["offline_tiny"]["rows"] == 2000 and agg["by_hand_tiny"]["rows"] == 2000
    assert agg["materialize"]["entities"] == 200 and agg["commands"]["per_lookup"] >= 1
    assert agg["lookup_1"]["p50_ms"] > 0 and agg["http_1_seq"]["requests"] > 0
    assert "## Aggregations (issue 12)" in text and "| HTTP, 1 entity, sequential: p50 ≤ 1.0 ms |" in text
    assert "| Polars batch transform: peak RSS ≤ 1.5x the plain training set's | " in text
    mon = results["monitoring"]
    assert {k: v for k, v in mon.items() if isinstance(v, dict) and "error" in v} == {}
    assert mon["validation_sqlite"]["rows"] == mon["validation_redis"]["rows"] == 6000
    assert mon["profile"]["rows"] == 20000 and mon["profile"]["profile_seconds"] > 0
    assert mon["feature_log_logged"]["p50_ms"] > 0 and mon["feature_log_plain"]["p50_ms"] > 0
    assert "## Data quality and monitoring (issue 13)" in text
    assert "| feature logging: HTTP p50 ≤ 1.05x without logging (1 entity, sequential) | " in text
    ui = results["ui"]
    assert ui["views"] == 60 and ui["timing"] == "Server-Timing" and ui["cache"]["recomputed"] == 0
    assert {"overview", "views", "view", "lineage", "history"} <= set(ui["pages"])
    assert all(p["p50_ms"] > 0 for p in ui["pages"].values())
    assert "## Web UI (issue 15)" in text
    cluster = results["cluster"]
    for store in ("standalone", "cluster"):
        assert cluster[store]["materialize_rows_per_s"] > 0 and cluster[store]["lookup_100"]["n"] == 60, cluster
    assert "## Redis Cluster (issue 16)" in text and "| Redis Cluster, 3 masters | " in text


def _training(seconds: float, rows: int, order_kept: bool, rss: float = 100.0, **more: Any) -> dict[str, Any]:
    return {"seconds": seconds, "peak_rss_mb": rss, "rows": rows, "rows_in": 10, "order_kept": order_kept, **more}


def test_report_shows_ratio_floor_and_failures() -> None:
    def system(label: str, seconds: float, **more: Any) -> dict[str, Any]:
        return {"label": label, "training_set": _training(seconds, 9, label == "featurestore"),
                "materialize": {"seconds": 2.0, "entities": 1000, "peak_rss_mb": 50.0}, **more}

    http = {"http_1_seq": {"p50_ms": 0.6, "p99_ms": 1.0}, "http_1_c16": {"rps": 3000.0, "p50_ms": 4.0, "p99_ms": 8.0}}
    per = {"featurestore": system("featurestore", 0.5, **http),
           "feast": system("Feast 9.9", 2.0, lookup_1={"error": "timed out after 5 s"}, offline_store="dask",
                           training_set_duckdb=_training(1.0, 10, False, 50.0)),
           "floors": {"raw_asof": {"seconds": 0.25, "peak_rss_mb": 90.0, "rows": 10},
                      "hello_1_seq": {"p50_ms": 0.3, "p99_ms": 0.5},
                      "hello_1_c16": {"rps": 4000.0, "p50_ms": 2.0, "p99_ms": 4.0}}}
    training = report.training_table(per)
    assert "| training set | featurestore | Feast 9.9 `dask` | Feast 9.9 `duckdb` | floor: bare DuckDB ASOF join |" \
        in training
    assert "| seconds, first call in the process | 0.50 | 2.00 (4.0x) | 1.00 (2.0x) | 0.25 (featurestore at 2.00x) |" \
        in training
    assert "| peak RSS MB (first call) | 100 | 100 (1.0x) | 50 (0.5x) | 90 (featurestore at 1.11x) |" in training
    assert ("| entity rows returned | 9 of 10, in input order | 9 of 10, not in input order | "
            "10 of 10, not in input order | 10 |") in training
    table = report.scale_table(per)
    assert "| materialize: feature values/s | 5,000 | 5,000 | 1.0x |  |  |" in table
    assert "failed: timed out after 5 s" in table
    assert ("| HTTP, 1 entity × 10, sequential: p50 ms | 0.60 | — |  | 0.30 (FastAPI hello world) | "
            "2.00x floor |") in table
    assert ("| HTTP, 1 entity × 10, 16 connections: requests/s | 3,000 | — |  | 4,000 (FastAPI hello world) | "
            "75% of floor |") in table
    assert "| HTTP, 100 entities × 10, 16 connections: requests/s | — | — |  |  |  |" in table  # did not run
    assert "8 connections" not in table  # no system ran it
    targets = report.targets_table(per, 1)
    assert "| training set ≤ 1.2x the bare ASOF join's seconds | 2.00x (0.50 vs 0.25) | **no** |" in targets
    assert "| HTTP 1 entity, 16 connections: ≥ 70% of the hello world's requests/s | 75% (3,000 of 4,000) | yes |" \
        in targets
    assert "| HTTP 1 entity, sequential: p50 ≤ 1.5x the hello world's p50 | 2.00x (0.60 vs 0.30) | **no** |" in targets
    assert "| HTTP 100 entities, 16 connections: ≥ 45% of the hello world's requests/s | not measured | — |" in targets
    assert "peak RSS ≤ 1,300 MB" not in targets  # a 10x target
    assert "| training set peak RSS ≤ 1,300 MB (10x) | 100 MB | yes |" in report.targets_table(per, 10)


def test_report_shows_the_transformation_targets_measured_or_not() -> None:
    found = {"training_set": _training(1.0, 10, True, 400.0, warm_seconds=0.9),
             "training_set_batch": _training(1.25, 10, True, 640.0, warm_seconds=0.8),
             "lookup_1": {"p50_ms": 0.2}, "lookup_on_demand_python_1": {"p50_ms": 0.25},
             "python_function": {"error": "exit 1: boom"}}
    table = report_transforms.targets_table(found)
    assert ("| Polars batch transform on the 1M-row source: training set ≤ 1.30x the plain one's seconds (first call: "
            "the transform runs) | 1.25x (1.25 vs 1.00) | yes |") in table
    assert "| Polars batch transform: peak RSS ≤ 1.5x the plain training set's | 1.60x (640 vs 400) | **no** |" in table
    assert ("| online, 1 entity, on-demand Python row function: SDK p50 within 0.03 ms of the plain lookup | "
            "+0.050 ms (0.250 vs 0.200) | **no** |") in table
    assert "| offline: the Python row function ≥ 500,000 rows/s | failed: exit 1: boom | — |" in table
    assert "SDK p50 within 0.15 ms of the plain lookup | not measured | — |" in table  # a slot for its case
    found["python_function"] = {"rows_per_s": 600_000.0}
    assert "| offline: the Python row function ≥ 500,000 rows/s | 600,000 rows/s | yes |" in \
        report_transforms.targets_table(found)
    cases = report_transforms.cases_table(found)
    assert "| plain view `stats` (f0..f9) | 1.00 | 0.90 | 400 |" in cases and "| 1.25 | 0.80 | 640 |" in cases


def test_report_compares_the_python_client_with_wrk_on_the_floor() -> None:
    per = {"floors": {"hello_1_c16": {"rps": 8000.0, "client": "wrk"}, "hello_1_c16_loadgen": {"rps": 6000.0}}}
    assert report.client_check(per) == ("HTTP client check: on the hello world (1 entity's body, 16 connections) "
                                        "`bench/loadgen.py` reached 6,000 requests/s where wrk reached 8,000 (75%).")
    assert report.client_check({"floors": {"hello_1_c16": {"rps": 8000.0}}}) == ""


def test_loadgen_counts_answers_from_another_process(tmp_path: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "bench.hello_app:app", "--port", str(port), "--log-level", "warning"]
    body = tmp_path / "body.json"
    body.write_text("{}")
    with server(argv, port) as url:
        out = subprocess.run([sys.executable, "-m", "bench.loadgen", f"{url}/get-online-features", "--body", str(body),
                              "--requests", "40", "--connections", "2", "--warmup", "0", "--save-answer",
                              str(tmp_path / "answer")], cwd=ROOT, capture_output=True, text=True, check=True)
        missing = subprocess.run([sys.executable, "-m", "bench.loadgen", f"{url}/nowhere", "--body", str(body),
                                  "--requests", "5", "--warmup", "0"], cwd=ROOT, capture_output=True, text=True)
    result = json.loads(out.stdout)
    assert result["requests"] == 40 and result["errors"] == 0 and result["connections"] == 2
    assert json.loads((tmp_path / "answer").read_text()) == {"hello": "world"}
    assert missing.returncode != 0 and "no successful answer" in missing.stderr and "404" in missing.stderr


@pytest.mark.skipif(not wrk.available(), reason="wrk is not installed (make bench installs it)")
def test_wrk_counts_answers_and_errors(tmp_path: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "bench.hello_app:app", "--port", str(port), "--log-level", "warning"]
    body = tmp_path / "body.json"
    body.write_text('{"quote": "\\"}')  # a body the Lua script must carry byte for byte
    with server(argv, port) as url:
        ok = wrk.run(f"{url}/get-online-features", body, connections=2, seconds=0.2, warmup=0)
        missing = wrk.run(f"{url}/nowhere", body, connections=1, seconds=0.2, warmup=0)
    assert ok["requests"] > 0 and ok["errors"] == 0 and ok["connections"] == 2 and ok["client"] == "wrk", ok
    assert ok["rps"] > 0 and 0 < ok["p50_ms"] <= ok["p99_ms"] and 0.9 < ok["seconds"] < 5, ok
    assert "no successful answer" in missing["error"], missing


def test_make_bench_installs_wrk_when_missing_and_bench_feast_feast_with_both_offline_stores() -> None:
    dry = subprocess.run(["make", "-n", "bench-feast"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "-m venv .venv-feast" in dry and "install --quiet --upgrade 'feast[redis,duckdb]'" in dry
    dry = subprocess.run(["make", "-n", "bench"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "command -v wrk" in dry and "apt-get install -y -qq wrk" in dry


@pytest.mark.skipif(not FEAST_PYTHON.exists(), reason="Feast is not installed (make bench-feast)")
def test_feast_side_runs_the_same_workloads(redis_url: str) -> None:
    """bench/feast_workload.py on tiny data: Feast's answers are checked, as the runner would use them."""
    import redis

    from bench.data import Sizes, make
    from bench.systems import feast, prepare

    url = redis_url.rsplit("/", 1)[0] + "/5"  # a database of its own: Feast's keys stay out of the others' way
    with redis.Redis.from_url(url) as client:
        client.flushdb()

    data = make(Sizes(entities=200, rows=4000, entity_rows=300, seed=7))
    system = feast(timeout=300)
    assert system is not None
    info = prepare(system, data, url)
    assert info["online_store"] == "redis" and system.label.startswith("Feast ")
    training = system.run("training-set", data)
    assert training["rows_in"] == 300 and 0 < training["rows"] <= 300 and training["offline_store"] == "dask"
    # the runner's training sets: dask (cold only) and Feast's DuckDB store (cold and warm), which keeps every row
    from bench.run import training_sets

    both = training_sets(system, data, repeat=1)
    assert "warm_seconds" not in both["training_set"] and both["training_set"]["offline_store"] == "dask", both
    duck = both["training_set_duckdb"]
    assert duck["offline_store"] == "duckdb" and duck["rows"] == duck["rows_in"] == 300 and duck["warm_seconds"] > 0
    materialized = system.run("materialize", data, redis_url=url)
    assert materialized["entities"] == 200, materialized
    lookup = system.run("lookup", data, redis_url=url, entities=100, iterations=20, warmup=2)
    assert lookup["n"] == 20 and lookup["p50_ms"] > 0, lookup
    assert system.run("online-ttl", data, redis_url=url)["asked"] == 100


def test_spark_section_measures_both_engines_with_equal_answers(tmp_path: Path) -> None:
    """bench/spark.py on tiny data: both engines timed, the answers equal, the estimate derived from the per-row
    cost; without Java or pyspark it says it skipped (and the test skips, or fails under FEATURESTORE_REQUIRE_SPARK)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BENCH_")}
    proc = subprocess.run([sys.executable, "-m", "bench.spark", "--scales", "1"], cwd=ROOT, capture_output=True,
                          text=True, env={**env, "BENCH_ENTITIES": "300", "BENCH_ROWS": "6000",
                                          "BENCH_ENTITY_ROWS": "500"}, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    if "skipped" in found:
        if os.environ.get("FEATURESTORE_REQUIRE_SPARK") == "1":
            pytest.fail(found["skipped"])
        pytest.skip(found["skipped"])
    one = found["scales"]["1"]
    assert one["spark_equals_duckdb"] is True and (one["source_rows"], one["entity_rows"]) == (6000, 500)
    for engine in ("duckdb", "spark"):
        assert one[engine]["warm_seconds"] > 0 and one[engine]["rows_per_s"] > 0
    assert found["estimate"]["core_us_per_row"] == one["spark"]["core_us_per_row"]
    assert found["estimate"]["workers_8_cores"] >= found["estimate"]["cores"] / 8
