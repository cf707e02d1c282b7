"""The transformations section of ``bench/RESULTS.md`` (issue 11): what was measured, and each target met or not.

``results["transforms"]`` holds the featurestore-only cases at 1x, each a workload's JSON (``bench/run.py``
``transforms``): ``training_set`` (the plain view ``stats``, measured beside the others so both see the same
machine) and ``training_set_batch`` (``stats_tx``: the same source through a Polars batch transform, cold: a
fresh process and store, so the transform runs in the timed call). The targets are rows of :func:`targets`;
a target whose case is not in the results shows "not measured", so the on-demand ones are slots waiting for
their cases (``lookup_on_demand_polars_1`` etc.: add the workload to ``bench/run.py`` ``transforms`` and the
row here needs nothing more).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class TransformTarget:
    """``case``'s ``key`` against ``limit``: as a multiple of ``base``'s (``ratio``), as a difference from it in
    the key's unit (``difference``), or as it is (``absolute``); ``higher``: at least the limit, else at most."""

    label: str
    case: str
    key: str
    limit: float
    how: Literal["ratio", "difference", "absolute"] = "ratio"
    base: str | None = None
    higher: bool = False
    unit: str = ""
    form: str = "{:.2f}"


def targets() -> list[TransformTarget]:
    """Every speed target of issue 11, in the issue's order."""
    return [
        TransformTarget("online, 1 entity, on-demand view of 3 Polars expressions: SDK p50 within 0.15 ms of the "
                        "plain lookup", "lookup_on_demand_polars_1", "p50_ms", 0.15, "difference", "lookup_1",
                        unit=" ms", form="{:.3f}"),
        TransformTarget("online, 1 entity, on-demand Python row function: SDK p50 within 0.03 ms of the plain lookup",
                        "lookup_on_demand_python_1", "p50_ms", 0.03, "difference", "lookup_1", unit=" ms",
                        form="{:.3f}"),
        TransformTarget("offline, 100k entity rows: on-demand Polars expressions ≤ 1.15x the training set's seconds",
                        "training_set_on_demand", "seconds", 1.15, "ratio", "training_set"),
        TransformTarget("offline: the Python row function ≥ 500,000 rows/s", "python_function", "rows_per_s",
                        500_000, "absolute", higher=True, unit=" rows/s", form="{:,.0f}"),
        TransformTarget("Polars batch transform on the 1M-row source: training set ≤ 1.30x the plain one's seconds "
                        "(first call: the transform runs)", "training_set_batch", "seconds", 1.30, "ratio",
                        "training_set"),
        TransformTarget("Polars batch transform: peak RSS ≤ 1.5x the plain training set's", "training_set_batch",
                        "peak_rss_mb", 1.5, "ratio", "training_set", form="{:,.0f}"),
    ]


def _measured(t: TransformTarget, found: dict[str, Any]) -> tuple[str, bool] | None:
    """The measured cell and whether the target is met; None when a case did not run (or failed)."""
    ours = (found.get(t.case) or {}).get(t.key)
    base = (found.get(t.base) or {}).get(t.key) if t.base else None
    if ours is None or (t.base and not base):
        return None
    if t.how == "absolute":
        value, cell = ours, f"{t.form.format(ours)}{t.unit}"
    elif t.how == "difference":
        value = ours - base
        cell = f"{value:+.3f}{t.unit} ({t.form.format(ours)} vs {t.form.format(base)})"
    else:
        value = ours / base
        cell = f"{value:.2f}x ({t.form.format(ours)} vs {t.form.format(base)})"
    return cell, (value >= t.limit if t.higher else value <= t.limit)


def targets_table(found: dict[str, Any], listed: list[TransformTarget] | None = None, issue: int = 11) -> str:
    """Each target (default: issue 11's) with its measured number and whether it is met (failed cases say why)."""
    lines = [f"| target (issue {issue}) | measured | met |", "|---|---:|---|"]
    for t in targets() if listed is None else listed:
        measured = _measured(t, found)
        if measured is None:
            error = next((c["error"] for c in (found.get(t.case), found.get(t.base or ""))
                          if isinstance(c, dict) and "error" in c), None)
            lines.append(f"| {t.label} | {'failed: ' + error if error else 'not measured'} | — |")
        else:
            lines.append(f"| {t.label} | {measured[0]} | {'yes' if measured[1] else '**no**'} |")
    return "\n".join(lines)


def cases_table(found: dict[str, Any]) -> str:
    """The training sets measured for the targets: plain and batch-transformed, first call and warm."""
    rows = [("plain view `stats` (f0..f9)", "training_set"),
            ("`stats_tx`: the same source through a Polars batch transform (filter + `f01 = f0 * f1`), "
             "f0..f9 and f01", "training_set_batch")]
    lines = ["| training set (1x) | seconds, first call | seconds, warm (file reused) | peak RSS MB |",
             "|---|---:|---:|---:|"]
    for label, case in rows:
        run = found.get(case)
        if not run:
            continue
        if "error" in run:
            lines.append(f"| {label} | failed: {run['error']} |  |  |")
            continue
        warm = f"{run['warm_seconds']:.2f}" if "warm_seconds" in run else "—"
        lines.append(f"| {label} | {run['seconds']:.2f} | {warm} | {run['peak_rss_mb']:,.0f} |")
    return "\n".join(lines)


def section(found: dict[str, Any]) -> list[str]:
    """The lines of the transformations section."""
    return ["", "### Transformations (issue 11), featurestore at 1x", "", cases_table(found), "",
            targets_table(found)]
