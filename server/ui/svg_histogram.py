"""Interim histogram SVG (replaced by the helper's module at merge)."""

from __future__ import annotations

from html import escape

from featurestore import FeatureProfile


def histogram_svg(feature: FeatureProfile, *, width: int = 360, height: int = 120, bars: int = 40) -> str:
    counts: list[tuple[str, int]] = []
    if feature.histogram is not None:
        counts = [(str(i), c) for i, c in enumerate(feature.histogram.counts)]
    elif feature.top:
        counts = list(feature.top)
    if not counts or not any(c for _, c in counts):
        return ""
    top = max(c for _, c in counts)
    w = width / len(counts)
    rects = "".join(f'<rect class="bar" data-count="{c}" x="{i * w:.1f}" y="{height - height * c / top:.1f}" '
                    f'width="{max(w - 0.5, 0.5):.1f}" height="{height * c / top:.1f}" fill="#1565c0">'
                    f'<title>{escape(k)}: {c}</title></rect>' for i, (k, c) in enumerate(counts))
    return (f'<svg role="img" aria-label="histogram of {escape(feature.name)}" width="100%" '
            f'viewBox="0 0 {width} {height}" style="max-width:{width}px">{rects}</svg>')
