"""Turn ``["view:feature", ...]`` or a FeatureService into per-view requests with output names."""

from __future__ import annotations

from typing import Any

from featurestore.errors import InputError, NotFoundError
from featurestore.feature_service import FeatureService
from featurestore.offline.pit import ViewRequest
from featurestore.registry import RegistryState


def parse_refs(features: Any, state: RegistryState) -> list[str]:
    """Feature references as ``view:feature`` strings (``view:*`` expands to every feature)."""
    if isinstance(features, FeatureService):
        refs = features.refs()
    elif isinstance(features, str):
        raise InputError(f"features must be a list of 'view:feature' names or a FeatureService, got {features!r}")
    else:
        refs = list(features or [])
    if not refs:
        raise InputError("no features requested")
    out: list[str] = []
    for ref in refs:
        if not isinstance(ref, str) or ref.count(":") != 1 or ref.startswith(":") or ref.endswith(":"):
            raise InputError(f"feature reference {ref!r} is not of the form 'view:feature'", feature=str(ref))
        view_name, feat = ref.split(":")
        if view_name not in state.objects["feature_views"]:
            raise NotFoundError(f"unknown feature view {view_name!r} (in {ref!r})", kind="feature_view",
                                name=view_name)
        view = state.feature_view(view_name)
        if feat == "*":
            out += [f"{view_name}:{f}" for f in view.feature_names]
        elif feat not in view.feature_names:
            raise NotFoundError(f"feature view {view_name!r} has no feature {feat!r}", kind="feature", name=ref)
        else:
            out.append(ref)
    return out


def view_requests(features: Any, state: RegistryState, full_feature_names: bool,
                  taken: list[str] | tuple[str, ...] = ()) -> list[ViewRequest]:
    """Group references by view (first-seen order); check output names do not collide."""
    by_view: dict[str, list[str]] = {}
    for ref in parse_refs(features, state):
        view_name, feat = ref.split(":")
        feats = by_view.setdefault(view_name, [])
        if feat not in feats:
            feats.append(feat)
    owners: dict[str, str] = {name: "the entity columns" for name in taken}
    requests = []
    for view_name, feats in by_view.items():
        outs = [f"{view_name}__{f}" if full_feature_names else f for f in feats]
        for out in outs:
            if out in owners:
                hint = "" if full_feature_names else "; use full_feature_names=True"
                raise InputError(f"feature name {out!r} of view {view_name!r} collides with {owners[out]}{hint}",
                                 feature=out)
            owners[out] = f"feature view {view_name!r}"
        requests.append(ViewRequest(state.feature_view(view_name), tuple(feats), tuple(outs)))
    return requests
