"""The Spark engine section of ``bench/RESULTS.md``: training sets on ``local[N]`` beside DuckDB, per-row costs and
the cluster-size estimate (``results["spark"]``, from ``bench/spark.py``)."""

from __future__ import annotations

from typing import Any


def section(found: dict[str, Any]) -> list[str]:
    """Markdown lines of the section (a note when it was skipped or failed)."""
    out = ["", "## Spark offline engine", ""]
    if "skipped" in found or "error" in found:
        return [*out, f"Not measured: {found.get('skipped') or found.get('error')}"]
    out += [f"Training set of `stats:f0..f9` on `{_master(found)}` ({found['cores']} cores; Spark session start "
            f"{found.get('session_start_seconds', 0):.1f} s, not included), warm call; per-row cost = seconds x "
            "cores / (source rows + entity rows).", "",
            "| scale | source rows | entity rows | DuckDB s | Spark s (first) | Spark s (warm) | DuckDB rows/s | "
            "Spark rows/s | DuckDB core-µs/row | Spark core-µs/row | equal |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for scale, s in sorted(found["scales"].items(), key=lambda kv: int(kv[0])):
        d, p = s["duckdb"], s["spark"]
        out.append(f"| {scale}x | {s['source_rows']:,} | {s['entity_rows']:,} | {d['warm_seconds']:.2f} | "
                   f"{p['first_seconds']:.2f} | {p['warm_seconds']:.2f} | {d['rows_per_s']:,.0f} | "
                   f"{p['rows_per_s']:,.0f} | {d['core_us_per_row']:.2f} | {p['core_us_per_row']:.2f} | "
                   f"{'yes' if s['spark_equals_duckdb'] else '**no**'} |")
    e = found["estimate"]
    out += ["", f"Estimate for {e['source_rows']:,} source rows and {e['entity_rows']:,} entity rows in "
            f"{e['minutes']:.0f} minutes at {e['core_us_per_row']:.2f} core-µs per row: {e['cores']:,} cores, "
            f"{e['workers_8_cores']:,} workers of 8 cores (network shuffle and skew not measured on one machine)."]
    return out


def _master(found: dict[str, Any]) -> str:
    return str(next(iter(found["scales"].values()), {}).get("master", "local"))
