"""The reproducibility section of ``bench/RESULTS.md`` (issue 14): what was measured, each target met or not.

``results["reproducibility"]`` (``bench/run.py`` ``reproducibility``, from ``bench/reproducibility.py``) holds
``creation`` (``plain_s``: ``get_historical_features(...).to_parquet()`` of 10 features for the 1x entity frame;
``create_s``: ``create_training_set`` of the same; medians of alternated pairs; ``ratio``; ``recreate_s`` and
whether the re-creation was identical), and ``feature_table`` (``stats_tx``) and ``feature_table_window``
(``stats_roll``): ``transform_s``, the training set of the transformed view recomputing its Polars transform from
the raw source in a fresh store; ``table_s``, the same read from its offline feature table; ``speedup``;
``materialize_offline_s``, the run filling the table.
"""

from __future__ import annotations

from typing import Any

from bench import report_transforms
from bench.report_transforms import TransformTarget

Target = TransformTarget


def targets() -> list[Target]:
    """Every speed target of issue 14, in the issue's order."""
    return [
        Target("creating a training set ≤ 1.10x `get_historical_features(...).to_parquet()` (1x)", "creation",
               "ratio", 1.10, "absolute", form="{:.3f}"),
        Target("training set of a transformed view from its feature table ≥ 2x faster than recomputing the "
               "transform (1x): the bench's cheap transform (`stats_tx`)", "feature_table", "speedup", 2.0,
               "absolute", higher=True, form="{:.2f}"),
        Target("… a window transform (`stats_roll`: per-driver rolling means)", "feature_table_window", "speedup",
               2.0, "absolute", higher=True, form="{:.2f}"),
    ]


def _cell(case: dict[str, Any] | None, key: str, form: str) -> str:
    value = (case or {}).get(key)
    return "—" if value is None else form.format(value)


def section(found: dict[str, Any]) -> list[str]:
    """The markdown lines of the section."""
    c = found.get("creation") or {}
    out = ["", "## Reproducible training sets and feature tables (issue 14)", "",
           "Creating a versioned training set (output and entity frame written, both hashed, the source "
           "fingerprinted from its Parquet footer, a 10k-row profile, the manifest) against writing the same "
           "training set with `to_parquet`, one warm store, medians of alternated pairs:", "",
           "| rows | to_parquet s | create_training_set s | ratio | recreate s | identical | same bytes |",
           "|---:|---:|---:|---:|---:|---|---|",
           f"| {_cell(c, 'rows', '{:,}')} | {_cell(c, 'plain_s', '{:.3f}')} | {_cell(c, 'create_s', '{:.3f}')} | "
           f"{_cell(c, 'ratio', '{:.3f}')} | {_cell(c, 'recreate_s', '{:.3f}')} | {_cell(c, 'identical', '{}')} | "
           f"{_cell(c, 'bytes_identical', '{}')} |", "",
           "The training set of a view with a Polars batch transform of the 1M-row source, in a fresh store, read "
           "from its offline feature table or recomputing the transform (medians of alternated runs): `stats_tx` "
           "(a filter keeping every row and one product: 11 features) and `stats_roll` (per driver, the rolling "
           "mean of its last 10 rows of three features):", "",
           "| view | materialize-offline s | rows written | from the table s | recomputing s | speedup | same result |",
           "|---|---:|---:|---:|---:|---:|---|"]
    for view, key in (("stats_tx", "feature_table"), ("stats_roll", "feature_table_window")):
        t = found.get(key) or {}
        out.append(f"| {view} | {_cell(t, 'materialize_offline_s', '{:.2f}')} | {_cell(t, 'rows_written', '{:,}')} "
                   f"| {_cell(t, 'table_s', '{:.3f}')} | {_cell(t, 'transform_s', '{:.3f}')} | "
                   f"{_cell(t, 'speedup', '{:.2f}x')} | {_cell(t, 'same_result', '{}')} |")
    for case in (c, found.get("feature_table") or {}, found.get("feature_table_window") or {}):
        if "error" in case:
            out += ["", f"Not measured: {case['error']}"]
    out += ["", report_transforms.targets_table(found, targets(), issue=14)]
    return out
