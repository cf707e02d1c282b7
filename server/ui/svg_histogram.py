"""A feature's distribution as an inline SVG (:func:`histogram_svg`), from its :class:`FeatureProfile`.

Numeric features: the profile's 200 inner fine bins merged into fewer display bars (consecutive groups of equal
size), with the underflow (``x < lo``) and overflow (``x >= hi``) bins as separate ``outside`` bars at the ends
when they hold values; a constant feature's three bins (below, equal to, above the value) as three bars.
Categorical features: one horizontal bar per top value. No script and no ``<style>``: elements carry classes
(``bar``, ``bar outside``, ``label``, ``axis``) for the page's style sheet, and explicit ``fill`` attributes so
the SVG also renders without it. Every bar has ``data-count`` (numeric bars also ``data-lo`` / ``data-hi``, the
bounds of ``[lo, hi)`` as Python float reprs, ``-inf`` / ``inf`` for the outside bars), and a ``<title>``.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from html import escape

from featurestore import FeatureProfile, Histogram

FINE_BINS = 200
"""Inner bins of a profile's histogram (``featurestore.monitoring.histograms``; the counts add under/overflow)."""

BAR_FILL = "#5b8bd0"
OUTSIDE_FILL = "#d08b3a"
AXIS = 'stroke="currentColor" stroke-opacity="0.35"'
TEXT = 'fill="currentColor" font-size="10"'
PAD_X, TOP, BOTTOM = 4, 14, 16
"""Side margin; room above the bars (the max-count label) and below them (the lo / hi labels)."""
OUTSIDE_GAP = 0.6
"""The space between an outside bar and the inner bars, in bar widths."""
ROW_H, LABEL_W, COUNT_W, LABEL_CHARS = 18, 150, 56, 24
"""Categorical bars: row height, the value labels' column, room for the count after a bar, label length."""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _g(x: float) -> str:
    return f"{x:.4g}"


def svg_id(prefix: str, name: str) -> str:
    """An id unique per name: ``prefix``, the name reduced to ``[A-Za-z0-9_-]``, and a hash of the exact name (so
    ``a.b`` and ``a_b`` differ).

    >>> svg_id("h-", "conv rate")
    'h-conv_rate-...'
    """
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:40]
    return f"{prefix}{safe}-{hashlib.blake2s(name.encode(), digest_size=4).hexdigest()}"


def truncate(text: str, chars: int) -> str:
    """``text`` cut to ``chars`` characters, the last one an ellipsis when it was longer.

    >>> truncate("driver_statistics", 8)
    'driver_…'
    """
    return text if len(text) <= chars else text[:max(chars - 1, 0)] + "…"


@dataclass(frozen=True)
class Bar:
    """One display bar: values in ``[lo, hi)`` (``lo == hi``: equal to ``lo``), ``count`` of them, ``outside``
    the histogram's range (under/overflow), ``what`` in words for its title."""

    lo: float
    hi: float
    count: int
    outside: bool
    what: str


def group_size(bars: int) -> int:
    """How many fine bins one display bar merges: the smallest divisor of 200 giving at most ``bars`` bars.

    >>> group_size(40), group_size(30), group_size(1000)
    (5, 8, 1)
    """
    return next(g for g in range(1, FINE_BINS + 1) if FINE_BINS % g == 0 and FINE_BINS // g <= max(bars, 1))


def numeric_bars(h: Histogram, bars: int = 40) -> tuple[Bar | None, list[Bar], Bar | None]:
    """The underflow bar (None when empty), the inner bars and the overflow bar (None when empty); the three bars of
    a constant feature (the outer two even when empty)."""
    counts = h.counts
    if len(counts) == 3:
        v = h.lo
        return (Bar(-math.inf, v, counts[0], True, f"below {_g(v)}"),
                [Bar(v, v, counts[1], False, f"equal to {_g(v)}")], Bar(v, math.inf, counts[2], True, f"above {_g(v)}"))
    edges = [float(x) for x in h.bins.edges()]
    edges[-1] = h.hi  # overflow is x >= hi
    g = group_size(bars)
    inner = [Bar(edges[i], edges[i + g], sum(counts[1 + i:1 + i + g]), False, f"[{_g(edges[i])}, {_g(edges[i + g])})")
             for i in range(0, FINE_BINS, g)]
    under = Bar(-math.inf, h.lo, counts[0], True, f"below {_g(h.lo)}") if counts[0] else None
    over = Bar(h.hi, math.inf, counts[-1], True, f"{_g(h.hi)} or above") if counts[-1] else None
    return under, inner, over


def _values(n: int) -> str:
    return f"{n:,} value{'' if n == 1 else 's'}"


def _rows(feature: FeatureProfile) -> str:
    """``1,000 rows: 990 values, 10 missing``."""
    missing = f", {feature.missing:,} missing" if feature.missing else ""
    return f"{feature.rows:,} row{'' if feature.rows == 1 else 's'}: {_values(feature.count)}{missing}"


def _open(feature: FeatureProfile, ident: str, width: int, height: int, desc: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="histogram" data-feature="{_e(feature.name)}" '
            f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px" role="img" '
            f'aria-labelledby="{ident}-title {ident}-desc">'
            f'<title id="{ident}-title">histogram of {_e(feature.name)}</title>'
            f'<desc id="{ident}-desc">{_e(desc)}</desc>')


def _rect(bar: Bar, x: float, y: float, w: float, h: float, numeric: bool) -> str:
    attrs = f' data-lo="{bar.lo!r}" data-hi="{bar.hi!r}"' if numeric else f' data-value="{_e(bar.what)}"'
    cls, fill = ("bar outside", OUTSIDE_FILL) if bar.outside else ("bar", BAR_FILL)
    title = f"{bar.what}: {_values(bar.count)}"
    return (f'<rect class="{cls}" data-count="{bar.count}"{attrs} x="{x:.2f}" y="{y:.2f}" width="{w:.2f}" '
            f'height="{h:.2f}" fill="{fill}"><title>{_e(title)}</title></rect>')


def _numeric(feature: FeatureProfile, h: Histogram, ident: str, width: int, height: int, bars: int) -> str:
    under, inner, over = numeric_bars(h, bars)
    drawn = [b for b in (under, *inner, over) if b is not None]
    top = max(b.count for b in drawn)
    if top == 0:
        return ""
    tallest = next(b for b in drawn if b.count == top)
    units = len(inner) + sum(1 + OUTSIDE_GAP for b in (under, over) if b is not None)
    bw = (width - 2 * PAD_X) / units
    space = min(1.0, bw * 0.15)
    plot_h = height - TOP - BOTTOM
    base = TOP + plot_h

    def rect(bar: Bar, x: float) -> str:
        bh = plot_h * bar.count / top
        return _rect(bar, x, base - bh, max(bw - space, 0.5), bh, True)

    parts: list[str] = []
    x = float(PAD_X)
    if under is not None:
        parts.append(rect(under, x))
        x += bw * (1 + OUTSIDE_GAP)
    x0 = x
    for bar in inner:
        parts.append(rect(bar, x))
        x += bw
    x1 = x
    if over is not None:
        parts.append(rect(over, x + bw * OUTSIDE_GAP))
    parts.append(f'<line class="axis" x1="{PAD_X}" y1="{base}" x2="{width - PAD_X}" y2="{base}" {AXIS}/>')
    if h.lo == h.hi:
        parts.append(f'<text class="label" x="{(x0 + x1) / 2:.2f}" y="{height - 4}" text-anchor="middle" {TEXT}>'
                     f"{_e(_g(h.lo))}</text>")
    else:
        parts.append(f'<text class="label" x="{x0:.2f}" y="{height - 4}" {TEXT}>{_e(_g(h.lo))}</text>')
        parts.append(f'<text class="label" x="{x1:.2f}" y="{height - 4}" text-anchor="end" {TEXT}>'
                     f"{_e(_g(h.hi))}</text>")
    parts.append(f'<text class="label max" x="{PAD_X}" y="{TOP - 4}" {TEXT}>max {top:,} per bar</text>')
    desc = [_rows(feature)]
    if feature.min is not None and feature.max is not None:
        desc.append(f"min {_g(feature.min)}, max {_g(feature.max)}")
    if feature.infinite:
        desc.append(f"{feature.infinite:,} infinite")
    desc.append(f"the tallest bar, {tallest.what}, holds {_values(top)}")
    for end in (under, over):
        if end is not None and h.lo != h.hi:
            desc.append(f"{_values(end.count)} {end.what}")
    return _open(feature, ident, width, height, "; ".join(desc)) + "".join(parts) + "</svg>"


def _categorical(feature: FeatureProfile, ident: str, width: int) -> str:
    top = max(c for _, c in feature.top)
    if top == 0:
        return ""
    shown = sum(c for _, c in feature.top)
    more = (feature.distinct or len(feature.top)) - len(feature.top)
    height = 4 + ROW_H * (len(feature.top) + (1 if more > 0 else 0))
    x0 = PAD_X + LABEL_W
    max_w = max(width - x0 - COUNT_W - PAD_X, 10)
    parts: list[str] = []
    for i, (value, count) in enumerate(feature.top):
        y = 4 + i * ROW_H
        w = max_w * count / top
        label = truncate(value, LABEL_CHARS)
        full = f"<title>{_e(value)}</title>" if label != value else ""
        parts.append(f'<text class="label" x="{x0 - 6}" y="{y + 12}" text-anchor="end" {TEXT}>{full}'
                     f"{_e(label)}</text>")
        parts.append(_rect(Bar(0.0, 0.0, count, False, value), x0, y + 2, w, ROW_H - 4, False))
        parts.append(f'<text class="label count" x="{x0 + w + 4:.2f}" y="{y + 12}" {TEXT}>{count:,}</text>')
    if more > 0:
        rest = feature.count - shown
        parts.append(f'<text class="label more" x="{x0}" y="{4 + len(feature.top) * ROW_H + 12}" {TEXT}>'
                     f"and {more:,} more value{'' if more == 1 else 's'} ({rest:,} rows)</text>")
    first, first_count = feature.top[0]
    desc = _rows(feature) + (f"; {feature.distinct or len(feature.top):,} distinct; the most frequent, {first}, "
             f"{first_count:,} time{'' if first_count == 1 else 's'}")
    return _open(feature, ident, width, height, desc) + "".join(parts) + "</svg>"


def histogram_svg(feature: FeatureProfile, *, width: int = 360, height: int = 120, bars: int = 40,
                  id_prefix: str = "h-") -> str:
    """The inline SVG of ``feature``'s distribution, ``""`` when it has no values to draw.

    ``width`` x ``height``: the drawing's size in CSS pixels (it scales down to narrower containers; a
    categorical one is as tall as its rows need); ``bars``: at most this many inner bars (the 200 fine bins
    are merged in groups of a divisor of 200); ``id_prefix``: of the element ids (title, description), which
    also hold the feature's name: a page showing the same feature twice gives each a different prefix.
    """
    if feature.count <= 0:
        return ""
    ident = svg_id(id_prefix, feature.name)
    if feature.kind == "categorical":
        return _categorical(feature, ident, width) if feature.top else ""
    if feature.histogram is None or len(feature.histogram.counts) not in (3, FINE_BINS + 2):
        return ""
    return _numeric(feature, feature.histogram, ident, width, height, bars)
