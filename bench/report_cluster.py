"""The Redis Cluster section of ``bench/RESULTS.md`` (issue 16): lookups of 1 and 100 entities and materialize on a
local 3-master cluster beside one standalone Redis (no target: the numbers show what the cluster path costs).

``results["cluster"]`` (``bench/run.py`` ``cluster``, from ``bench/cluster.py``) holds ``entities``, ``features``,
``lookups`` and per store (``standalone``, ``cluster``): ``materialize_rows_per_s`` and ``lookup_1`` /
``lookup_100`` (``p50_ms``, ``p99_ms`` of ``get_online_features``, ``store_read_p50_ms`` of ``OnlineStore.read``).
"""

from __future__ import annotations

from typing import Any


def _ms(value: Any) -> str:
    return "—" if value is None else f"{value:.2f}"


def section(found: dict[str, Any]) -> list[str]:
    """The markdown lines of the section."""
    out = ["", "## Redis Cluster (issue 16)", ""]
    if "standalone" not in found:
        return [*out, f"Not measured: {found.get('error', 'no result')}"]
    out += [f"One view of {found.get('features', '?')} Float64 features over {found.get('entities', 0):,} entities "
            "(one row each); the same repo materialized into a private standalone `redis-server` and into a local "
            "Redis Cluster of 3 masters (no replicas; all on loopback, on the same 2 cores as the client). "
            f"Lookups: `get_online_features` of 1 and of 100 random entities, {found.get('lookups', '?')} each "
            "after 50 unmeasured; \"store read\" is `OnlineStore.read` alone. Materialize: every row, best of the "
            "runs, into an emptied store; \"async read\" is `read_async`, what the HTTP server awaits.", "",
            "| store | materialize rows/s | lookup 1 p50 ms | lookup 1 p99 ms | store read 1 p50 ms | async read 1 "
            "p50 ms | lookup 100 p50 ms | lookup 100 p99 ms | store read 100 p50 ms | async read 100 p50 ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for key, label in (("standalone", "Redis (standalone)"), ("cluster", "Redis Cluster, 3 masters")):
        got = found.get(key) or {}
        if "error" in got or not got:
            out.append(f"| {label} | not measured: {got.get('error', 'no result')} |  |  |  |  |  |  |  |  |")
            continue
        one, hundred = got.get("lookup_1", {}), got.get("lookup_100", {})
        out.append(f"| {label} | {got['materialize_rows_per_s']:,.0f} | {_ms(one.get('p50_ms'))} | "
                   f"{_ms(one.get('p99_ms'))} | {_ms(one.get('store_read_p50_ms'))} | "
                   f"{_ms(one.get('store_read_async_p50_ms'))} | {_ms(hundred.get('p50_ms'))} | "
                   f"{_ms(hundred.get('p99_ms'))} | {_ms(hundred.get('store_read_p50_ms'))} | "
                   f"{_ms(hundred.get('store_read_async_p50_ms'))} |")
    out += ["", "A lookup of one entity is one `MGET` on one node in both (every view of an entity shares its hash "
            "slot); 100 random entities are ~100 slots: one `MGET` per slot, all of one node's sent in one write, so "
            "the cluster pays a command per slot instead of one in all. A write is one newest-wins script call per "
            "slot (rows grouped by slot 32,768 at a time), against one call per 2,000 rows on one Redis."]
    return out
