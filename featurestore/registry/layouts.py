"""The earlier online layouts a view keeps readable after an apply (rows written under them read as NOT_FOUND)."""

from __future__ import annotations

from featurestore.definitions import kinds
from featurestore.registry.file import RegistryState
from featurestore.registry.plan import Plan, online_layout

MAX_LAYOUTS = 16
"""Earlier layouts kept readable per view (rows of older ones read as NOT_FOUND)."""


def kept_layouts(before: RegistryState, plan: Plan) -> dict[str, list[dict[str, list[str]]]]:
    """The views' earlier readable layouts after ``plan``: a reshaped view keeps its layout before the change
    (newest first, without the new one); a removed view or one with other join keys keeps none."""
    layouts = dict(before.online_layouts)
    for effect in plan.online_effects:
        if effect.deletes:
            layouts.pop(effect.view, None)
            continue
        _, _, features, types = online_layout(before.feature_view(effect.view))
        new = plan.desired["feature_views"][effect.view]
        _, _, new_features, new_types = online_layout(kinds.of_key("feature_views").from_dict(new))
        current = {"features": list(new_features), "types": list(new_types)}
        entries = [{"features": list(features), "types": list(types)}, *layouts.get(effect.view, [])]
        kept: list[dict[str, list[str]]] = []
        for entry in entries:
            if entry != current and entry not in kept:
                kept.append(entry)
        layouts[effect.view] = kept[:MAX_LAYOUTS]
    return layouts
