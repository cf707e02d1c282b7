"""The aggregations section of ``bench/RESULTS.md`` (issue 12): what was measured, and each target met or not.

``results["aggregates"]`` holds featurestore-only cases (``bench/run.py`` ``aggregates``), each a workload's JSON:
``offline_<shape>`` and ``by_hand_<shape>`` from ``bench/aggregates_offline.py`` (shapes ``1m``: 100k entity rows
over 1M events, ``10m``: 1M over 10M, ``skew``: ``1m`` with one card holding half the events; 4 functions x 3
windows), and from ``bench/aggregates_online.py`` (10M events, 10k entities, a view of 16 aggregate features up to
30-day windows, private redis-server): ``materialize``, ``lookup_1``, ``lookup_100``, ``lookup_1h``, ``lookup_30d``
(one feature of a 1-hour and of a 30-day window), ``commands`` (Redis commands per lookup, from ``INFO
commandstats``) and ``http_1_seq`` (``featurestore serve``, one keep-alive connection).
"""

from __future__ import annotations

from typing import Any

from bench import report_transforms
from bench.report_transforms import TransformTarget

Target = TransformTarget


def targets() -> list[Target]:
    """Every speed target of issue 12, in the issue's order."""
    return [
        Target("offline, 100k entity rows over 1M events, 4 functions × 3 windows: ≤ 1.5 s", "offline_1m", "seconds",
               1.5, "absolute", unit=" s"),
        Target("… and ≤ 500 MB peak RSS", "offline_1m", "peak_rss_mb", 500, "absolute", unit=" MB", form="{:,.0f}"),
        Target("offline, 1M entity rows over 10M events: ≤ 12 s", "offline_10m", "seconds", 12, "absolute",
               unit=" s"),
        Target("… and ≤ 4 GB peak RSS", "offline_10m", "peak_rss_mb", 4096, "absolute", unit=" MB", form="{:,.0f}"),
        Target("offline: 10x the data ≤ 12x the time", "offline_10m", "seconds", 12, "ratio", "offline_1m"),
        Target("offline, one key holding half the events: ≤ 2x the unskewed time", "offline_skew", "seconds", 2,
               "ratio", "offline_1m"),
        Target("online, 1 entity, 16 aggregate features up to 30 days, 10M events: SDK p50 ≤ 0.25 ms", "lookup_1",
               "p50_ms", 0.25, "absolute", unit=" ms", form="{:.3f}"),
        Target("… one Redis command per lookup (INFO commandstats)", "commands", "per_lookup", 1, "absolute",
               form="{:.2f}"),
        Target("… a 30-day window within 20 % of a 1-hour one (p50, one feature each)", "lookup_30d", "p50_ms", 1.2,
               "ratio", "lookup_1h", form="{:.3f}"),
        Target("online, 100 entities: SDK p50 ≤ 1.5 ms", "lookup_100", "p50_ms", 1.5, "absolute", unit=" ms",
               form="{:.3f}"),
        Target("HTTP, 1 entity, sequential: p50 ≤ 1.0 ms", "http_1_seq", "p50_ms", 1.0, "absolute", unit=" ms",
               form="{:.3f}"),
        Target("materialize 10M events → 10k entities: ≤ 5 s", "materialize", "seconds", 5, "absolute", unit=" s"),
    ]


def targets_table(found: dict[str, Any]) -> str:
    """Each issue-12 target with its measured number and whether it is met (failed cases say why)."""
    return report_transforms.targets_table(found, targets(), issue=12)


def _cell(case: dict[str, Any] | None, key: str, form: str) -> str:
    value = (case or {}).get(key)
    return "—" if value is None else form.format(value)


def section(found: dict[str, Any]) -> list[str]:
    """The markdown lines of the section."""
    out = ["", "## Aggregations (issue 12)", "",
           "Training sets of an aggregate view (count, sum, mean and max of `amount` over 1 h, 1 d and 7 d: 12 "
           "features), each in a fresh process, from the call to the Arrow table; \"by hand\" is the DuckDB "
           "self-join a user writes today (`JOIN … ON key AND ts BETWEEN T - w AND T` then `GROUP BY` the entity "
           "row), on the same files.", "",
           "| shape | featurestore s | peak RSS MB | by hand s | by hand peak RSS MB |", "|---|---:|---:|---:|---:|"]
    for shape, label in (("1m", "100k rows / 1M events"), ("10m", "1M rows / 10M events"),
                         ("skew", "100k rows / 1M events, one key 50 %")):
        ours, hand = found.get(f"offline_{shape}"), found.get(f"by_hand_{shape}")
        out.append(f"| {label} | {_cell(ours, 'seconds', '{:.2f}')} | {_cell(ours, 'peak_rss_mb', '{:,.0f}')} | "
                   f"{_cell(hand, 'seconds', '{:.2f}')} | {_cell(hand, 'peak_rss_mb', '{:,.0f}')} |")
    mat = found.get("materialize") or {}
    out += ["", "Online (10M events, 10k entities, 16 aggregate features up to 30 days, private redis-server): "
            f"materialize {_cell(mat, 'seconds', '{:.2f}')} s, peak RSS {_cell(mat, 'peak_rss_mb', '{:,.0f}')} MB; "
            "SDK lookups p50 / p99 over "
            f"{_cell(found.get('lookup_1'), 'n', '{:,}')} calls.", "",
            "| lookup | p50 ms | p99 ms |", "|---|---:|---:|"]
    for case, label in (("lookup_1", "1 entity, 16 features"), ("lookup_100", "100 entities, 16 features"),
                        ("lookup_1h", "1 entity, `count_1h` only"), ("lookup_30d", "1 entity, `count_30d` only"),
                        ("http_1_seq", "HTTP, 1 entity, 16 features, sequential")):
        c = found.get(case)
        out.append(f"| {label} | {_cell(c, 'p50_ms', '{:.3f}')} | {_cell(c, 'p99_ms', '{:.3f}')} |")
    out += ["", targets_table(found)]
    return out
