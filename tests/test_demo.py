"""``python -m featurestore.demo`` (``make demo``) end to end, on the embedded store and on Redis, and
the example repo's training set checked against the brute-force point-in-time reference."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from featurestore import FeatureStore
from featurestore.demo import run as demo
from featurestore.demo.client import serving
from tests.conftest import _free_port
from tests.offline.reference import point_in_time

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "definitions"
STEPS = ["1. Sample data", "2. Apply the definitions", "3. Point-in-time training set",
         "4. Materialize into the online store and look up in-process",
         "5. Data quality and monitoring: expectations, drift, consistency",
         "6. Reproducible training sets, feature tables and lineage", "7. Serve over HTTP and look up",
         "8. Where things are"]


@pytest.fixture(autouse=True)
def _no_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FEATURESTORE_") or name == "REDIS_URL":
            monkeypatch.delenv(name)


def demo_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_") and k != "REDIS_URL"}
    return {**env, **extra}


def copy_example(target: Path) -> Path:
    """The example repo's definitions and featurestore.yaml (no data, no registry)."""
    target.mkdir()
    for path in [*EXAMPLE.glob("*.py"), EXAMPLE / "featurestore.yaml"]:
        shutil.copy(path, target / path.name)
    return target


def run_demo(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "featurestore.demo", str(repo), *args], capture_output=True,
                          text=True, env=env or demo_env(), cwd=repo.parent, timeout=240, check=False)
    assert "Traceback" not in proc.stderr + proc.stdout
    return proc


def server_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE and "serve" in psutil.Process(pid).cmdline()
    except psutil.NoSuchProcess:
        return False


def http_part(out: str) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """From the demo's step 7: the server's pid, the request body of the curl command, the JSON answer."""
    step = out[out.index("=== 7."):out.index("=== 8.")]
    pid = int(re.search(r"^started: featurestore serve --port \d+ \(pid (\d+)\), ready in", step, re.M).group(1))
    assert f"stopped the server (pid {pid})" in step
    assert re.search(r"^web UI at http://127\.0\.0\.1:\d+/ui: 5 feature views, 1 aggregate, 2 on-demand, 4 services, "
                     r"1 training sets; \d+ past max_staleness, \d+ with failing expectations$", step, re.M), step
    curl = re.search(r"^\$ curl -s -X POST http://127\.0\.0\.1:\d+/get-online-features \\\n"
                     r"    -H 'Content-Type: application/json' \\\n    -d '([^']*)'\n", step, re.M)
    assert curl, step
    answer = step[curl.end():step.index("\n\non-demand features")]
    assert max(len(line) for line in answer.splitlines()) <= 100
    quote = step[step.index("\n\non-demand features"):step.index("\nstopped the server")]
    quote_answer = json.loads(quote[quote.index("\n{"):])
    assert quote_answer["metadata"]["feature_names"] == ["driver_id", "eta_min", "long_trip", "fare", "conv_rate"]
    assert all(r["statuses"] == ["PRESENT", "PRESENT"] for r in quote_answer["results"]), quote_answer
    assert max(len(line) for line in quote.splitlines()) <= 100
    return pid, json.loads(curl.group(1)), json.loads(answer)


def check_demo_output(out: str, first: bool = True) -> dict[str, Any]:
    """The demo's output: every step, in order; the training set; the HTTP lookup; the timings."""
    positions = [out.index(f"=== {step} ===") for step in STEPS]
    assert positions == sorted(positions)
    if first:
        assert "+ feature_view zone_demand" in out and "+ feature_view customer_driver" in out
        assert "+ feature_service trip_model" in out
        assert "+ aggregate_view card_txn" in out and "+ feature_service card_risk" in out
    training = out[out.index("=== 3."):out.index("=== 4.")]
    for column in ("zone_id", "event_timestamp", "trip_completed", "conv_rate", "tier", "trips_together",
                   "avg_rating_given", "surge_multiplier", "avg_wait_minutes", "card_id", "count_1h",
                   "amount_sum_7d", "declined_amount_7d"):
        assert column in training
    online = out[out.index("=== 4."):out.index("=== 5.")]
    for view, rows in (("driver_stats", 50), ("customer_profile", 20), ("zone_demand", 8), ("trip_stats", 50),
                       ("card_txn", 20)):
        assert re.search(f"materialized {view}: {rows if first else '[0-9]+'} entity rows", online), view
    assert re.search(r"^  conv_rate\s+PRESENT, PRESENT, PRESENT$", online, re.M)
    # a pushed transaction counts online at once
    pushed = re.search(r"^  count_1h of card 3001: (\d+) -> (\d+)$", online, re.M)
    assert pushed and int(pushed.group(2)) == int(pushed.group(1)) + 1, online
    assert re.search(r"^  count_1h\s+" + pushed.group(1) + "$", online, re.M)

    quality = out[out.index("=== 5."):out.index("=== 6.")]
    # a push breaking driver_stats' expectations is refused whole, and the online value stays
    unwrapped = re.sub(r"\n    ", " ", quality)  # the message is wrapped
    assert re.search(r"ExpectationError: feature view 'driver_stats': 1 of 4 expectations failed in a batch of 1 row "
                     r"\(push\), nothing was written: between\(conv_rate, 0, 1\): 1 bad row in column 'conv_rate'",
                     unwrapped), quality
    kept = re.search(r"conv_rate of driver 1001 online: ([\d.]+) before, ([\d.]+) after \(unchanged\)", quality)
    assert kept and kept.group(1) == kept.group(2), quality
    assert "feature view 'driver_stats': passed (on_invalid='reject'), 8,400 rows, 0 bad" in quality
    assert re.search(r"^  drift of driver_stats: (ok|warn|alert)$", quality, re.M), quality
    for feature in ("conv_rate", "acc_rate", "avg_daily_trips"):
        assert re.search(rf"^  {feature}\s+(ok|warn|alert)\s+[\d.]+", quality, re.M), feature
    assert re.search(r"^  consistency of service 'driver_activity': \d+ logged rows, \d+ mismatches, 0 unexplained$",
                     quality, re.M), quality

    repro = out[out.index("=== 6. Reproducible"):out.index("=== 7. Serve")]
    made = re.search(r"^  version (\d+), 10 rows, content hash ([0-9a-f]{16})$", repro, re.M)
    assert made, repro
    assert f"training set demo_training version {made.group(1)}: re-created identically (10 rows, content hash\n" \
        f"      {made.group(2)}, byte-identical Parquet)" in repro, repro
    assert "reads a new file" in repro and re.search(r"\d+ transformed\s+rows appended", repro), repro
    assert f"training_set:demo_training@{made.group(1)}" in repro

    pid, request, answer = http_part(out)
    assert not server_alive(pid), "the demo's server is still running"
    assert request["feature_service"] == "trip_model"
    assert request["entities"] == {"driver_id": [1001, 1002], "customer_id": [2001, 2002],
                                   "zone_id": ["airport", "downtown"]}
    names = answer["metadata"]["feature_names"]
    assert names == ["driver_id", "customer_id", "zone_id", "conv_rate", "avg_daily_trips", "current_balance",
                     "lifetime_trip_count", "tier", "trips_together", "avg_rating_given", "surge_multiplier",
                     "avg_wait_minutes", "speed_kmh"]
    results = dict(zip(names, answer["results"], strict=True))
    assert results["zone_id"]["values"] == ["airport", "downtown"]
    for name in names:
        assert results[name]["statuses"] == ["PRESENT", "PRESENT"], name
        assert all(v is not None for v in results[name]["values"]), name
    assert results["tier"]["values"][0] in {"bronze", "silver", "gold"}
    assert "10 features x 2 entities: 20 PRESENT" in out

    timings = out[out.index("=== Done in "):]
    assert [line.split(".")[0].strip() for line in timings.splitlines()[1:]] == ["1", "2", "3", "4", "5", "6", "7", "8"]
    assert float(re.search(r"=== Done in ([\d.]+)s ===", timings).group(1)) < 60
    return answer


def test_demo_on_the_embedded_store(tmp_path: Path) -> None:
    repo = copy_example(tmp_path / "example")
    proc = run_demo(repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    check_demo_output(proc.stdout)
    assert "online store: embedded SQLite (data/online.db)" in proc.stdout
    for name in ("driver_stats.parquet", "customer_profile.csv", "customer_driver.parquet", "city.duckdb",
                 "registry.json", "online.db", "demo-server.log"):
        assert (repo / "data" / name).exists(), name

    again = run_demo(repo)  # re-run: data regenerated, apply is a no-op, incremental materialization
    assert again.returncode == 0, again.stdout + again.stderr
    assert "No changes" in again.stdout
    check_demo_output(again.stdout, first=False)


def test_demo_on_redis(tmp_path: Path, clean_redis_url: str) -> None:
    import redis

    repo = copy_example(tmp_path / "example")
    proc = run_demo(repo, env=demo_env(REDIS_URL=clean_redis_url))  # the option defaults to $REDIS_URL
    assert proc.returncode == 0, proc.stdout + proc.stderr
    check_demo_output(proc.stdout)
    assert f"online store: Redis at {clean_redis_url}" in proc.stdout
    assert not (repo / "data" / "online.db").exists()  # neither the demo nor its server used SQLite
    with redis.Redis.from_url(clean_redis_url) as client:
        assert client.exists("fs:driver_ranking:zone_demand:{zone_id=airport}")
        assert client.exists("fs:driver_ranking:customer_driver:{customer_id=2001,driver_id=1001}")


def test_demo_with_unreachable_redis_fails_in_one_line(tmp_path: Path) -> None:
    repo = copy_example(tmp_path / "example")
    url = f"redis://127.0.0.1:{_free_port()}/0"
    proc = run_demo(repo, "--redis-url", url)
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: Redis at {url} is unreachable"), proc.stderr
    assert not (repo / "data").exists()  # nothing ran


def test_demo_without_repo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main([str(tmp_path)]) == 1
    assert "featurestore.yaml" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_make_demo_passes_redis_url() -> None:
    if shutil.which("make") is None:
        pytest.skip("no make")
    env = demo_env()

    def dry_run(*args: str) -> str:
        done = subprocess.run(["make", "-n", "-C", str(ROOT), "demo", *args], capture_output=True, text=True,
                              env=env, check=True)
        return next(line.strip() for line in done.stdout.splitlines() if "featurestore.demo" in line)

    assert dry_run().endswith("-m featurestore.demo definitions")
    assert dry_run("REDIS_URL=redis://h:1/2").endswith("-m featurestore.demo definitions --redis-url 'redis://h:1/2'")
    install = subprocess.run(["make", "-n", "-W", "pyproject.toml", "-C", str(ROOT), "demo"], capture_output=True,
                             text=True, env=env, check=True).stdout
    assert '".[server,pandas]"' in install and ".[dev]" not in install  # the demo installs only what it needs


# -- the example repo's training set and the demo's server, in this process --------------------------
@pytest.fixture
def example_store(tmp_path: Path) -> Any:
    store = FeatureStore(copy_example(tmp_path / "example"))
    demo.generate_data(store)
    demo.apply_repo(store)
    yield store
    store.close()


def test_training_set_follows_the_pit_rules_for_every_view(example_store: FeatureStore) -> None:
    result = demo.training_set(example_store)
    data = example_store.repo_path / "data"
    import duckdb

    with duckdb.connect(str(data / "city.duckdb"), read_only=True) as con:
        zones = con.sql("SELECT * FROM zone_demand").to_arrow_table()
    sources = {
        "driver_stats": (pq.read_table(data / "driver_stats.parquet"), ["driver_id"], "created"),
        "customer_profile": (pacsv.read_csv(data / "customer_profile.csv"), ["customer_id"], None),
        "customer_driver": (pq.read_table(data / "customer_driver.parquet"), ["customer_id", "driver_id"], None),
        "zone_demand": (zones, ["zone_id"], None),
        # trip_stats' transform, in plain Python: finished trips, with their speed
        "trip_stats": (pa.Table.from_pylist([{**r, "speed_kmh": r["km"] * 60 / r["minutes"]} for r in
                                             pq.read_table(data / "driver_trips.parquet").to_pylist()
                                             if r["status"] == "done"]), ["driver_id"], None),
    }
    ttls = {"driver_stats": timedelta(days=2), "customer_profile": None, "customer_driver": timedelta(days=30),
            "zone_demand": timedelta(hours=1), "trip_stats": timedelta(days=2)}
    entity_rows = result.select(["driver_id", "customer_id", "zone_id", "event_timestamp"]).to_pylist()
    got = result.to_pylist()
    service = example_store.get_feature_service("trip_model")
    assert {p.view for p in service.features} == set(sources)
    for projection in service.features:
        table, keys, created = sources[projection.view]
        features = list(projection.features) or example_store.get_feature_view(projection.view).feature_names
        want = point_in_time(table.to_pylist(), keys, features, entity_rows, ttl=ttls[projection.view],
                             created_col=created)
        assert [{f: row[f] for f in features} for row in got] == want, projection.view
        filled = sum(row[features[0]] is not None for row in want)
        assert filled >= len(got) // 2, f"{projection.view}: only {filled} rows found a value"


def test_the_server_stops_on_error_and_on_ctrl_c(example_store: FeatureStore) -> None:
    log = example_store.repo_path / "data" / "server.log"
    for raised in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(raised)), serving(example_store.repo_path, demo_env(), log) as server:
            assert server_alive(server.pid)
            raise raised
        assert server.process.returncode is not None
        assert not server_alive(server.pid)


def test_a_server_py_in_the_current_folder_does_not_shadow_the_package(
        example_store: FeatureStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's child runs with ``python -P``: the current folder is not on its import path."""
    user = tmp_path / "user_project"
    user.mkdir()
    (user / "server.py").write_text("raise SystemExit('the user server.py was imported')\n")
    (user / "featurestore.py").write_text("raise SystemExit('the user featurestore.py was imported')\n")
    monkeypatch.chdir(user)
    log = example_store.repo_path / "data" / "server.log"
    with serving(example_store.repo_path, demo_env(), log) as server:
        answer = demo.post_json(f"{server.url}/get-online-features", demo.lookup_request())
    assert answer["metadata"]["feature_names"][:3] == ["driver_id", "customer_id", "zone_id"]
    assert "user server.py" not in log.read_text()


def test_sample_data_ends_where_the_readme_says(tmp_path: Path) -> None:
    """Without --end: hourly and daily data end at midnight UTC today (last hourly row 23:00 yesterday),
    zone_demand at the current quarter hour; the README says so."""
    import duckdb

    from featurestore.demo import sample_data
    from featurestore.utc import now

    before = now()
    sample_data.write(tmp_path)
    after = now()
    midnight = after.replace(hour=0, minute=0, second=0, microsecond=0)
    stats = pq.read_table(tmp_path / "data" / "driver_stats.parquet").column("event_timestamp")
    assert max(stats.to_pylist()) == midnight - timedelta(hours=1)
    with duckdb.connect(str(tmp_path / "data" / "city.duckdb"), read_only=True) as con:
        ((last,),) = con.sql("SELECT max(event_timestamp) FROM zone_demand").fetchall()
    assert before - timedelta(minutes=15) < last <= after
    readme = (ROOT / "README.md").read_text()
    assert "ending at midnight UTC today" in readme and "ending at the current time" not in readme
