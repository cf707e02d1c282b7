"""Benchmark of expectations: ``store.validate`` (a dry run of a view's checks over its source range) vs a full
materialize of the same view into SQLite and into a private redis-server (target: validation ≤ 10 % of
materialize).

The source is ``bench/data.py``'s (1M rows × 10 Float32 features, 10k drivers, January 2026). The view ``checked``
has 6 expectations (not_null, between × 2, null_ratio, row_count, not_future; on_invalid="reject"; they all pass);
``plain`` is the same view without them. Materialize times are medians of 9 alternated pairs (re-runs write the
same rows); ``checked``'s include its validation, which runs in a second thread beside the latest-rows query
(``featurestore/materialize/gated.py`` ``screened_rows``). ``ratio``: what validation adds to a materialize
(checked − plain) / plain, the target's measure; ``dry_run_ratio``: ``store.validate`` alone (best of 3) / plain.

Run: ``.venv/bin/python bench/validation.py`` (prints a table and the JSON result).
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import data  # noqa: E402
from bench.harness import free_port, server  # noqa: E402

DEFS = '''
from featurestore import Entity, FeatureView, Field, ParquetSource, expect
from featurestore.types import Float32
driver = Entity(name="driver", join_keys=["driver_id"])
source = ParquetSource(path="{source}", created_timestamp_field="created")
features = [Field(name=f"f{{i}}", dtype=Float32) for i in range(10)]
EXPECTATIONS = [expect.not_null("f0"), expect.between("f1", 0, 1), expect.between("f2", 0, 1),
                expect.null_ratio("f3", max=0.01), expect.row_count(min=1), expect.not_future(tolerance="5m")]
checked = FeatureView(name="checked", entities=[driver], schema=features, source=source, expectations=EXPECTATIONS)
plain = FeatureView(name="plain", entities=[driver], schema=features, source=source)
'''
START, END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
REPEAT = 3
PAIRS = 9


def timed(run: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    run()
    return time.perf_counter() - t0


def best(run: Callable[[], Any], repeat: int = REPEAT) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure(repo: Path, online: dict[str, Any]) -> dict[str, float]:
    from featurestore import FeatureStore
    from featurestore.config import parse_config

    cfg = parse_config({"project": "bench_validation", "online_store": online}, "bench", env={})
    with FeatureStore(repo, config=cfg) as store:
        store.apply()
        report = store.validate("checked", START, END)
        assert report.ok, str(report)
        validate_s = best(lambda: store.validate("checked", START, END))
        checked, plain = [], []
        for _ in range(PAIRS):  # alternated, so machine noise hits both alike
            checked.append(timed(lambda: store.materialize(START, END, ["checked"])))
            plain.append(timed(lambda: store.materialize(START, END, ["plain"])))
    out = {"validate_s": validate_s, "materialize_checked_s": statistics.median(checked),
           "materialize_plain_s": statistics.median(plain), "rows": report.rows, "pairs": PAIRS}
    # what validation adds to a materialize (the check runs beside the latest-rows query), and the dry run's
    # own time against a materialize
    out["ratio"] = max(0.0, out["materialize_checked_s"] - out["materialize_plain_s"]) / out["materialize_plain_s"]
    out["dry_run_ratio"] = validate_s / out["materialize_plain_s"]
    return out


def main() -> dict[str, Any]:
    source = data.make()
    repo = source.parent / f"validation-{source.name}"
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    (repo / "featurestore.yaml").write_text("project: bench_validation\n")
    (repo / "defs.py").write_text(DEFS.format(source=str(source / "source.parquet")))
    result: dict[str, Any] = {"sqlite": measure(repo, {"type": "sqlite", "path": str(repo / "online.db")})}
    if shutil.which("redis-server"):
        port = free_port()
        with server(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"], port):
            result["redis"] = measure(repo, {"type": "redis", "url": f"redis://127.0.0.1:{port}/0"})
    print(f"{'store':8} {'rows':>10} {'validate s':>11} {'materialize s':>14} {'(no checks) s':>14} "
          f"{'added':>7} {'dry run':>8}")
    for name, r in result.items():
        print(f"{name:8} {r['rows']:>10,} {r['validate_s']:>11.3f} {r['materialize_checked_s']:>14.3f} "
              f"{r['materialize_plain_s']:>14.3f} {r['ratio']:>7.1%} {r['dry_run_ratio']:>8.1%}")
    return result


if __name__ == "__main__":
    print(json.dumps(main()))
