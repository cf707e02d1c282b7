"""Request resolution: ``["view:feature", ...]`` or a FeatureService -> per-view requests with output names.

One resolution serves both paths: :func:`resolve` answers a :class:`ResolvedRequest` (per view: the view,
its features, their output names, its join keys and key types), cached per registry snapshot, feature
list (or service) and ``full_feature_names``. The offline path hands its views to the engine
(:func:`view_requests`); the online path (``featurestore.online.lookup``) into store reads.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from featurestore import types
from featurestore.definitions.feature_service import FeatureService
from featurestore.definitions.feature_view import FeatureView, FeatureViewProjection
from featurestore.errors import InputError, NotFoundError
from featurestore.registry.file import RegistryState

MAX_CACHED = 1024
"""Resolved requests kept per registry snapshot (the feature lists come from clients: bounded)."""


@dataclass(frozen=True)
class ResolvedView:
    """The part of a request served by one feature view (or one projection of it)."""

    view: FeatureView
    features: tuple[str, ...]
    out_names: tuple[str, ...]
    """One output name per feature: ``feature`` or ``name__feature``."""
    join_keys: tuple[str, ...]
    key_types: tuple[types.ValueType, ...]
    name: str = ""
    """The projection's name (``with_name``), else the view's: it names the statuses and full names."""
    entity_keys: tuple[str, ...] = ()
    """Per join key, the entity column holding its values (``with_join_key_map``), else the key itself."""

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.view.name)
        if not self.entity_keys:
            object.__setattr__(self, "entity_keys", self.join_keys)

    @property
    def keys(self) -> tuple[tuple[str, str], ...]:
        """``(entity column, join key)`` pairs (none for a view without entities)."""
        return tuple(zip(self.entity_keys, self.join_keys, strict=True))


@dataclass(frozen=True)
class ResolvedRequest:
    """A feature list resolved against one registry snapshot: its views in first-seen order."""

    views: tuple[ResolvedView, ...]
    full_feature_names: bool
    derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """What a path derives once from this request (e.g. the online read plan), by path name."""

    @property
    def join_keys(self) -> tuple[str, ...]:
        """Every entity column the views read their join keys from, in first-seen order."""
        return tuple(dict.fromkeys(k for v in self.views for k in v.entity_keys))

    def check_names(self, taken: Iterable[str], owner: str) -> None:
        """Raise :class:`InputError` when an output name is in ``taken`` (names owned by ``owner``)."""
        taken = set(taken)
        for v in self.views:
            for out in v.out_names:
                if out in taken:
                    raise InputError(f"feature name {out!r} of view {v.name!r} collides with {owner}"
                                     f"{'' if self.full_feature_names else '; use full_feature_names=True'}",
                                     feature=out, view=v.name)

    def check_join_keys(self) -> None:
        """Raise :class:`InputError` when an output name is a join key of a requested view.

        The online answer holds the requested views' join keys beside the features, so such a
        feature would hide the key (offline, the same request collides with the entity columns).
        """
        owners = {k: v.name for v in self.views for k in v.entity_keys}
        for v in self.views:
            for out in v.out_names:
                if out in owners:
                    self.check_names([out], f"join key {out!r} of feature view {owners[out]!r}")


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


def _projections(features: Any, state: RegistryState) -> list[tuple[FeatureViewProjection, FeatureView]]:
    """The requested projections with their views: a service's own, or one per view of a reference list."""
    if not isinstance(features, FeatureService):
        by_view: dict[str, list[str]] = {}
        for ref in parse_refs(features, state):
            view_name, feat = ref.split(":")
            feats = by_view.setdefault(view_name, [])
            if feat not in feats:
                feats.append(feat)
        return [(FeatureViewProjection(name, tuple(feats)), state.feature_view(name))
                for name, feats in by_view.items()]
    out: list[tuple[FeatureViewProjection, FeatureView]] = []
    for p in features.features:
        if p.view not in state.objects["feature_views"]:
            raise NotFoundError(f"unknown feature view {p.view!r} (in feature service {features.name!r})",
                                kind="feature_view", name=p.view)
        view = state.feature_view(p.view)
        for feat in p.features:
            if feat not in view.feature_names:
                raise NotFoundError(f"feature view {p.view!r} has no feature {feat!r}", kind="feature",
                                    name=f"{p.name}:{feat}")
        for key in p.join_key_map:
            if key not in view.join_keys:
                raise NotFoundError(f"feature view {p.view!r} has no join key {key!r} (join_key_map of "
                                    f"{p.name!r} in feature service {features.name!r})", kind="join_key", name=key)
        wanted = p.features or view.feature_names
        earlier = next((i for i, (q, _) in enumerate(out) if q.name == p.name), None)
        if earlier is None:
            out.append((replace(p, features=wanted), view))
        else:  # the same projection listed twice (``view[["a"]]``, ``view[["b"]]``): one request
            q = out[earlier][0]
            out[earlier] = (replace(q, features=tuple(dict.fromkeys(q.features + wanted))), view)
    if not out:
        raise InputError("no features requested")
    return out


def _resolve(features: Any, state: RegistryState, full: bool) -> ResolvedRequest:
    owners: dict[str, str] = {}
    views = []
    for p, view in _projections(features, state):
        outs = tuple(f"{p.name}__{f}" if full else f for f in p.features)
        for out in outs:
            if out in owners:
                hint = "" if full else "; use full_feature_names=True"
                raise InputError(f"feature name {out!r} of view {p.name!r} collides with {owners[out]}{hint}",
                                 feature=out, view=p.name)
            owners[out] = f"feature view {p.name!r}"
        key_types = {f.name: f.dtype for f in view.key_fields}
        views.append(ResolvedView(view, p.features, outs, view.join_keys,
                                  tuple(key_types.get(k, types.Int64) for k in view.join_keys), p.name,
                                  tuple(p.entity_column(k) for k in view.join_keys)))
    return ResolvedRequest(tuple(views), full)


_cache_lock = threading.Lock()
_caches: dict[int, dict[Any, ResolvedRequest]] = {}  # id(snapshot) -> its resolutions, dropped with the snapshot


def _cache_of(state: RegistryState) -> dict[Any, ResolvedRequest]:
    cache = _caches.get(id(state))
    if cache is None:
        with _cache_lock:
            cache = _caches.get(id(state))
            if cache is None:
                cache = _caches[id(state)] = {}
                weakref.finalize(state, _caches.pop, id(state), None)
    return cache


def resolve(features: Any, state: RegistryState, full_feature_names: bool = False) -> ResolvedRequest:
    """``features`` (``["view:feature", ...]``, a FeatureService or a service name) resolved against ``state``.

    Cached per snapshot, feature list and ``full_feature_names``; raises :class:`NotFoundError` for an
    unknown view, feature or service and :class:`InputError` for a malformed list or colliding names.
    """
    full = bool(full_feature_names)
    if isinstance(features, str):
        key: Any = ("service", features, full)
    elif isinstance(features, FeatureService):
        key = ("service-object", features, full)
    elif isinstance(features, (list, tuple)):
        key = ("refs", tuple(features), full)
    else:
        key = None
    cache = _cache_of(state)
    try:
        found = cache.get(key) if key is not None else None
    except TypeError:  # unhashable items: resolved (and refused) below
        key, found = None, None
    if found is not None:
        return found
    target = state.feature_service(features) if isinstance(features, str) else features
    resolved = _resolve(target, state, full)
    if key is not None:
        if len(cache) >= MAX_CACHED:
            cache.clear()
        cache[key] = resolved
    return resolved


def view_requests(features: Any, state: RegistryState, full_feature_names: bool,
                  taken: list[str] | tuple[str, ...] = ()) -> list[ResolvedView]:
    """Per-view offline requests (first-seen order); output names must not collide with ``taken`` columns."""
    if isinstance(features, str):
        parse_refs(features, state)  # refused: offline takes a list or a FeatureService object
    resolved = resolve(features, state, full_feature_names)
    resolved.check_names(taken, "the entity columns")
    return list(resolved.views)
