"""The overview, the lists of views, entities, services and sources, their pages (but a view's), and search."""

from __future__ import annotations

import os
from typing import Any

from fastapi import Request

from featurestore import AggregateView, FeatureStoreError, NotFoundError, OnDemandFeatureView

from . import index as ix
from .context import UiContext
from .snippets import placeholder
from .web import Page

MATERIALIZATIONS = 10
"""Latest materializations on the overview."""


def _kinds(pairs: list[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"kind": k, "label": ix.LABELS.get(k, k), "name": n} for k, n in pairs]


def training_set_counts(ui: UiContext) -> tuple[int, int]:
    """``(names, versions)`` of the training sets (folder names only: no manifest is read)."""
    names = versions = 0
    try:
        with os.scandir(ui.store.training_sets_dir) as top:
            for entry in top:
                if entry.is_dir() and not entry.name.startswith("."):
                    n = sum(1 for v in os.scandir(entry.path) if v.is_dir() and v.name[:1] == "v"
                            and v.name[1:].isdigit())
                    names += n > 0
                    versions += n
    except OSError:
        pass
    return names, versions


def overview(ui: UiContext, request: Request) -> Page:
    index = ui.index()
    state = index.state
    history = ui.history()
    status = ui.store.monitoring_status(state)
    marks = ui.store.watermarks()
    kinds = [ix.view_kind(v) for v in index.views.values()]
    sets, versions = training_set_counts(ui)
    stale = [{"view": f.view, "kind": f.kind, "data_timestamp": f.data_timestamp, "age_seconds": _seconds(f.age),
              "max_staleness_seconds": _seconds(f.max_staleness)}
             for f in status.freshness.values() if f.stale]
    failing = []
    for view, outcomes in sorted(status.validation.items()):
        latest = max(outcomes.items(), key=lambda kv: str(kv[1].get("last", "")))
        if latest[0] != "passed":
            failing.append({"view": view, "outcome": latest[0], **latest[1]})
    drift = [{"target": target, "feature": feature, **record}
             for target, features in sorted(status.drift.items()) for feature, record in sorted(features.items())
             if record.get("status") in ("warn", "alert")]
    runs = sorted(({"view": v, **{k: m.get(k) for k in ("watermark", "last_success", "last_rows", "total_rows")}}
                   for v, m in marks.items()), key=lambda r: str(r.get("last_success") or ""), reverse=True)
    failures = [{"view": v, **{k: r.get(k) for k in ("count", "last_failure", "error")}}
                for v, r in sorted(status.materialization_failures.items())]
    data = {
        "project": state.project,
        "registry_version": state.version,
        "applied_at": history[-1].get("applied_at") if history else None,
        "counts": {"feature_views": kinds.count("feature_view"), "aggregate_views": kinds.count("aggregate_view"),
                   "on_demand_feature_views": kinds.count("on_demand_feature_view"),
                   "entities": len(index.entities), "feature_services": len(index.services),
                   "sources": len(index.sources), "training_sets": sets, "training_set_versions": versions},
        "stale_views": stale,
        "failing_expectations": failing,
        "drift_alerts": drift,
        "materializations": runs[:MATERIALIZATIONS],
        "materialization_failures": failures,
        "monitor": status.monitor,
        "errors": list(status.errors),
    }
    return Page("overview.html", "Overview", data, nav="overview")


def _seconds(value: Any) -> float | None:
    return None if value is None else float(value.total_seconds())


def views(ui: UiContext, request: Request) -> Page:
    index = ui.index()
    kind = request.query_params.get("kind") or None
    owner = request.query_params.get("owner") or None
    tag = request.query_params.get("tag") or None
    fresh = _freshness(ui, index)
    rows = []
    for v in index.views.values():
        k = ix.view_kind(v)
        if (kind and k != kind) or (owner and v.owner != owner) or (tag and not _has_tag(v.tags, tag)):
            continue
        entities = [] if isinstance(v, OnDemandFeatureView) else [e.name for e in v.entities]
        features = v.outputs if isinstance(v, AggregateView) else v.features
        rows.append({"name": v.name, "kind": k, "label": ix.LABELS[k], "entities": entities,
                     "features": len(features), "owner": v.owner, "tags": dict(v.tags),
                     "description": v.description, "stale": fresh.get(v.name)})
    rows.sort(key=lambda r: str(r["name"]))
    data = {"views": rows, "filters": {"kind": kind, "owner": owner, "tag": tag},
            "kinds": [{"kind": k, "label": ix.LABELS[k]} for k in ix.VIEW_KINDS]}
    return Page("views.html", "Feature views", data, nav="views")


def _has_tag(tags: dict[str, str], wanted: str) -> bool:
    key, _, value = wanted.partition("=")
    return key in tags and (not value or tags[key] == value)


def _freshness(ui: UiContext, index: ix.Index) -> dict[str, bool | None]:
    try:
        return {name: f.stale for name, f in ui.store.freshness(index.state).items()}
    except FeatureStoreError:
        return {}


def entities(ui: UiContext, request: Request) -> Page:
    index = ui.index()
    rows = [{"name": e.name, "join_keys": list(e.join_keys), "description": e.description, "owner": e.owner,
             "tags": dict(e.tags), "used_by": len(index.used_by("entity", e.name))}
            for e in sorted(index.entities.values(), key=lambda e: e.name)]
    return Page("entities.html", "Entities", {"entities": rows}, nav="entities")


def entity(ui: UiContext, request: Request, name: str) -> Page:
    index = ui.index()
    e = index.entities.get(name)
    if e is None:
        raise NotFoundError(f"no entity named {name!r}", kind="entity", name=name)
    data = {"name": e.name, "join_keys": list(e.join_keys), "description": e.description, "owner": e.owner,
            "tags": dict(e.tags), "used_by": _kinds(index.used_by("entity", e.name))}
    return Page("entity.html", f"Entity {e.name}", data, nav="entities")


def services(ui: UiContext, request: Request) -> Page:
    index = ui.index()
    rows = [{"name": s.name, "views": [p.view for p in s.features], "features": len(s.refs()),
             "description": s.description, "owner": s.owner, "tags": dict(s.tags), "logging": s.logging is not None}
            for s in sorted(index.services.values(), key=lambda s: s.name)]
    return Page("services.html", "Feature services", {"services": rows}, nav="services")


def service(ui: UiContext, request: Request, name: str) -> Page:
    index = ui.index()
    s = index.services.get(name)
    if s is None:
        raise NotFoundError(f"no feature service named {name!r}", kind="feature_service", name=name)
    parts = []
    for p in s.features:
        upstream = index.views.get(p.view)
        kind = ix.view_kind(upstream) if upstream is not None else "feature_view"
        parts.append({"view": p.view, "kind": kind, "label": ix.LABELS[kind], "name": p.name,
                      "features": list(p.features) or ["*"]})
    g = ui.graph()
    node = f"feature_service:{s.name}"
    sets = sorted(g.nodes[n].name for n in g.down.get(node, set()) if n.startswith("training_set:"))
    snippets = ui.snippets(request)
    data = {"name": s.name, "description": s.description, "owner": s.owner, "tags": dict(s.tags),
            "features": s.refs(), "views": parts,
            "logging": {"sample_rate": s.logging.sample_rate} if s.logging else None,
            "training_sets": sets,
            "snippets": {"curl": snippets.service_curl(s.name, _service_keys(index, s))}}
    return Page("service.html", f"Feature service {s.name}", data, nav="services")


def _service_keys(index: ix.Index, s: Any) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    for p in s.features:
        v = index.views.get(p.view)
        if v is None or isinstance(v, OnDemandFeatureView):
            continue
        types = {f.name: f.dtype.name for f in v.key_fields}
        for k in v.join_keys:
            keys.setdefault(p.join_key_map.get(k, k), placeholder(types.get(k, "Int64")))
    return keys


def sources(ui: UiContext, request: Request) -> Page:
    index = ui.index()
    rows = [{"name": s.name, "kind": s.kind, "label": ix.LABELS[s.kind], "type": s.type,
             "details": s.details, "description": s.description, "used_by": _kinds(s.used_by)}
            for s in sorted(index.sources.values(), key=lambda s: s.name)]
    return Page("sources.html", "Sources", {"sources": rows}, nav="sources")


def source(ui: UiContext, request: Request, name: str) -> Page:
    index = ui.index()
    s = index.sources.get(name)
    if s is None:
        raise NotFoundError(f"no source named {name!r}", kind="source", name=name)
    g = ui.graph()
    node = f"{s.kind}:{s.name}"
    files = sorted(g.nodes[n].name for n in g.up.get(node, set()) if n.startswith("file:"))
    data = {"name": s.name, "kind": s.kind, "label": ix.LABELS[s.kind], "type": s.type, "details": s.details,
            "description": s.description, "used_by": _kinds(s.used_by), "files": files}
    return Page("source.html", f"Source {s.name}", data, nav="sources")


def search(ui: UiContext, request: Request) -> Page:
    q = request.query_params.get("q", "").strip()
    hits = ix.search(ui.index(), q) if q else []
    return Page("search.html", f"Search: {q}" if q else "Search", {"query": q, "results": hits}, nav="search")
