"""The data quality and monitoring section of ``bench/RESULTS.md`` (issue 13): what was measured, each target met
or not.

``results["monitoring"]`` (``bench/run.py`` ``monitoring``) holds: ``validation_sqlite`` and ``validation_redis``
(``bench/validation.py``: ``validate_s``, a dry run of 6 expectations over the 1M-row × 10-feature source;
``materialize_checked_s``, a materialize of the same view, its validation included; ``materialize_plain_s``, the
same view without expectations; ``ratio`` = (checked − plain) / plain, what validation adds; ``dry_run_ratio`` =
validate / plain), ``profile`` (``bench/profile.py``:
``profile_seconds`` for 10M rows × 10 Float64 features from Parquet, ``drift_seconds`` for two 1M-row samples) and
``feature_log_plain`` / ``feature_log_logged`` (``bench/feature_log.py``: HTTP p50/p99 of a 1-entity lookup of a
service without and with ``logging=LoggingConfig(sample_rate=1.0)``, alternated runs, medians).
"""

from __future__ import annotations

from typing import Any

from bench import report_transforms
from bench.report_transforms import TransformTarget

Target = TransformTarget


def targets() -> list[Target]:
    """Every speed target of issue 13, in the issue's order."""
    return [
        Target("validation adds ≤ 10 % to materialize time (SQLite, 1M rows × 10 features, 6 expectations)",
               "validation_sqlite", "ratio", 0.10, "absolute", form="{:.3f}"),
        Target("… the same into Redis", "validation_redis", "ratio", 0.10, "absolute", form="{:.3f}"),
        Target("statistics of 10M rows × 10 features from Parquet ≤ 2.5 s", "profile", "profile_seconds", 2.5,
               "absolute", unit=" s"),
        Target("feature logging: HTTP p50 ≤ 1.05x without logging (1 entity, sequential)", "feature_log_logged",
               "p50_ms", 1.05, "ratio", "feature_log_plain", form="{:.3f}"),
    ]


def targets_table(found: dict[str, Any]) -> str:
    """Each issue-13 target with its measured number and whether it is met (failed cases say why)."""
    return report_transforms.targets_table(found, targets(), issue=13)


def _cell(case: dict[str, Any] | None, key: str, form: str) -> str:
    value = (case or {}).get(key)
    return "—" if value is None else form.format(value)


def section(found: dict[str, Any]) -> list[str]:
    """The markdown lines of the section."""
    out = ["", "## Data quality and monitoring (issue 13)", "",
           "Expectations: `store.validate` (one DuckDB query over the source range, NaN-safe; best of 3) beside a "
           "materialize of the same view (its validation included: it runs beside the latest-rows query) and of the "
           "view without expectations (medians of alternated pairs); \"added\" is (with − without) / without, "
           "\"dry run\" the dry run's time / without.", "",
           "| online store | rows | validate s | materialize s | without expectations s | added | dry run |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for store in ("sqlite", "redis"):
        c = found.get(f"validation_{store}")
        out.append(f"| {store} | {_cell(c, 'rows', '{:,}')} | {_cell(c, 'validate_s', '{:.3f}')} | "
                   f"{_cell(c, 'materialize_checked_s', '{:.3f}')} | {_cell(c, 'materialize_plain_s', '{:.3f}')} | "
                   f"{_cell(c, 'ratio', '{:.1%}')} | {_cell(c, 'dry_run_ratio', '{:.1%}')} |")
    prof = found.get("profile") or {}
    plain, logged = found.get("feature_log_plain") or {}, found.get("feature_log_logged") or {}
    out += ["", f"Statistics: {_cell(prof, 'rows', '{:,}')} rows × {_cell(prof, 'features', '{}')} features from "
            f"Parquet in {_cell(prof, 'profile_seconds', '{:.2f}')} s "
            f"({_cell(prof, 'profile_rows_per_second', '{:,}')} rows/s); drift of two "
            f"{_cell(prof, 'drift_rows_per_side', '{:,}')}-row samples in {_cell(prof, 'drift_seconds', '{:.2f}')} s.",
            "", "Feature logging, HTTP, 1 entity, sequential (medians of alternated runs):", "",
            "| service | p50 ms | p99 ms | requests/s |", "|---|---:|---:|---:|"]
    for label, c in (("without logging", plain), ("logging every lookup", logged)):
        out.append(f"| {label} | {_cell(c, 'p50_ms', '{:.3f}')} | {_cell(c, 'p99_ms', '{:.3f}')} | "
                   f"{_cell(c, 'rps', '{:,.0f}')} |")
    out += ["", targets_table(found)]
    return out
