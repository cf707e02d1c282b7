"""Apply's check that a partial apply keeps what registered services and on-demand views refer to."""

from __future__ import annotations

from typing import Any

from featurestore.definitions import kinds
from featurestore.errors import DefinitionError
from featurestore.registry.file import RegistryState
from featurestore.registry.plan import Plan


def _feature_names(kind: str, data: dict[str, Any]) -> set[str]:
    """The feature names of a view's registry dict (an aggregate view's schema holds its columns, not them)."""
    if kind == "aggregate_views":
        return set(kinds.of_key(kind).from_dict(data).feature_names)
    return {f["name"] for f in data["schema"]}


def check_references(state: RegistryState, plan: Plan) -> None:
    """A partial apply must not leave a registered service pointing at a feature a changed view dropped."""
    keys = [k.key for k in kinds.VIEW_KINDS]  # one name space: a service or an on-demand view may use any
    views: dict[str, tuple[str, dict[str, Any]]] = {}
    for key in keys:
        views.update({n: (key, d) for n, d in state.objects[key].items()})
    for key in keys:
        views.update({n: (key, d) for n, d in plan.desired.get(key, {}).items()})
    for c in plan.removed:
        views.pop(c.name, None) if c.kind in keys else None
    features = {name: _feature_names(kind, data) for name, (kind, data) in views.items()}
    for name, odfv in state.objects["on_demand_feature_views"].items():
        if name in plan.desired.get("on_demand_feature_views", {}) or name not in views:
            continue
        for source in odfv["sources"]:
            feats = features.get(source.get("view", ""))
            if "view" in source and (feats is None or not set(source.get("features") or ()) <= feats):
                label = next((k for k in kinds.VIEW_KINDS if source["view"] in state.objects[k.key]),
                             kinds.FEATURE_VIEWS)
                raise DefinitionError(f"on-demand feature view {name!r} would lose its source {label.singular} "
                                      f"{source['view']!r} (or features of it)", name=name, source=source["view"])
    removed = {(c.kind, c.name) for c in plan.removed}
    for name, svc in state.objects["feature_services"].items():
        if name in plan.desired.get("feature_services", {}) or ("feature_services", name) in removed:
            continue
        for p in svc["features"]:
            feats = features.get(p["view"])
            if feats is None or not set(p["features"]) <= feats:
                raise DefinitionError(f"feature service {name!r} would lose features of view {p['view']!r}",
                                      name=name)
