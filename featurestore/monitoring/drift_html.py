"""A :class:`~featurestore.monitoring.drift_report.DriftReport` as one self-contained HTML page.

Per feature, an inline SVG of the reference (filled bars) and current (outlined bars) shares on the compared
bins: the reference's fine bins for numeric features (under/overflow at the ends), the categories for
categorical ones. No plotting library, no script, no external style sheet or font: the page opens offline.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from featurestore.monitoring.drift_report import DriftReport, FeatureDrift

WIDTH, HEIGHT, PAD = 640, 180, 24
COLORS = {"ok": "#2e7d32", "warn": "#ef6c00", "alert": "#c62828", "insufficient_data": "#757575"}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; }
table { border-collapse: collapse; margin: 12px 0; }
td, th { padding: 3px 10px; border-bottom: 1px solid #ddd; text-align: left; font-size: 13px; }
.status { font-weight: bold; }
section { margin: 28px 0; }
svg { border: 1px solid #eee; background: #fff; }
.legend { font-size: 12px; color: #555; }
"""


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def _svg(f: FeatureDrift) -> str:
    r = [float(x) for x in f.reference_counts]
    c = [float(x) for x in f.current_counts]
    n = len(r)
    rt, ct = sum(r) or 1.0, sum(c) or 1.0
    shares_r, shares_c = [x / rt for x in r], [x / ct for x in c]
    top = max(shares_r + shares_c + [1e-12])
    plot_w, plot_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    bw = plot_w / max(n, 1)
    parts = [f'<svg width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(f.name)} histogram">']
    parts.append(f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>')
    for i in range(n):
        x = PAD + i * bw
        for share, style in ((shares_r[i], 'fill="#90caf9"'), (shares_c[i], 'fill="none" stroke="#e65100"')):
            h = plot_h * share / top
            if h > 0:
                parts.append(f'<rect x="{x:.2f}" y="{HEIGHT - PAD - h:.2f}" width="{max(bw - 0.5, 0.5):.2f}" '
                             f'height="{h:.2f}" {style}><title>{escape(f.bins[i]) if i < len(f.bins) else i}: '
                             f'{share:.4f}</title></rect>')
    if f.bins:
        parts.append(f'<text x="{PAD}" y="{HEIGHT - 6}" font-size="11">{escape(f.bins[0])}</text>')
        parts.append(f'<text x="{WIDTH - PAD}" y="{HEIGHT - 6}" font-size="11" text-anchor="end">'
                     f'{escape(f.bins[-1])}</text>')
    parts.append(f'<text x="{PAD}" y="{PAD - 8}" font-size="11">max share {top:.4f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render(report: DriftReport) -> str:
    """The page: a summary table, then one section with an SVG per feature."""
    rows = "".join(
        f'<tr><td>{escape(f.name)}</td><td class="status" style="color:{COLORS[f.status]}">{f.status}</td>'
        f"<td>{_num(f.psi)}</td><td>{_num(f.ks)}{'' if f.metric == 'ks' else ' (L∞)'}</td><td>{_num(f.js)}</td>"
        f"<td>{f.rows_reference:,}</td><td>{f.rows_current:,}</td><td>{_num(f.null_ratio_change)}</td>"
        f"<td>{_num(f.unseen_ratio)}</td></tr>"
        for f in report.features.values())
    sections = "".join(
        f'<section><h2>{escape(f.name)} <span style="color:{COLORS[f.status]}">{f.status}</span></h2>'
        f'<p class="legend">PSI {_num(f.psi)} · {"KS" if f.metric == "ks" else "L∞"} {_num(f.ks)} · JS {_num(f.js)}'
        f" · reference: filled, current: outlined</p>{_svg(f)}</section>"
        for f in report.features.values())
    title = f"Drift of {escape(report.what)}: {report.status}"
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{STYLE}</style></head><body><h1>{title}</h1>"
        f"<p>reference: {escape(report.reference)}<br>current: {escape(report.current)}<br>"
        f"PSI warn {report.warn} / alert {report.alert}; no verdict below {report.min_rows:,} values per side; "
        f"checked at {escape(report.checked_at)}</p>"
        "<table><tr><th>feature</th><th>status</th><th>PSI</th><th>KS / L∞</th><th>JS</th><th>rows ref</th>"
        f"<th>rows cur</th><th>null Δ</th><th>unseen</th></tr>{rows}</table>{sections}</body></html>\n"
    )
