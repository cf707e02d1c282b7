"""``GET /features``: the registered objects as JSON, with types and the materialization watermarks."""

from __future__ import annotations

from typing import Any

from featurestore import AggregateView, Entity, FeatureService, FeatureView, OnDemandFeatureView


def _entity(e: Entity) -> dict[str, Any]:
    return {"name": e.name, "join_keys": list(e.join_keys), "description": e.description, "owner": e.owner,
            "tags": dict(e.tags)}


def _view(v: FeatureView, marks: dict[str, Any]) -> dict[str, Any]:
    key_types = {f.name: f.dtype.name for f in v.key_fields}
    mark = marks.get(v.name)
    return {
        "name": v.name,
        "entities": [e.name for e in v.entities],
        "join_keys": [{"name": k, "type": key_types.get(k, "Int64")} for k in v.join_keys],
        "features": [{"name": f.name, "type": f.dtype.name} for f in v.features],
        "ttl_seconds": v.ttl.total_seconds() if v.ttl else None,
        "online": v.online,
        "description": v.description,
        "owner": v.owner,
        "tags": dict(v.tags),
        "source": v.source.to_dict(),
        "materialization": _materialization(mark),
    }


def _materialization(mark: dict[str, Any] | None) -> dict[str, Any] | None:
    """A view's last materialization (not the online store's identity: it names internal hosts)."""
    return {k: mark.get(k) for k in ("watermark", "last_success", "last_rows", "total_rows")} if mark else None


def _aggregate(v: AggregateView, marks: dict[str, Any]) -> dict[str, Any]:
    key_types = {f.name: f.dtype.name for f in v.key_fields}
    mark = marks.get(v.name)
    features = []
    out = {o.name: o for o in v.outputs}
    for agg in v.aggregations:
        for name, window in zip(agg.feature_names, agg.windows or (None,), strict=True):
            features.append({"name": name, "type": out[name].dtype.name, "function": agg.function,
                             "column": agg.column, "window": window, "where": agg.where})
    return {
        "name": v.name,
        "entities": [e.name for e in v.entities],
        "join_keys": [{"name": k, "type": key_types.get(k, "Int64")} for k in v.join_keys],
        "features": features,
        "windows": list(dict.fromkeys(w for a in v.aggregations for w in (a.windows or ("lifetime",)))),
        "serving_horizon": v.serving_horizon,
        "resolution": v.resolution,
        "online": v.online,
        "description": v.description,
        "owner": v.owner,
        "tags": dict(v.tags),
        "source": v.source.to_dict(),
        "materialization": _materialization(mark),
    }


def _on_demand(v: OnDemandFeatureView) -> dict[str, Any]:
    return {
        "name": v.name,
        "features": [{"name": f.name, "type": f.dtype.name} for f in v.features],
        "mode": v.mode,
        "sources": [{"view": p.view, "features": list(p.features)} for p in v.view_sources],
        "request_sources": [{"name": r.name, "fields": [{"name": f.name, "type": f.dtype.name} for f in r.schema]}
                            for r in v.request_sources],
        "fingerprint": v.fingerprint,
        "description": v.description,
        "owner": v.owner,
        "tags": dict(v.tags),
    }


def _service(s: FeatureService) -> dict[str, Any]:
    return {"name": s.name, "features": s.refs(), "description": s.description, "owner": s.owner,
            "tags": dict(s.tags)}


def catalog(state: Any, marks: dict[str, Any]) -> dict[str, Any]:
    """Entities, feature views (join keys and features with types, ttl, owner, tags, description,
    source, last materialization from ``marks``: ``FeatureStore.watermarks()``), aggregate views (features with
    types, function, column, window and where; windows, serving horizon, resolution), on-demand feature views
    (features with types, mode, source views, request fields, code fingerprint) and feature services
    of a registry snapshot."""
    return {
        "project": state.project,
        "registry_version": state.version,
        "entities": [_entity(e) for e in state.entities()],
        "feature_views": [_view(v, marks) for v in state.feature_views()],
        "aggregate_views": [_aggregate(v, marks) for v in state.aggregate_views()],
        "on_demand_feature_views": [_on_demand(v) for v in state.on_demand_feature_views()],
        "feature_services": [_service(s) for s in state.feature_services()],
    }
