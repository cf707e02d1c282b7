"""Benchmark of issue 15: the web UI's server time over a registry of 500 views (target: every page ≤ 100 ms).

The repo is ``tests/ui/big_repo.py``'s (500 views: 400 feature views, 50 aggregate and 50 on-demand views over 20
Parquet sources, 53 services, 4 registry versions, 6 materialized views, 2 training sets). The app
(``server.app.create_app``) runs in this process behind ``fastapi.testclient.TestClient``, its lifespan running.

1. Warm-up: one request of every URL measured below (HTML and JSON), unmeasured, except the statistics pages'
   first requests, which compute each profile once (the cache fill): those are reported on their own.
2. Then each page type ``--requests`` times (default 30) over different objects where there are that many (views,
   services, lineage, searches, statistics), cycling over the few there are (entities, sources, training sets,
   history versions), the HTML page then its JSON (``/ui/api/...``) for each, and per page type the p50, p95 and
   max of the ``Server-Timing: app;dur=`` header (the wall-clock time around the request when it is missing) and
   the mean body size.

Run: ``.venv/bin/python -m bench.ui`` (prints one JSON line; ``--views``, ``--requests``, ``--seed``), or
``BENCH_SECTIONS=ui .venv/bin/python -m bench.run`` (``BENCH_UI_VIEWS``, ``BENCH_UI_REQUESTS``) to re-measure only
this section into ``bench/results.json`` and ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TARGET_MS = 100.0
TIMING = re.compile(r"app;dur=([0-9.]+)")


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile ``p`` (0-100) of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summary(times: list[float]) -> dict[str, Any]:
    return {"requests": len(times), "p50_ms": statistics.median(times), "p95_ms": percentile(times, 95),
            "max_ms": max(times)}


def q(name: str) -> str:
    """``name`` as one path segment."""
    return quote(name, safe="")


def cycle(items: list[str], n: int) -> list[str]:
    return [items[i % len(items)] for i in range(n)] if items else []


def pages(spec: dict[str, Any], n: int, seed: int) -> list[tuple[str, str, list[str]]]:
    """``(key, label, paths after /ui)`` of every page type, ``n`` paths each."""
    from tests.ui.big_repo import unique_word

    rng = random.Random(seed)
    views = [v["name"] for v in spec["views"]]
    by_kind = {k: [v["name"] for v in spec["views"] if v["kind"] == k]
               for k in ("feature_view", "aggregate_view", "on_demand_feature_view")}
    mixed = rng.sample(by_kind["feature_view"], n - 2 * (n // 5)) + rng.sample(by_kind["aggregate_view"], n // 5) + \
        rng.sample(by_kind["on_demand_feature_view"], n // 5)
    profiled = rng.sample(by_kind["feature_view"], n)
    services = [s["name"] for s in spec["services"]]
    sources = [s["name"] for s in spec["sources"]] + [s["push"] for s in spec["sources"] if s["push"]] + \
        [r["name"] for r in spec["request_sources"]]
    words = [unique_word(i) for i in rng.sample(range(len(views)), n - n // 3)]
    words += cycle([spec["views"][0]["owner"], "route", "fraud", "model", "gold"], n // 3)
    lineage = [f"/lineage/{quote(s)}?kind=feature_service" for s in rng.sample(services, n // 2)]
    lineage += [f"/lineage/{quote(v)}?kind=feature_view" for v in rng.sample(by_kind["feature_view"], n - n // 2)]
    sets = ["customer_training", "driver_training"]
    return [
        ("overview", "overview `/ui`", ["" for _ in range(n)]),
        ("search", "search `/ui/search?q=` (a view's own word, an owner, a topic)", [f"/search?q={quote(w)}"
                                                                                  for w in words]),
        ("views", f"all views `/ui/views` ({len(views)} rows)", ["/views" for _ in range(n)]),
        ("view", "a view `/ui/views/{name}` (plain, aggregate, on-demand)", [f"/views/{q(v)}" for v in mixed]),
        ("statistics", "a view's statistics, cached `/ui/views/{name}/statistics`",
         [f"/views/{q(v)}/statistics" for v in profiled]),
        ("entities", "entities `/ui/entities`", ["/entities" for _ in range(n)]),
        ("entity", "an entity `/ui/entities/{name}`",
         [f"/entities/{q(e)}" for e in cycle([e["name"] for e in spec["entities"]], n)]),
        ("services", f"services `/ui/services` ({len(services)} rows)", ["/services" for _ in range(n)]),
        ("service", "a service `/ui/services/{name}`", [f"/services/{q(s)}" for s in rng.sample(services, n)]),
        ("sources", f"sources `/ui/sources` ({len(sources)} rows)", ["/sources" for _ in range(n)]),
        ("source", "a source `/ui/sources/{name}`", [f"/sources/{q(s)}" for s in cycle(sources, n)]),
        ("lineage", "lineage `/ui/lineage/{name}` (of a service, of a view)", lineage),
        ("training_sets", "training sets `/ui/training-sets`", ["/training-sets" for _ in range(n)]),
        ("training_set", "a training set `/ui/training-sets/{name}`",
         [f"/training-sets/{s}" for s in cycle(sets, n)]),
        ("training_version", "a training set version `/ui/training-sets/{name}/v1`",
         [f"/training-sets/{s}/v1" for s in cycle(sets, n)]),
        ("history", "history `/ui/history`", ["/history" for _ in range(n)]),
        ("history_version", "a registry version `/ui/history/{version}` (its diff)",
         [f"/history/{v}" for v in cycle(["1", "2", "3", "4"], n)]),
    ]


def timed(client: Any, url: str) -> tuple[float, int, str, dict[str, Any] | None]:
    """``(ms, body bytes, how measured, JSON body or None)`` of one GET that must answer 200."""
    started = time.perf_counter()
    answer = client.get(url)
    wall = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"GET {url}: {answer.status_code} {answer.text[:300]}")
    found = TIMING.search(answer.headers.get("server-timing", ""))
    body = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else None
    return (float(found.group(1)), len(answer.content), "server", body) if found else \
        (wall, len(answer.content), "wall", body)


def measure(client: Any, spec: dict[str, Any], n: int, seed: int) -> dict[str, Any]:
    out: dict[str, Any] = {"pages": {}}
    types = pages(spec, n, seed)
    first: dict[str, float] = {}
    computing: list[float] = []
    computed = 0
    for key, _, paths in types:  # warm-up: every URL once; the statistics' first requests fill the cache
        for path in dict.fromkeys(paths):
            if key == "statistics":
                ms, _, _, body = timed(client, "/ui/api" + path)
                computing.append(ms)
                computed += bool(body and body.get("computed_now"))
                timed(client, "/ui" + path)
            else:
                ms, *_ = timed(client, "/ui" + path)
                first.setdefault(key, ms)
                timed(client, "/ui/api" + path)
    out["statistics_first"] = summary(computing)
    how: set[str] = set()
    recomputed = 0
    for key, label, paths in types:
        found: dict[str, list[float]] = {"html": [], "json": []}
        size: dict[str, list[int]] = {"html": [], "json": []}
        for path in paths:
            for form, prefix in (("html", "/ui"), ("json", "/ui/api")):
                ms, nbytes, measured, body = timed(client, prefix + path)
                found[form].append(ms)
                size[form].append(nbytes)
                how.add(measured)
                if key == "statistics" and body is not None:
                    recomputed += bool(body.get("computed_now"))
        out["pages"][key] = {"label": label, "objects": len(set(paths)), "first_ms": first.get(key),
                             **summary(found["html"]), "kb": statistics.mean(size["html"]) / 1024,
                             **{f"json_{k}": v for k, v in summary(found["json"]).items() if k != "requests"},
                             "json_kb": statistics.mean(size["json"]) / 1024}
    out["cache"] = {"computed_first": computed, "recomputed": recomputed}
    out["timing"] = "Server-Timing" if how == {"server"} else "wall clock" if how == {"wall"} else "mixed"
    worst = max(out["pages"].values(), key=lambda p: max(p["max_ms"], p["json_max_ms"]))
    slowest = max(out["pages"].values(), key=lambda p: max(p["p95_ms"], p["json_p95_ms"]))
    out["worst"] = {"max_ms": max(worst["max_ms"], worst["json_max_ms"]), "max_page": worst["label"],
                    "p95_ms": max(slowest["p95_ms"], slowest["json_p95_ms"]), "p95_page": slowest["label"]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--views", type=int, default=500)
    parser.add_argument("--requests", type=int, default=30, help="requests of each page type (HTML, and as many JSON)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from fastapi.testclient import TestClient

    from server.app import create_app
    from tests.ui.big_repo import load_spec, make_big_repo

    with tempfile.TemporaryDirectory(prefix="fs-bench-ui-") as tmp:
        started = time.perf_counter()
        repo = make_big_repo(Path(tmp) / "repo", views=args.views, seed=args.seed)
        built = time.perf_counter() - started
        spec = load_spec(repo)
        started = time.perf_counter()
        with TestClient(create_app(repo)) as client:
            startup = time.perf_counter() - started
            out = measure(client, spec, args.requests, args.seed)
            counts = client.get("/ui/api").json()["counts"]
    out.update(views=args.views, requests=args.requests, target_ms=TARGET_MS, build_s=built, startup_s=startup,
               registry=counts)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
