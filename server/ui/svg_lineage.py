"""An object's lineage as an inline SVG graph (:func:`lineage_svg`), laid out by :func:`layout`.

The layout is layered (Sugiyama-style), data flowing left to right: a node's column (layer) is the longest path to
it from a node with no incoming edge, so every edge goes to a later column; within a column, nodes are ordered by
a few barycenter sweeps (down, then up) that reduce edge crossings. Cycles (a lineage is a DAG, but the layout
does not rely on it) are broken by leaving out the back edges a depth-first search finds. Everything is
deterministic: ties are broken by node id, and the input's order does not matter.

The SVG has one box per node (``<g class="node kind-<kind>" data-node="<id>">``, the root also ``root``), a link
around it when ``href`` gives one, and a ``<path class="edge">`` with an arrow per edge: a cubic Bézier curve from
the right side of one box to the left side of the other; an edge spanning several columns runs horizontally through
the free space between the boxes of each column it crosses. No script and no ``<style>``: classes for the page's
style sheet, explicit colours so it renders without it. The SVG holds links, so it is ``role="group"`` (with an
``aria-label``), not ``role="img"``.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Callable, Sequence
from html import escape

from featurestore import Lineage, Node

BOX_W, BOX_H, GAP_X, GAP_Y, PAD = 184, 42, 64, 20, 12
"""A node's box, the space between columns (where edges run) and between rows, the margin."""
NAME_CHARS = 24
"""The longest name drawn in full (at 13 px in a 184 px box); longer ones end with an ellipsis."""
MIN_SCALE = 0.8
"""The SVG shrinks with a narrow container down to this share of its size, then the page scrolls it."""
NOTE_H = 22
SWEEPS = 4
COLORS = {"feature_service": "#6a1b9a", "feature_view": "#1565c0", "aggregate_view": "#0277bd",
          "on_demand_feature_view": "#00838f", "entity": "#2e7d32", "push_source": "#ef6c00", "source": "#e65100",
          "request_source": "#f9a825", "feature_table": "#4e342e", "training_set": "#ad1457", "file": "#616161"}
"""A box's border colour per node kind (others: grey)."""
DETAILS = ("registry_version", "version", "rows", "path", "type", "owner")
"""The node details shown in a box's tooltip."""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _acyclic(nodes: list[str], succ: dict[str, list[str]]) -> tuple[dict[str, list[str]], list[str]]:
    """The edges without the back edges of a depth-first search (roots and children in id order), and the nodes
    in topological order of what is left."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    kept: dict[str, list[str]] = {n: [] for n in nodes}
    post: list[str] = []
    for start in nodes:
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(succ[start]))]
        while stack:
            v, children = stack[-1]
            for w in children:
                seen = state.get(w)
                if seen == 1:  # a back edge: it would close a cycle
                    continue
                kept[v].append(w)
                if seen is None:
                    state[w] = 1
                    stack.append((w, iter(succ[w])))
                    break
            else:
                state[v] = 2
                post.append(v)
                stack.pop()
    return kept, post[::-1]


def _sweep(layers: list[list[str]], links: dict[str, list[str]], pos: dict[str, float], order: range) -> None:
    """Reorder the layers in ``order`` by the mean position of each node's ``links`` (no links: its own)."""
    for i in order:
        layer = layers[i]
        bary = {v: sum(pos[u] for u in links[v]) / len(links[v]) if links[v] else pos[v] for v in layer}
        layer.sort(key=lambda v: (bary[v], v))
        middle = (len(layer) - 1) / 2
        for row, v in enumerate(layer):
            pos[v] = row - middle


def layout(node_ids: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, tuple[int, int]]:
    """Each node's ``(layer, row)``: the layer is the longest path to the node from one with no incoming edge
    (after back edges are left out, see the module docstring), rows are ``0 .. n - 1`` in each layer. Self loops,
    repeated edges and edges to unknown nodes are ignored.

    >>> layout(["c", "b", "a"], [("a", "c"), ("b", "c")])
    {'a': (0, 0), 'b': (0, 1), 'c': (1, 0)}
    """
    nodes = sorted(set(node_ids))
    known = set(nodes)
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in sorted(set(edges)):
        if a != b and a in known and b in known:
            succ[a].append(b)
    kept, topo = _acyclic(nodes, succ)
    pred: dict[str, list[str]] = {n: [] for n in nodes}
    layer = dict.fromkeys(nodes, 0)
    for v in topo:
        for w in kept[v]:
            pred[w].append(v)
            layer[w] = max(layer[w], layer[v] + 1)
    layers: list[list[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for v in nodes:
        layers[layer[v]].append(v)
    pos = {v: row - (len(lay) - 1) / 2 for lay in layers for row, v in enumerate(lay)}
    for _ in range(SWEEPS):
        _sweep(layers, pred, pos, range(1, len(layers)))
        _sweep(layers, kept, pos, range(len(layers) - 2, -1, -1))
    return {v: (i, row) for i, lay in enumerate(layers) for row, v in enumerate(lay)}


def nearest(lineage: Lineage, max_nodes: int) -> list[str]:
    """The root and the nodes nearest to it (hops along edges either way; at equal distance, breadth-first order
    with neighbours by id), at most ``max_nodes`` (at least the root)."""
    links: dict[str, set[str]] = {n: set() for n in (*lineage.nodes, lineage.root)}
    for a, b in lineage.edges:
        if a in links and b in links:
            links[a].add(b)
            links[b].add(a)
    seen = {lineage.root}
    out = [lineage.root]
    todo = deque([lineage.root])
    while todo and len(out) < max_nodes:
        for n in sorted(links[todo.popleft()] - seen):
            seen.add(n)
            out.append(n)
            todo.append(n)
    out += sorted(set(links) - seen)  # unreachable nodes (not in a real lineage) come last
    return out[:max(max_nodes, 1)]  # the last level reached may overshoot


def _node(lineage: Lineage, node_id: str) -> Node:
    if node_id in lineage.nodes:
        return lineage.nodes[node_id]
    kind, _, name = node_id.partition(":")  # ids are kind:name, a name may hold colons
    return Node(kind, name)


def _kind(kind: str) -> str:
    return kind.replace("_", " ")


def _box(node: Node, root: bool, url: str | None, x: int, y: int, layer: int, row: int) -> str:
    kind_class = re.sub(r"[^A-Za-z0-9_-]", "_", node.kind)
    label = f"{_kind(node.kind)} {node.name}"
    extra = [f"{k} {node.details[k]}" for k in DETAILS if k in node.details]
    title = label + "".join(f"\n{line}" for line in extra)
    name = node.name if len(node.name) <= NAME_CHARS else node.name[:NAME_CHARS - 1] + "…"
    color = COLORS.get(node.kind, "#757575")
    fill, stroke_w = ("#fff8e1", 2.5) if root else ("#ffffff", 1.5)
    body = (f"<title>{_e(title)}</title>"
            f'<rect class="box" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{fill}" stroke="{color}" '
            f'stroke-width="{stroke_w}"/>'
            f'<text class="kind" x="10" y="15" font-size="11" fill="{color}">{_e(_kind(node.kind))}</text>'
            f'<text class="name" x="10" y="33" font-size="13" fill="#1a1a1a">{_e(name)}</text>')
    if url is not None:
        body = f'<a href="{_e(url)}" aria-label="{_e(label)}">{body}</a>'
    return (f'<g class="node kind-{kind_class}{" root" if root else ""}" data-node="{_e(node.id)}" '
            f'data-layer="{layer}" data-row="{row}" transform="translate({x},{y})">{body}</g>')


class Grid:
    """Where :func:`layout`'s places are drawn: one column per layer, each column centred vertically."""

    def __init__(self, places: dict[str, tuple[int, int]]) -> None:
        self.places = places
        self.sizes: dict[int, int] = {}
        for layer, _ in places.values():
            self.sizes[layer] = self.sizes.get(layer, 0) + 1
        self.rows = max(self.sizes.values())
        self.columns = max(self.sizes) + 1
        self.width = 2 * PAD + self.columns * BOX_W + (self.columns - 1) * GAP_X
        self.height = 2 * PAD + self.rows * (BOX_H + GAP_Y) - GAP_Y

    def x(self, layer: int) -> int:
        return PAD + layer * (BOX_W + GAP_X)

    def y(self, layer: int, row: int) -> int:
        return PAD + (self.rows - self.sizes[layer]) * (BOX_H + GAP_Y) // 2 + row * (BOX_H + GAP_Y)

    def corner(self, node_id: str) -> tuple[int, int]:
        """The top left corner of a node's box."""
        layer, row = self.places[node_id]
        return self.x(layer), self.y(layer, row)

    def gap(self, layer: int, want: float) -> int:
        """The middle of the free space nearest to ``want`` in a column: between two boxes, above or below all."""
        tops = [self.y(layer, row) for row in range(self.sizes[layer])]
        free = [tops[0] - GAP_Y // 2] + [top + BOX_H + GAP_Y // 2 for top in tops]
        return min(free, key=lambda y: (abs(y - want), y))

    def route(self, a: str, b: str) -> str:
        """The path of the edge ``a -> b``: from the right side of a's box to the left side of b's, through the free
        space of the columns between (horizontal there), Bézier curves between columns."""
        (la, _), (lb, _) = self.places[a], self.places[b]
        (xa, ya), (xb, yb) = self.corner(a), self.corner(b)
        x, y = xa + BOX_W, ya + BOX_H // 2
        x2, y2 = xb, yb + BOX_H // 2
        d = [f"M{x},{y}"]
        for layer in range(la + 1, lb):  # a long edge: around the boxes of the columns it crosses
            gy = self.gap(layer, y + (y2 - y) * (layer - la) / (lb - la))
            enter = self.x(layer)
            dx = (enter - x) // 2
            d.append(f"C{x + dx},{y} {enter - dx},{gy} {enter},{gy} L{enter + BOX_W},{gy}")
            x, y = enter + BOX_W, gy
        dx = max((x2 - x) // 2, GAP_X // 2)
        d.append(f"C{x + dx},{y} {x2 - dx},{y2} {x2},{y2}")
        return " ".join(d)


def lineage_svg(lineage: Lineage, href: Callable[[Node], str | None], *, max_nodes: int = 400) -> str:
    """The inline SVG of ``lineage``: ``href(node)`` is the URL a node's box links to (None: no link); at most
    ``max_nodes`` nodes, the root and those nearest to it, with a note saying how many more there are."""
    ids = nearest(lineage, max_nodes)
    drawn = set(ids)
    omitted = len({*lineage.nodes, lineage.root}) - len(ids)
    edges = sorted({(a, b) for a, b in lineage.edges if a in drawn and b in drawn and a != b})
    grid = Grid(layout(ids, edges))
    width, height = grid.width, grid.height + (NOTE_H if omitted else 0)
    root = _node(lineage, lineage.root)
    arrow = "arrow-" + hashlib.blake2s(lineage.root.encode(), digest_size=5).hexdigest()
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" viewBox="0 0 {width} {height}" '
             f'width="100%" style="max-width:{width}px;min-width:{round(width * MIN_SCALE)}px" role="group" '
             f'aria-label="lineage of {_e(_kind(root.kind))} {_e(root.name)}">'
             f'<defs><marker id="{arrow}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
             f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8a8a8a"/></marker></defs>']
    parts += [f'<path class="edge" data-from="{_e(a)}" data-to="{_e(b)}" d="{grid.route(a, b)}" fill="none" '
              f'stroke="#8a8a8a" stroke-width="1.3" marker-end="url(#{arrow})"/>' for a, b in edges]
    for node_id in sorted(ids, key=lambda n: grid.places[n]):
        node = _node(lineage, node_id)
        parts.append(_box(node, node_id == lineage.root, href(node), *grid.corner(node_id), *grid.places[node_id]))
    if omitted:
        parts.append(f'<text class="note" data-omitted="{omitted}" x="{PAD}" y="{height - 8}" font-size="12" '
                     f'fill="currentColor">{omitted:,} more node{"" if omitted == 1 else "s"} not drawn</text>')
    parts.append("</svg>")
    return "".join(parts)


def _timing() -> None:
    """Print the layout's time on a random DAG of 1,000 nodes and 3,000 edges (``python -m server.ui.svg_lineage``).

    Measured: about 9 ms (best of 5, CPython 3.11 on a recent x86 server)."""
    import random
    import time

    rng = random.Random(0)
    ids = [f"n{i:04d}" for i in range(1000)]
    pairs: set[tuple[str, str]] = set()
    while len(pairs) < 3000:
        i, j = sorted(rng.sample(range(1000), 2))
        pairs.add((ids[i], ids[j]))
    edges = list(pairs)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        layout(ids, edges)
        times.append(time.perf_counter() - start)
    print(f"layout of 1,000 nodes and 3,000 edges: {min(times) * 1000:.1f} ms (best of 5)")


if __name__ == "__main__":
    _timing()
