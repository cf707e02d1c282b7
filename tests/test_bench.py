"""`make bench` works end to end on tiny data, and its report says what happened (no timing assertions)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import report
from bench.harness import free_port, server
from bench.systems import FEAST_PYTHON

ROOT = Path(__file__).resolve().parents[1]
TINY = {"BENCH_ENTITIES": "300", "BENCH_ROWS": "6000", "BENCH_ENTITY_ROWS": "500", "BENCH_SCALES": "1",
        "BENCH_REPEAT": "1", "BENCH_LOOKUPS": "50", "BENCH_HTTP_SECONDS": "0.3", "BENCH_HTTP_WARMUP": "0.1",
        "BENCH_FEAST": "0"}


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
    errors = {case: found["error"] for case, found in [*fs.items(), *per["floors"].items(), *results["extras"].items()]
              if isinstance(found, dict) and "error" in found}
    assert errors == {}
    assert fs["training_set"]["rows"] == fs["training_set"]["rows_in"] == 500
    assert fs["training_set"]["order_kept"] is True
    assert fs["materialize"]["entities"] == 300
    assert fs["online_ttl"] == {"asked": 100, "values_served": 0}
    assert fs["http_100_load"]["requests"] > 0 and fs["http_100_load"]["errors"] == 0
    assert per["floors"]["raw_asof"]["rows"] == 500
    assert results["extras"]["materialize_wide"]["entities"] == 6000
    text = (tmp_path / "RESULTS.md").read_text()
    assert "notes kept" in text and "more notes" in text and "\nold\n" not in text
    assert "| training set: seconds |" in text and results["machine"]["cpu"] in text


def test_report_shows_ratio_floor_and_failures() -> None:
    def system(label: str, seconds: float, **more: Any) -> dict[str, Any]:
        return {"label": label, "training_set": {"seconds": seconds, "peak_rss_mb": 100.0, "rows": 9, "rows_in": 10,
                                                 "order_kept": label == "featurestore"},
                "materialize": {"seconds": 2.0, "entities": 1000, "peak_rss_mb": 50.0}, **more}

    per = {"featurestore": system("featurestore", 0.5),
           "feast": system("Feast 9.9", 2.0, lookup_1={"error": "timed out after 5 s"}, offline_store="dask"),
           "floors": {"raw_asof": {"seconds": 0.25, "peak_rss_mb": 90.0}}}
    table = report.scale_table(per)
    assert "| training set: seconds | 0.50 | 2.00 | 4.0x | 0.25 (bare DuckDB ASOF join) |" in table
    assert "| materialize: feature values/s | 5,000 | 5,000 | 1.0x |" in table
    assert "failed: timed out after 5 s" in table
    assert "| HTTP, 1 entity × 10, sequential: p50 ms | — | — |  |" in table
    assert "| training set: entity rows returned | 9 of 10, in input order | 9 of 10, not in input order |  |" in table


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


def test_make_bench_feast_installs_the_current_feast_release_in_its_own_venv() -> None:
    dry = subprocess.run(["make", "-n", "bench-feast"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "-m venv .venv-feast" in dry and "install --quiet --upgrade 'feast[redis]'" in dry


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
    assert training["rows_in"] == 300 and 0 < training["rows"] <= 300
    materialized = system.run("materialize", data, redis_url=url)
    assert materialized["entities"] == 200, materialized
    lookup = system.run("lookup", data, redis_url=url, entities=100, iterations=20, warmup=2)
    assert lookup["n"] == 20 and lookup["p50_ms"] > 0, lookup
    assert system.run("online-ttl", data, redis_url=url)["asked"] == 100
