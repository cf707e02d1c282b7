"""The lineage graph of a registry snapshot, its training sets and feature tables, and one object's lineage in it.

Nodes are ``kind:name`` ids; an edge ``a -> b`` means b is made from a (data flows that way): file -> source ->
(push source ->) view -> on-demand view -> service -> training set, entity -> view, view -> feature table ->
training set. :class:`Lineage` is one object's view of it: its ancestors (upstream), its descendants
(downstream), as data for JSON (nodes and edges, ready for a graph) and as a text tree.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from featurestore.definitions.aggregate_view import AggregateView
from featurestore.definitions.feature_view import FeatureView
from featurestore.definitions.kinds import KEYS
from featurestore.definitions.request_source import RequestSource
from featurestore.definitions.sources import PushSource, batch_of
from featurestore.errors import FeatureStoreError, InputError, NotFoundError
from featurestore.offline.protocol import OfflineStore
from featurestore.registry.file import RegistryState
from featurestore.training.fingerprint import relative
from featurestore.training.manifest import Manifest, list_manifests

KIND_OF_KEY = {"entities": "entity", "feature_views": "feature_view", "aggregate_views": "aggregate_view",
               "on_demand_feature_views": "on_demand_feature_view", "feature_services": "feature_service"}
KINDS = ("feature_service", "feature_view", "aggregate_view", "on_demand_feature_view", "entity", "push_source",
         "source", "request_source", "feature_table", "training_set", "file")
"""Every node kind, in the order a tree lists them."""


@dataclass(frozen=True)
class Node:
    """One object of the graph: ``kind``, ``name`` and what is known of it (``details``)."""

    kind: str
    name: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "name": self.name, **self.details}


class LineageGraph:
    """Nodes and edges (``a -> b``: b is made from a): the whole graph of a registry, its files, feature tables
    and training sets (``store.lineage_graph()``). :meth:`lineage` is one object's part of it; a caller showing
    many objects' lineage builds the graph once."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.up: dict[str, set[str]] = {}
        self.down: dict[str, set[str]] = {}

    def add(self, kind: str, name: str, **details: Any) -> str:
        node = Node(kind, name, {k: v for k, v in details.items() if v is not None})
        if node.id not in self.nodes or details:
            self.nodes[node.id] = node
        self.up.setdefault(node.id, set())
        self.down.setdefault(node.id, set())
        return node.id

    def edge(self, a: str, b: str) -> None:
        self.down[a].add(b)
        self.up[b].add(a)

    def lineage(self, name: str, kind: str | None = None) -> Lineage:
        """The lineage of the object ``name`` (of ``kind`` when given): see :meth:`FeatureStore.lineage`."""
        return lineage_in(self, name, kind)

    def reach(self, start: str, links: dict[str, set[str]]) -> list[str]:
        """The nodes reached from ``start`` along ``links``, breadth first (each level sorted)."""
        seen: dict[str, None] = {}
        todo = deque(sorted(links[start]))
        while todo:
            n = todo.popleft()
            if n not in seen:
                seen[n] = None
                todo.extend(sorted(links[n]))
        return list(seen)


@dataclass(frozen=True)
class Lineage:
    """One object's lineage: ``root`` (a node id), its ``upstream`` and ``downstream`` node ids, and the nodes and
    edges among them (``to_dict`` for JSON, ``str`` for a tree)."""

    root: str
    nodes: dict[str, Node]
    edges: tuple[tuple[str, str], ...]
    upstream: tuple[str, ...]
    downstream: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"root": self.root, "upstream": list(self.upstream), "downstream": list(self.downstream),
                "nodes": [self.nodes[n].to_dict() for n in (self.root, *self.upstream, *self.downstream)],
                "edges": [{"from": a, "to": b} for a, b in self.edges]}

    def _tree(self, node: str, children: dict[str, list[str]], depth: int, seen: set[str], out: list[str]) -> None:
        for child in children.get(node, []):
            label = self._label(child)
            if child in seen:
                out.append("  " * depth + f"{label} (above)")
                continue
            out.append("  " * depth + label)
            self._tree(child, children, depth + 1, seen | {child}, out)

    def _label(self, node_id: str) -> str:
        node = self.nodes[node_id]
        extra = [f"{k} {v}" for k, v in node.details.items() if k in ("registry_version", "version", "rows", "path")]
        return f"{node.kind} {node.name}" + (f" ({', '.join(extra)})" if extra else "")

    def __str__(self) -> str:
        ups: dict[str, list[str]] = {}
        downs: dict[str, list[str]] = {}
        for a, b in self.edges:
            ups.setdefault(b, []).append(a)
            downs.setdefault(a, []).append(b)
        out = [self._label(self.root), "  depends on:"]
        before = len(out)
        self._tree(self.root, ups, 2, {self.root}, out)
        if len(out) == before:
            out.append("    (nothing)")
        out.append("  used by:")
        before = len(out)
        self._tree(self.root, downs, 2, {self.root}, out)
        if len(out) == before:
            out.append("    (nothing)")
        return "\n".join(out)


def last_changed(history: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Per (registry key, name), the registry version where the object last changed (was added or edited)."""
    out: dict[tuple[str, str], int] = {}
    previous: dict[str, dict[str, Any]] = {k: {} for k in KEYS}
    for entry in history:
        objects = entry.get("objects", {})
        for key in KEYS:
            for name, data in objects.get(key, {}).items():
                if previous[key].get(name) != data:
                    out[(key, name)] = int(entry["version"])
            previous[key] = dict(objects.get(key, {}))
    return out


def source_name(source: Any) -> str:
    """How a batch source is named in the graph: its ``name``, else its ``describe()`` text."""
    return str(source.name or source.describe())


def _files(offline: OfflineStore, view: FeatureView | AggregateView, tables: bool = False) -> list[str]:
    """The source's files (``tables``: the files training reads, a feature table's when it has one)."""
    try:
        return list(offline.view_files(view, tables))
    except FeatureStoreError:
        return []


def build_graph(state: RegistryState, history: list[dict[str, Any]], offline: OfflineStore | None,
                manifests: Iterable[Manifest], feature_tables: Path | None, repo: Path | None = None) -> LineageGraph:
    """The whole graph: every registered object, its sources and files (relative to ``repo`` when inside it),
    feature tables and training sets."""
    g = LineageGraph()
    changed = last_changed(history)

    def version(key: str, name: str) -> int | None:
        return changed.get((key, name))

    for entity in state.entities():
        g.add("entity", entity.name, registry_version=version("entities", entity.name))
    views: list[FeatureView | AggregateView] = [*state.feature_views(), *state.aggregate_views()]
    for view in views:
        key = "aggregate_views" if isinstance(view, AggregateView) else "feature_views"
        node = g.add(KIND_OF_KEY[key], view.name, registry_version=version(key, view.name), owner=view.owner or None)
        for entity in view.entities:
            g.edge(g.add("entity", entity.name), node)
        batch = batch_of(view.source)
        src = g.add("source", source_name(batch), type=batch.kind, description=batch.describe())
        if isinstance(view.source, PushSource):
            push = g.add("push_source", view.source.name)
            g.edge(src, push)
            g.edge(push, node)
        else:
            g.edge(src, node)
        if offline is not None:
            for path in _files(offline, view):
                g.edge(g.add("file", relative(path, repo) if repo is not None else path), src)
        if feature_tables is not None and (feature_tables / view.name).is_dir():
            read = _files(offline, view, True) if offline is not None else []
            used = [p for p in read if Path(p).resolve().is_relative_to(feature_tables.resolve())]
            path = relative(feature_tables / view.name, repo) if repo is not None else str(feature_tables / view.name)
            g.edge(node, g.add("feature_table", view.name, path=path, files=len(used),
                               read_for_training=bool(used)))
    for odfv in state.on_demand_feature_views():
        node = g.add("on_demand_feature_view", odfv.name,
                     registry_version=version("on_demand_feature_views", odfv.name))
        for item in odfv.sources:
            if isinstance(item, RequestSource):
                g.edge(g.add("request_source", item.name), node)
            else:
                name = getattr(item, "view", None) or getattr(item, "name", "")
                g.edge(_view_id(state, str(name)), node)
    for service in state.feature_services():
        node = g.add("feature_service", service.name, registry_version=version("feature_services", service.name))
        for proj in service.features:
            g.edge(_view_id(state, proj.view), node)
    for m in manifests:
        node = g.add("training_set", f"{m.name}@{m.version}", version=m.version, rows=m.rows,
                     registry_version=m.registry_version, created_at=m.created_at, as_of=m.as_of)
        used = [f"feature_service:{m.service}"] if m.service else []
        used += [_view_id_of(m, v) for v in m.views() if not m.service or not _in_service(m, v)]
        for upstream in used:
            kind, name = upstream.split(":", 1)
            g.edge(g.add(kind, name), node)
        for table in m.feature_tables:
            g.edge(g.add("feature_table", table), node)
    return g


def _view_id(state: RegistryState, name: str) -> str:
    for key in ("feature_views", "aggregate_views", "on_demand_feature_views"):
        if name in state.objects.get(key, {}):
            return f"{KIND_OF_KEY[key]}:{name}"
    return f"feature_view:{name}"


def _view_id_of(m: Manifest, name: str) -> str:
    for key in ("feature_views", "aggregate_views", "on_demand_feature_views"):
        if name in m.definitions.get(key, {}):
            return f"{KIND_OF_KEY[key]}:{name}"
    return f"feature_view:{name}"


def _in_service(m: Manifest, view: str) -> bool:
    service = m.definitions.get("feature_services", {}).get(m.service or "", {})
    return any(p.get("view") == view for p in service.get("features", []) if isinstance(p, dict))


_TIER = {"source": 1, "feature_table": 2, "training_set": 2, "file": 3}
"""Which node a bare name means when several kinds share it: registered definitions (0) first."""


def _find(g: LineageGraph, name: str, kind: str | None) -> str:
    if kind is not None and kind not in KINDS:
        raise InputError(f"unknown lineage kind {kind!r}: use one of {', '.join(KINDS)}", name=kind)
    matches = [n for n in g.nodes.values() if n.name == name and (kind is None or n.kind == kind)]
    if not matches and kind in (None, "training_set"):  # a training set by name: its latest version
        sets = [n for n in g.nodes.values() if n.kind == "training_set" and n.name.split("@")[0] == name]
        if sets:
            return max(sets, key=lambda n: int(n.details.get("version", 0))).id
    if not matches:
        what = f"{kind} {name!r}" if kind else repr(name)
        raise NotFoundError(f"{what} is not in the lineage graph: no registered object, source, file or training "
                            "set has that name", kind=kind, name=name)
    if len(matches) > 1:  # a definition wins over what is derived from it (a view's feature table, a file)
        tier = min(_TIER.get(n.kind, 0) for n in matches)
        matches = [n for n in matches if _TIER.get(n.kind, 0) == tier]
    if len(matches) > 1:
        kinds = sorted(n.kind for n in matches)
        raise InputError(f"{name!r} names several objects ({', '.join(kinds)}): give the kind (--kind / ?kind=)",
                         name=name)
    return matches[0].id


def build_lineage(state: RegistryState, history: list[dict[str, Any]], name: str, kind: str | None,
                  offline: OfflineStore | None, training_sets: Path | None, feature_tables: Path | None,
                  repo: Path | None = None) -> Lineage:
    """The lineage of the object ``name`` (of ``kind`` when given)."""
    manifests = list_manifests(training_sets) if training_sets is not None else []
    return lineage_in(build_graph(state, history, offline, manifests, feature_tables, repo), name, kind)


def lineage_in(g: LineageGraph, name: str, kind: str | None = None) -> Lineage:
    """The lineage of the object ``name`` (of ``kind`` when given) in the whole graph ``g`` (a caller showing
    many objects' lineage builds the graph once)."""
    root = _find(g, name, kind)
    up = g.reach(root, g.up)
    down = g.reach(root, g.down)
    keep = {root, *up, *down}
    above, below = {root, *up}, {root, *down}
    edges = sorted((a, b) for a in keep for b in g.down[a]
                   if (a in above and b in above) or (a in below and b in below))
    return Lineage(root, {n: g.nodes[n] for n in keep}, tuple(edges), tuple(up), tuple(down))
