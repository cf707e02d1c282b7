"""Lineage (a graph drawn on the server), training sets (versions, manifests, re-creation, statistics) and the
registry's history (each version's diff)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from markupsafe import Markup

from featurestore import NotFoundError, Profile

from . import index as ix
from .context import UiContext
from .svg_histogram import histogram_svg
from .svg_lineage import lineage_svg
from .web import Page, Urls

NODE_KIND = {"entities": "entity", "feature_views": "feature_view", "aggregate_views": "aggregate_view",
             "on_demand_feature_views": "on_demand_feature_view", "feature_services": "feature_service"}
"""Registry key (a diff's ``kind``) -> the kind of its page."""
LINKED = {"feature_view", "aggregate_view", "on_demand_feature_view", "entity", "feature_service", "source",
          "push_source", "request_source", "training_set"}
"""Node kinds with a page of their own (others link to their lineage)."""


def lineage(ui: UiContext, request: Request, name: str) -> Page:
    kind = request.query_params.get("kind") or None
    lin = ui.graph().lineage(name, kind)
    urls = Urls(request)

    def href(node: Any) -> str | None:
        if node.id == lin.root:
            return None
        return urls.obj(node.kind, node.name) if node.kind in LINKED else urls.lineage(node.kind, node.name)

    root = lin.nodes[lin.root]

    def row(node_id: str) -> dict[str, Any]:
        n = lin.nodes[node_id]
        return {"id": n.id, "kind": n.kind, "label": ix.LABELS.get(n.kind, n.kind), "name": n.name,
                "details": {k: v for k, v in n.details.items() if not isinstance(v, dict | list)},
                "page": href(n) or ""}

    data = {"root": row(lin.root), "upstream": [row(n) for n in lin.upstream],
            "downstream": [row(n) for n in lin.downstream], "edges": [{"from": a, "to": b} for a, b in lin.edges]}
    svg = Markup(lineage_svg(lin, href))
    return Page("lineage.html", f"Lineage of {ix.LABELS.get(root.kind, root.kind)} {root.name}", data,
                {"graph": svg}, nav="lineage")


def training_sets(ui: UiContext, request: Request) -> Page:
    sets: dict[str, list[Any]] = {}
    for ts in ui.store.list_training_sets():
        sets.setdefault(ts.name, []).append(ts)
    rows = []
    for name, versions in sorted(sets.items()):
        latest = max(versions, key=lambda t: t.version)
        m = latest.manifest
        rows.append({"name": name, "versions": len(versions), "latest": latest.version, "rows": latest.rows,
                     "created_at": m.created_at, "service": m.service, "as_of": m.as_of})
    return Page("training_sets.html", "Training sets", {"training_sets": rows}, nav="training")


def _summary(ts: Any) -> dict[str, Any]:
    m = ts.manifest
    return {"version": ts.version, "created_at": m.created_at, "rows": ts.rows, "registry_version": m.registry_version,
            "service": m.service, "features": list(m.features), "as_of": m.as_of, "fingerprint": ts.fingerprint}


def training_set(ui: UiContext, request: Request, name: str) -> Page:
    versions = sorted(ui.store.list_training_sets(name), key=lambda t: t.version, reverse=True)
    if not versions:
        raise NotFoundError(f"no training set named {name!r}", kind="training_set", name=name)
    data = {"name": name, "versions": [_summary(t) for t in versions]}
    return Page("training_set.html", f"Training set {name}", data, nav="training")


def training_version(ui: UiContext, request: Request, name: str, version: int, check: bool = False) -> Page:
    ts = ui.store.get_training_set(name, version)
    m = ts.manifest
    result = ui.recreate(name, version) if check else ui.checks.get((name, version))
    entity = m.entity
    data = {**_summary(ts), "name": name, "path": str(ts.path), "as_of_created": m.as_of_created,
            "full_feature_names": m.full_feature_names, "views": m.views(), "feature_tables": list(m.feature_tables),
            "content_hash": m.content_hash, "file_hash": m.file_hash, "engine": dict(m.engine),
            "entity_frame": None if entity is None else {"rows": entity.rows, "columns": list(entity.columns),
                                                         "hash": entity.content_hash},
            "sources": [{"view": s.view, "path": s.path, "size": s.size, "fingerprint": s.fingerprint}
                        for s in m.sources],
            "recreation": None if result is None else {"identical": result.identical, "checked_at": result.at,
                                                       **result.result},
            "statistics": m.statistics or None}
    data["manifest"] = m.to_json()
    svgs = {k: Markup(histogram_svg(f))  # the renderer escapes every text it draws
            for k, f in Profile.from_dict(m.statistics or {}).features.items()}
    text = json.dumps(data["manifest"], indent=2, sort_keys=True, default=str)
    return Page("training_version.html", f"Training set {name} v{version}", data,
                {"histograms": svgs, "manifest_text": text}, nav="training")


def history(ui: UiContext, request: Request) -> Page:
    entries = ui.history()
    rows = []
    for e in reversed(entries):
        changes = e.get("changes") if isinstance(e.get("changes"), dict) else {}
        rows.append({"version": e.get("version"), "applied_at": e.get("applied_at"),
                     "changes": {k: list(changes.get(k) or []) for k in ("added", "changed", "removed")}})
    data = {"registry_version": ui.state().version, "versions": rows}
    return Page("history.html", "History", data, nav="history")


def history_version(ui: UiContext, request: Request, version: int) -> Page:
    entries = {int(e["version"]): e for e in ui.history()}
    if version not in entries:
        raise NotFoundError(f"registry version {version} is not in the registry's history",
                            kind="registry_version", name=str(version))
    before = max((v for v in entries if v < version), default=0)
    diff = ui.history_diff(before, version) if before else None
    changes = diff.to_dict() if diff is not None else None
    if diff is not None and changes is not None:
        for c, obj in zip(changes["changes"], diff.changes, strict=True):
            c["node_kind"] = NODE_KIND.get(obj.kind, "feature_view")
    data = {"version": version, "applied_at": entries[version].get("applied_at"), "before": before or None,
            "diff": changes,
            "added": [] if diff is not None else sorted(
                f"{k}:{n}" for k, objs in (entries[version].get("objects") or {}).items() for n in objs)}
    return Page("history_version.html", f"Registry version {version}", data, nav="history")
