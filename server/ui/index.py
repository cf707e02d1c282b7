"""What every page looks up, built once per registry version: the objects by kind, what uses what, the sources
(named in views, not registered on their own) and the search entries.

A registry of 500 views is indexed in milliseconds, and pages read the index instead of walking the registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from featurestore import (
    AggregateView,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
    PushSource,
    RegistryState,
    RequestSource,
)

VIEW_KINDS = ("feature_view", "aggregate_view", "on_demand_feature_view")
LABELS = {"feature_view": "feature view", "aggregate_view": "aggregate view",
          "on_demand_feature_view": "on-demand view", "entity": "entity", "feature_service": "feature service",
          "source": "source", "push_source": "push source", "request_source": "request source",
          "training_set": "training set", "feature_table": "feature table", "file": "file"}

AnyView = FeatureView | AggregateView | OnDemandFeatureView


@dataclass
class SourceInfo:
    """A source as the UI shows it: ``kind`` (``source``, ``push_source``, ``request_source``), ``type``
    (parquet, csv, duckdb, push, request), what it reads and which views read it."""

    name: str
    kind: str
    type: str
    details: dict[str, Any]
    description: str = ""
    used_by: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Entry:
    """One search entry: an object and the text it is found by."""

    kind: str
    name: str
    description: str
    owner: str
    tags: dict[str, str]
    features: tuple[str, ...]
    haystack: str


def view_kind(view: AnyView) -> str:
    if isinstance(view, AggregateView):
        return "aggregate_view"
    if isinstance(view, OnDemandFeatureView):
        return "on_demand_feature_view"
    return "feature_view"


def source_name(source: Any) -> str:
    """A batch source's name in the UI and the lineage graph: its ``name``, else its ``describe()`` text."""
    return str(source.name or source.describe())


def _batch_details(source: Any) -> dict[str, Any]:
    d = {k: v for k, v in source.to_dict().items() if v not in (None, "", {}) and k not in ("kind", "name")}
    d.pop("description", None)
    return d


@dataclass
class Index:
    """The registry snapshot ``state`` arranged for pages (see the module docstring)."""

    state: RegistryState
    views: dict[str, AnyView] = field(default_factory=dict)
    entities: dict[str, Any] = field(default_factory=dict)
    services: dict[str, FeatureService] = field(default_factory=dict)
    sources: dict[str, SourceInfo] = field(default_factory=dict)
    users: dict[tuple[str, str], list[tuple[str, str]]] = field(default_factory=dict)
    """``(kind, name)`` -> the objects that use it (as ``(kind, name)``)."""
    entries: list[Entry] = field(default_factory=list)

    @property
    def version(self) -> int:
        return self.state.version

    def used_by(self, kind: str, name: str) -> list[tuple[str, str]]:
        return self.users.get((kind, name), [])

    def _use(self, what: tuple[str, str], by: tuple[str, str]) -> None:
        users = self.users.setdefault(what, [])
        if by not in users:
            users.append(by)

    def _source(self, view: FeatureView | AggregateView) -> None:
        src = view.source
        batch = src.batch_source if isinstance(src, PushSource) else src
        name = source_name(batch)
        info = self.sources.setdefault(name, SourceInfo(name, "source", batch.kind, _batch_details(batch),
                                                        batch.description))
        if isinstance(src, PushSource):
            push = self.sources.setdefault(src.name, SourceInfo(src.name, "push_source", "push",
                                                                {"batch_source": name}, src.description))
            push.used_by.append((view_kind(view), view.name))
            if ("push_source", src.name) not in info.used_by:
                info.used_by.append(("push_source", src.name))
        else:
            info.used_by.append((view_kind(view), view.name))


def build(state: RegistryState) -> Index:
    """The index of a registry snapshot."""
    ix = Index(state)
    for e in state.entities():
        ix.entities[e.name] = e
    sourced: list[FeatureView | AggregateView] = [*state.feature_views(), *state.aggregate_views()]
    for v in sourced:
        ix.views[v.name] = v
        for e in v.entities:
            ix._use(("entity", e.name), (view_kind(v), v.name))
        ix._source(v)
    for o in state.on_demand_feature_views():
        ix.views[o.name] = o
        for p in o.view_sources:
            upstream = ix.views.get(p.view)
            ix._use((view_kind(upstream) if upstream is not None else "feature_view", p.view),
                    ("on_demand_feature_view", o.name))
        for r in o.request_sources:
            _request_source(ix, r, o.name)
    for s in state.feature_services():
        ix.services[s.name] = s
        for p in s.features:
            upstream = ix.views.get(p.view)
            ix._use((view_kind(upstream) if upstream is not None else "feature_view", p.view),
                    ("feature_service", s.name))
    ix.entries = _entries(ix)
    return ix


def _request_source(ix: Index, r: RequestSource, odfv: str) -> None:
    info = ix.sources.setdefault(r.name, SourceInfo(
        r.name, "request_source", "request", {"fields": {f.name: f.dtype.name for f in r.schema}},
        getattr(r, "description", "") or ""))
    info.used_by.append(("on_demand_feature_view", odfv))


def _entry(kind: str, name: str, description: str, owner: str, tags: dict[str, str],
           features: tuple[str, ...] = ()) -> Entry:
    text = " ".join([name, description, owner, *(f"{k}={v}" for k, v in tags.items()), *features])
    return Entry(kind, name, description, owner, dict(tags), features, text.lower())


def _entries(ix: Index) -> list[Entry]:
    out = [_entry(view_kind(v), v.name, v.description, v.owner, dict(v.tags),
                  tuple(f.name for f in v.features) if not isinstance(v, AggregateView)
                  else tuple(o.name for o in v.outputs)) for v in ix.views.values()]
    out += [_entry("entity", e.name, e.description, e.owner, dict(e.tags), tuple(e.join_keys))
            for e in ix.entities.values()]
    out += [_entry("feature_service", s.name, s.description, s.owner, dict(s.tags)) for s in ix.services.values()]
    out += [_entry(s.kind, s.name, s.description, "", {}) for s in ix.sources.values()]
    return out


def search(ix: Index, query: str, limit: int = 200) -> list[dict[str, Any]]:
    """Objects whose name, description, owner, tags (``key=value``) or feature names contain every word of
    ``query`` (case-insensitive), best first: the exact name, a name starting with the query, a name
    containing it, a feature with the name, then the rest, each group by name."""
    words = query.lower().split()
    if not words:
        return []
    q = " ".join(words)
    hits = []
    for e in ix.entries:
        if all(w in e.haystack for w in words):
            name = e.name.lower()
            features = [f for f in e.features if any(w in f.lower() for w in words)]
            rank = (0 if name == q else 1 if name.startswith(q) else 2 if q in name
                    else 3 if any(f.lower() == q for f in features) else 4)
            hits.append((rank, e.name, e.kind, e, features))
    hits.sort(key=lambda h: (h[0], h[1], h[2]))
    return [{"kind": e.kind, "label": LABELS.get(e.kind, e.kind), "name": e.name, "description": e.description,
             "owner": e.owner, "tags": e.tags, "matching_features": features}
            for _, _, _, e, features in hits[:limit]]
