"""The layered layout of a lineage graph (checked on random DAGs against a brute-force longest path) and its SVG."""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest

from featurestore import FeatureStore
from featurestore.demo import sample_data
from featurestore.lineage.graph import Lineage, Node
from server.ui.svg_lineage import BOX_H, BOX_W, layout, lineage_svg

NS = "{http://www.w3.org/2000/svg}"
ROOT = Path(__file__).resolve().parents[2]
END = datetime(2026, 3, 1, tzinfo=UTC)
Edges = list[tuple[str, str]]


def random_dag(seed: int, max_nodes: int = 300) -> tuple[list[str], Edges]:
    """1 to ``max_nodes`` nodes with random ids, edges that follow a random order of them (so: no cycle)."""
    rng = random.Random(seed)
    n = rng.randint(1, max_nodes)
    ids = [f"{rng.choice(['feature_view', 'source', 'file', 'entity'])}:{rng.randrange(10**6)}-{i}" for i in range(n)]
    rng.shuffle(ids)
    density = rng.choice([0.0, 0.5, 1.0, 2.0, 3.0])
    edges = {(ids[i], ids[j]) for _ in range(int(density * n)) for i, j in [sorted(rng.sample(range(n), 2))]} \
        if n > 1 else set()
    return ids, sorted(edges)


def longest_paths(ids: list[str], edges: Edges) -> dict[str, int]:
    """Brute force: each node's longest path from a node with no incoming edge, by plain recursion."""
    preds: dict[str, list[str]] = {n: [] for n in ids}
    for a, b in edges:
        preds[b].append(a)

    @cache
    def depth(node: str) -> int:
        return max((depth(p) + 1 for p in preds[node]), default=0)

    return {n: depth(n) for n in ids}


def reachable(start: str, edges: Edges) -> set[str]:
    """The nodes a path leads to from ``start`` (itself included)."""
    seen, todo = {start}, [start]
    while todo:
        v = todo.pop()
        for a, b in edges:
            if a == v and b not in seen:
                seen.add(b)
                todo.append(b)
    return seen


def check_layout(ids: list[str], edges: Edges, places: dict[str, tuple[int, int]]) -> None:
    """Every node placed once; rows 0 .. n - 1 in each layer."""
    assert set(places) == set(ids)
    assert len(set(places.values())) == len(places)
    layers: dict[int, list[int]] = {}
    for layer, row in places.values():
        layers.setdefault(layer, []).append(row)
    assert sorted(layers) == list(range(len(layers)))
    for rows in layers.values():
        assert sorted(rows) == list(range(len(rows)))


def crossings(edges: Edges, places: dict[str, tuple[int, int]]) -> int:
    """Crossings between edges joining the same two adjacent layers."""
    spans = [(places[a], places[b]) for a, b in edges if places[b][0] == places[a][0] + 1]
    return sum(1 for i, ((la, ra), (_, rb)) in enumerate(spans) for (lc, rc), (_, rd) in spans[i + 1:]
               if la == lc and (ra - rc) * (rb - rd) < 0)


@pytest.mark.parametrize("seed", range(40))
def test_layout_of_random_dags(seed: int) -> None:
    ids, edges = random_dag(seed)
    places = layout(ids, edges)
    check_layout(ids, edges, places)
    for a, b in edges:
        assert places[a][0] < places[b][0]
    assert {n: layer for n, (layer, _) in places.items()} == longest_paths(ids, edges)
    rng = random.Random(seed)
    shuffled_ids, shuffled_edges = ids[:], edges + edges[: len(edges) // 3]  # repeated edges change nothing
    rng.shuffle(shuffled_ids)
    rng.shuffle(shuffled_edges)
    assert layout(shuffled_ids, shuffled_edges) == places
    assert layout(tuple(ids), tuple(edges)) == places


def test_same_layout_in_other_processes() -> None:
    """No dependence on hash randomization: the same places under other PYTHONHASHSEED values."""
    ids, edges = random_dag(7)
    script = ("import json, sys; from server.ui.svg_lineage import layout; ids, edges = json.load(sys.stdin); "
              "print(json.dumps(sorted(layout(ids, [tuple(e) for e in edges]).items())))")
    for seed in ("1", "2"):
        run = subprocess.run([sys.executable, "-c", script], input=json.dumps([ids, edges]), capture_output=True,
                             text=True, check=True, cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": seed})
        assert json.loads(run.stdout) == [[n, list(p)] for n, p in sorted(layout(ids, edges).items())]


def test_barycenter_sweeps_remove_a_crossing() -> None:
    # by id, layer 1 would be c, d: the edges a -> d and b -> c would cross
    places = layout(["a", "b", "c", "d"], [("a", "d"), ("b", "c")])
    assert places == {"a": (0, 0), "b": (0, 1), "d": (1, 0), "c": (1, 1)}
    ids = [f"n{i:02d}" for i in range(12)]
    ladder = [(ids[i], ids[11 - i]) for i in range(6)]  # reversed by id: 15 crossings
    assert crossings(ladder, layout(ids, ladder)) == 0


def test_sweeps_reduce_crossings_on_random_dags() -> None:
    for seed in range(10):
        ids, edges = random_dag(seed, 60)
        places = layout(ids, edges)
        by_id = {n: (layer, row) for n, (layer, row) in places.items()}
        for layer in {layer for layer, _ in places.values()}:
            members = sorted(n for n, (lay, _) in places.items() if lay == layer)
            by_id.update({n: (layer, row) for row, n in enumerate(members)})
        assert crossings(edges, places) <= crossings(edges, by_id)


def test_cycles_terminate() -> None:
    places = layout(["a", "b", "c"], [("a", "b"), ("b", "c"), ("c", "a")])
    check_layout(["a", "b", "c"], [], places)
    assert places == {"a": (0, 0), "b": (1, 0), "c": (2, 0)}  # the back edge c -> a is left out
    assert layout(["a"], [("a", "a")]) == {"a": (0, 0)}
    assert layout([], []) == {}
    for seed in range(20):
        rng = random.Random(seed)
        ids, edges = random_dag(seed, 80)
        cyclic = edges + [(b, a) for a, b in rng.sample(edges, min(len(edges), 5))] + [(ids[0], ids[0])]
        places = layout(ids, cyclic)
        check_layout(ids, cyclic, places)
        forward = [(a, b) for a, b in cyclic if places[a][0] < places[b][0]]
        assert {n: layer for n, (layer, _) in places.items()} == longest_paths(ids, forward)
        for a, b in set(cyclic) - set(forward):  # left out: only edges that close a cycle
            assert a in reachable(b, cyclic)
        assert layout(list(reversed(ids)), list(reversed(cyclic))) == places
    assert layout(["a", "b"], [("a", "b"), ("a", "zzz")]) == {"a": (0, 0), "b": (1, 0)}  # unknown nodes ignored


def test_large_graph_runs() -> None:
    """1,000 nodes and 3,000 edges (``python -m server.ui.svg_lineage`` prints the time: ~10 ms)."""
    rng = random.Random(0)
    ids = [f"n{i:04d}" for i in range(1000)]
    edges: set[tuple[str, str]] = set()
    while len(edges) < 3000:
        i, j = sorted(rng.sample(range(1000), 2))
        edges.add((ids[i], ids[j]))
    places = layout(ids, sorted(edges))
    check_layout(ids, sorted(edges), places)
    assert all(places[a][0] < places[b][0] for a, b in edges)


# the SVG


def make_lineage(root: str, edges: Edges, extra: Sequence[str] = ()) -> Lineage:
    """A :class:`Lineage` of the nodes of ``edges`` (and ``extra``) around ``root``."""
    ids = {root, *extra, *(n for e in edges for n in e)}
    nodes = {n: Node(n.split(":", 1)[0], n.split(":", 1)[1]) for n in ids}
    others = tuple(sorted(ids - {root}))
    return Lineage(root, nodes, tuple(sorted(edges)), others, ())


def parse(svg: str) -> ET.Element:
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg"
    assert not any(e.tag in (f"{NS}script", f"{NS}style") for e in root.iter())
    return root


def groups(root: ET.Element) -> dict[str, ET.Element]:
    found = [g for g in root.iter(f"{NS}g") if "node" in g.get("class", "").split()]
    out = {g.get("data-node", ""): g for g in found}
    assert len(out) == len(found)
    return out


def corner(g: ET.Element) -> tuple[float, float]:
    found = re.fullmatch(r"translate\(([-\d.]+),([-\d.]+)\)", g.get("transform", ""))
    assert found
    return float(found[1]), float(found[2])


def check_svg(svg: str, lineage: Lineage, drawn: int | None = None) -> ET.Element:
    """Well-formed, one group per node, one edge per edge between drawn nodes, from box side to box side."""
    root = parse(svg)
    assert root.get("role") == "group" and root.get("width") == "100%"
    kind, name = lineage.root.split(":", 1)
    assert root.get("aria-label") == f"lineage of {kind.replace('_', ' ')} {name}"
    width = int(root.get("viewBox", "").split()[2])
    assert f"max-width:{width}px" in root.get("style", "")
    nodes = groups(root)
    assert len(nodes) == (len(lineage.nodes) if drawn is None else drawn)
    assert lineage.root in nodes and "root" in nodes[lineage.root].get("class", "").split()
    assert sum("root" in g.get("class", "").split() for g in nodes.values()) == 1
    for node_id, g in nodes.items():
        node = lineage.nodes[node_id]
        assert f"kind-{node.kind}" in g.get("class", "").split()
        texts = {t.get("class"): "".join(t.itertext()) for t in g.iter(f"{NS}text")}
        assert texts["kind"] == node.kind.replace("_", " ")
        assert texts["name"] == node.name or (len(node.name) > 24 and texts["name"] == node.name[:23] + "…")
        titles = [t.text or "" for t in g.iter(f"{NS}title")]
        assert len(titles) == 1 and titles[0].split("\n")[0] == f"{node.kind.replace('_', ' ')} {node.name}"
    markers = [m.get("id") for m in root.iter(f"{NS}marker")]
    assert len(markers) == 1
    paths = [p for p in root.iter(f"{NS}path") if p.get("class") == "edge"]
    expected = {(a, b) for a, b in lineage.edges if a in nodes and b in nodes}
    assert {(p.get("data-from"), p.get("data-to")) for p in paths} == expected and len(paths) == len(expected)
    for p in paths:
        assert p.get("marker-end") == f"url(#{markers[0]})"
        (xa, ya), (xb, yb) = corner(nodes[p.get("data-from", "")]), corner(nodes[p.get("data-to", "")])
        numbers = [float(x) for x in re.findall(r"[-\d.]+", p.get("d", ""))]
        assert numbers[:2] == [xa + BOX_W, ya + BOX_H // 2] and numbers[-2:] == [xb, yb + BOX_H // 2]
        assert xb > xa
        crossed = re.findall(r"([-\d.]+),([-\d.]+) L([-\d.]+),([-\d.]+)", p.get("d", ""))
        assert len(crossed) == int(nodes[p.get("data-to", "")].get("data-layer", "")) - \
            int(nodes[p.get("data-from", "")].get("data-layer", "")) - 1
        for x1, y1, x2, y2 in crossed:  # a long edge crosses a column horizontally, between its boxes
            assert y1 == y2 and float(x2) - float(x1) == BOX_W
            column = [corner(g)[1] for g in nodes.values() if corner(g)[0] == float(x1)]
            assert column and all(not top - 2 <= float(y1) <= top + BOX_H + 2 for top in column)
    return root


def test_svg_of_a_small_lineage_with_links() -> None:
    lineage = make_lineage("feature_view:stats", [
        ("file:data/a.parquet", "source:a"), ("source:a", "feature_view:stats"),
        ("entity:driver", "feature_view:stats"), ("feature_view:stats", "feature_service:ranking"),
        ("feature_view:stats", "on_demand_feature_view:per_km"),
        ("on_demand_feature_view:per_km", "feature_service:ranking")])

    def href(node: Node) -> str | None:
        return None if node.kind == "file" else f"/ui/{node.kind}/{node.name}?a=1&b=2"

    root = check_svg(lineage_svg(lineage, href), lineage)
    nodes = groups(root)
    for node_id, g in nodes.items():
        links = list(g.iter(f"{NS}a"))
        if node_id.startswith("file:"):
            assert links == []
        else:
            kind, name = node_id.split(":", 1)
            assert len(links) == 1 and links[0].get("href") == f"/ui/{kind}/{name}?a=1&b=2"
            assert links[0].get("aria-label") == f"{kind.replace('_', ' ')} {name}"
    places = {n: (int(g.get("data-layer", "")), int(g.get("data-row", ""))) for n, g in nodes.items()}
    assert places == layout(list(lineage.nodes), list(lineage.edges))
    assert places["file:data/a.parquet"][0] == 0 and places["feature_service:ranking"][0] == 4
    svg = lineage_svg(lineage, lambda node: None)
    plain = check_svg(svg, lineage)
    assert not list(plain.iter(f"{NS}a")) and "<a " not in svg
    assert all(t.get("class") != "note" for t in plain.iter(f"{NS}text"))  # nothing left out


def test_escaping() -> None:
    weird = "we<ird>&\"'name"
    long = "a_very_long_feature_view_name_<&>_that_does_not_fit"
    lineage = make_lineage(f"feature_view:{weird}", [(f"source:{long}", f"feature_view:{weird}"),
                                                       (f"feature_view:{weird}", "feature_service:s\"'")])
    svg = lineage_svg(lineage, lambda node: f"/x?name={node.name}")
    root = check_svg(svg, lineage)
    assert root.get("aria-label") == f"lineage of feature view {weird}"
    assert "<ird>" not in svg and "&lt;ird&gt;" in svg
    links = {a.get("href") for a in root.iter(f"{NS}a")}
    assert links == {f"/x?name={weird}", f"/x?name={long}", "/x?name=s\"'"}
    name = next(t for t in groups(root)[f"source:{long}"].iter(f"{NS}text") if t.get("class") == "name")
    assert name.text == long[:23] + "…"


def test_marker_ids_differ_per_root() -> None:
    a = parse(lineage_svg(make_lineage("entity:a", [("entity:a", "feature_view:v")]), lambda node: None))
    b = parse(lineage_svg(make_lineage("entity:b", [("entity:b", "feature_view:v")]), lambda node: None))
    ids = [m.get("id") for svg in (a, b) for m in svg.iter(f"{NS}marker")]
    assert len(set(ids)) == 2


def hops(lineage: Lineage) -> dict[str, int]:
    """Each node's distance from the root, along edges either way (unreachable nodes: absent)."""
    links: dict[str, set[str]] = {n: set() for n in lineage.nodes}
    for a, b in lineage.edges:
        links[a].add(b)
        links[b].add(a)
    out = {lineage.root: 0}
    level = [lineage.root]
    while level:
        following = []
        for v in level:
            for n in links[v]:
                if n not in out:
                    out[n] = out[v] + 1
                    following.append(n)
        level = following
    return out


@pytest.mark.parametrize("seed", range(6))
def test_max_nodes_keeps_the_nearest(seed: int) -> None:
    ids, edges = random_dag(seed + 100, 200)
    rng = random.Random(seed)
    root = rng.choice(ids)
    lineage = make_lineage(root, edges, ids)
    distance = hops(lineage)
    limit = rng.randint(1, 40)
    svg = lineage_svg(lineage, lambda node: None, max_nodes=limit)
    drawn = min(limit, len(ids))
    root_el = check_svg(svg, lineage, drawn)
    kept = set(groups(root_el))
    omitted = [t for t in root_el.iter(f"{NS}text") if t.get("class") == "note"]
    if drawn == len(ids):
        assert omitted == []
        return
    missing = set(ids) - kept
    assert len(omitted) == 1 and omitted[0].get("data-omitted") == str(len(missing))
    assert omitted[0].text == f"{len(missing):,} more node{'' if len(missing) == 1 else 's'} not drawn"
    far = 10**9
    assert max(distance.get(n, far) for n in kept) <= min(distance.get(n, far) for n in missing)


def test_max_nodes_on_a_chain() -> None:
    chain = [f"feature_view:v{i:02d}" for i in range(30)]
    lineage = make_lineage(chain[10], list(itertools.pairwise(chain)))
    root = check_svg(lineage_svg(lineage, lambda node: None, max_nodes=5), lineage, 5)
    assert set(groups(root)) == set(chain[8:13])
    note = [t for t in root.iter(f"{NS}text") if t.get("class") == "note"]
    assert note[0].get("data-omitted") == "25" and note[0].text == "25 more nodes not drawn"
    only = parse(lineage_svg(lineage, lambda node: None, max_nodes=0))
    assert set(groups(only)) == {chain[10]}


@pytest.fixture(scope="module")
def example_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FeatureStore]:
    """The example repo (a copy, with its sample data) applied."""
    folder = tmp_path_factory.mktemp("ui") / "repo"
    shutil.copytree(ROOT / "definitions", folder, ignore=shutil.ignore_patterns("data", "__pycache__"))
    sample_data.write(folder, END)
    with FeatureStore(folder, clock=lambda: END) as store:
        store.apply()
        yield store


@pytest.mark.parametrize(("name", "kind"), [("driver_stats", "feature_view"), ("trip_quote", None),
                                            ("driver", "entity"), ("card_risk", None)])
def test_example_repo_lineage(example_store: FeatureStore, name: str, kind: str | None) -> None:
    lineage = example_store.lineage(name, kind)
    svg = lineage_svg(lineage, lambda node: f"/ui/{node.kind}/{node.name}")
    root = check_svg(svg, lineage)
    assert set(groups(root)) == set(lineage.nodes) and len(lineage.nodes) > 2
    assert len(list(root.iter(f"{NS}a"))) == len(lineage.nodes)
