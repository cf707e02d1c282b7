"""Interim lineage SVG (replaced by the helper's module at merge)."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from featurestore import Lineage, Node


def lineage_svg(lineage: Lineage, href: Callable[[Node], str | None], *, max_nodes: int = 400) -> str:
    ids = [lineage.root, *lineage.upstream, *lineage.downstream]
    parts = []
    for i, n in enumerate(ids):
        node = lineage.nodes[n]
        box = (f'<g class="node" data-node="{escape(n)}"><rect x="10" y="{i * 40 + 5}" width="300" height="30" '
               f'fill="#eee"/><text x="20" y="{i * 40 + 25}">{escape(node.kind)} {escape(node.name)}</text></g>')
        link = href(node)
        parts.append(f'<a href="{escape(link)}" aria-label="{escape(node.kind)} {escape(node.name)}">{box}</a>'
                     if link else box)
    return (f'<svg role="group" aria-label="lineage" width="100%" viewBox="0 0 320 {len(ids) * 40 + 10}">'
            + "".join(parts) + "</svg>")
