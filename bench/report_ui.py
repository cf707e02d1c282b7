"""The web UI section of ``bench/RESULTS.md`` (issue 15): server time of every page type over a registry of 500
views, each against the 100 ms target.

``results["ui"]`` (``bench/run.py`` ``ui``, from ``bench/ui.py``) holds ``pages`` (per page type: ``label``,
``objects`` requested, ``first_ms`` (the first request of the type in the warm-up), ``requests``, ``p50_ms``,
``p95_ms``, ``max_ms`` and ``kb`` of the HTML page, the same with a ``json_`` prefix for its ``/ui/api`` form),
``statistics_first`` (the statistics pages' first requests, which compute the profile: p50/p95/max), ``cache``
(``computed_first``: first requests that computed; ``recomputed``: later requests that computed again),
``worst`` (the slowest page type's p95 and max, HTML or JSON, and which), ``timing`` (``Server-Timing`` or wall
clock), ``registry`` (the overview's counts), ``build_s`` (generating, applying, materializing the repo),
``requests`` and ``target_ms``.
"""

from __future__ import annotations

from typing import Any

from bench import report_transforms
from bench.report_transforms import TransformTarget

Target = TransformTarget


def targets(limit: float = 100.0) -> list[Target]:
    """The targets of issue 15."""
    return [
        Target(f"every page ≤ {limit:.0f} ms server time with 500 views: the slowest page type's p95 (HTML or JSON)",
               "worst", "p95_ms", limit, "absolute", unit=" ms", form="{:.1f}"),
        Target("… its slowest request (max)", "worst", "max_ms", limit, "absolute", unit=" ms", form="{:.1f}"),
        Target("statistics computed on demand, then cached: later requests that computed again", "cache",
               "recomputed", 0, "absolute", form="{:d}"),
    ]


def _ms(value: Any) -> str:
    return "—" if value is None else f"{value:.1f}"


def _met(page: dict[str, Any], limit: float) -> str:
    worst = max(page.get("max_ms", 0.0), page.get("json_max_ms", 0.0))
    return "yes" if worst <= limit else f"**no** ({worst:.0f} ms)"


def section(found: dict[str, Any]) -> list[str]:
    """The markdown lines of the section."""
    limit = float(found.get("target_ms", 100.0))
    counts = found.get("registry") or {}
    out = ["", "## Web UI (issue 15)", ""]
    if "error" in found and "pages" not in found:
        return [*out, f"Not measured: {found['error']}"]
    views = sum(counts.get(k, 0) for k in ("feature_views", "aggregate_views", "on_demand_feature_views"))
    out += [f"Server time (`{found.get('timing', '?')}`) of every page type over a generated registry of {views} "
            f"views ({counts.get('feature_views', '?')} feature views, {counts.get('aggregate_views', '?')} "
            f"aggregate and {counts.get('on_demand_feature_views', '?')} on-demand views over 20 Parquet sources, "
            f"{counts.get('entities', '?')} entities, {counts.get('feature_services', '?')} services, "
            f"{counts.get('sources', '?')} sources, 4 registry versions, {counts.get('training_sets', '?')} training "
            f"sets; `tests/ui/big_repo.py`, built in {found.get('build_s', 0):.1f} s), the app in-process behind "
            "`TestClient`. After one unmeasured request of every URL (\"first\": the type's first one, caches "
            f"cold), each page type {found.get('requests', '?')} times over different objects (cycling where there "
            "are fewer), the HTML page and its JSON (`/ui/api/...`) each time.", "",
            "| page | objects | first ms | p50 ms | p95 ms | max ms | KB | JSON p50 ms | JSON p95 ms | JSON max ms | "
            f"JSON KB | ≤ {limit:.0f} ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for page in (found.get("pages") or {}).values():
        out.append(f"| {page['label']} | {page['objects']} | {_ms(page.get('first_ms'))} | {_ms(page['p50_ms'])} | "
                   f"{_ms(page['p95_ms'])} | {_ms(page['max_ms'])} | {page['kb']:.1f} | {_ms(page['json_p50_ms'])} | "
                   f"{_ms(page['json_p95_ms'])} | {_ms(page['json_max_ms'])} | {page['json_kb']:.1f} | "
                   f"{_met(page, limit)} |")
    first = found.get("statistics_first")
    if first:
        out.append(f"| statistics, first request (computes), JSON | {first['requests']} |  | {_ms(first['p50_ms'])} | "
                   f"{_ms(first['p95_ms'])} | {_ms(first['max_ms'])} |  |  |  |  |  | "
                   f"{'yes' if first['max_ms'] <= limit else '**no**'} |")
    worst = found.get("worst") or {}
    if worst:
        out += ["", f"Slowest page type: {worst.get('p95_page')} (p95 {_ms(worst.get('p95_ms'))} ms); slowest "
                f"request: {worst.get('max_page')} ({_ms(worst.get('max_ms'))} ms)."]
    out += ["", report_transforms.targets_table(found, targets(limit), issue=15)]
    return out
