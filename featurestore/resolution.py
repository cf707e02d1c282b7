"""Request resolution: ``["view:feature", ...]`` or a FeatureService -> per-view requests with output names.

One resolution serves both paths: :func:`resolve` answers a :class:`ResolvedRequest` (per view: the view,
its features, their output names, its join keys and key types), cached per registry snapshot, feature
list (or service) and ``full_feature_names``. The offline path hands its views to the engine
(:func:`view_requests`); the online path (``featurestore.online.lookup``) into store reads.

An on-demand view requested (``eta:eta_min``) becomes a :class:`ResolvedOnDemand`; every feature of its
source views is read too, under hidden output names (:data:`HIDDEN`) unless the request shows it anyway,
and the paths drop the hidden columns after running the view.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from featurestore import types
from featurestore.definitions.aggregate_view import AggregateView, SourcedView
from featurestore.definitions.feature_service import FeatureService
from featurestore.definitions.feature_view import FeatureView, FeatureViewProjection
from featurestore.definitions.field import Field
from featurestore.definitions.on_demand import OnDemandFeatureView
from featurestore.errors import InputError, NotFoundError
from featurestore.registry.file import RegistryState

MAX_CACHED = 1024
"""Resolved requests kept per registry snapshot (the feature lists come from clients: bounded)."""
HIDDEN = "__odfv__"
"""Prefix of the hidden output names of on-demand views' inputs: ``__odfv__<view>__<feature>``."""
ODFV_KIND = "on_demand_feature_views"


@dataclass(frozen=True)
class ResolvedView:
    """The part of a request served by one feature view (or one projection of it)."""

    view: SourcedView
    """A feature view or an aggregate view."""
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
class ResolvedOnDemand:
    """The part of a request served by one on-demand view: its requested features and where its inputs are."""

    view: OnDemandFeatureView
    """The registered view (its code text and fingerprint; the live code comes from the repo)."""
    features: tuple[str, ...]
    out_names: tuple[str, ...]
    """One output name per feature: ``feature`` or ``name__feature``."""
    name: str
    """The projection's name (``with_name`` in a service), else the view's."""
    inputs: tuple[tuple[str, str], ...]
    """Per source-view feature: ``(bare input name, output column of the request's views holding it)``."""
    sources: tuple[int, ...]
    """The positions in :attr:`ResolvedRequest.views` of the views its inputs come from."""
    request_fields: tuple[tuple[Field, str], ...]
    """Per request field: the field and its request source's name (entity columns offline, request data online)."""
    input_fields: tuple[Field, ...]
    """Every input with its declared type: the source views' features, then the request fields."""


@dataclass(frozen=True)
class ResolvedRequest:
    """A feature list resolved against one registry snapshot: its views in first-seen order."""

    views: tuple[ResolvedView, ...]
    full_feature_names: bool
    derived: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """What a path derives once from this request (e.g. the online read plan), by path name."""
    on_demand: tuple[ResolvedOnDemand, ...] = ()
    """The on-demand views requested, in first-seen order."""
    hidden: frozenset[str] = frozenset()
    """Output names of :attr:`views` read only as on-demand inputs: dropped from the answer."""
    columns: tuple[str, ...] = ()
    """The answer's feature columns in request order (views and on-demand views first-seen); with no
    on-demand view, every output name of :attr:`views` in order."""

    def __post_init__(self) -> None:
        if not self.columns:
            object.__setattr__(self, "columns", tuple(o for v in self.views for o in v.out_names
                                                      if o not in self.hidden))

    @property
    def request_fields(self) -> tuple[str, ...]:
        """The request fields the on-demand views read, in first-seen order."""
        return tuple(dict.fromkeys(f.name for o in self.on_demand for f, _ in o.request_fields))

    @property
    def join_keys(self) -> tuple[str, ...]:
        """Every entity column the views read their join keys from, in first-seen order."""
        return tuple(dict.fromkeys(k for v in self.views for k in v.entity_keys))

    def check_names(self, taken: Iterable[str], owner: str) -> None:
        """Raise :class:`InputError` when an output name is in ``taken`` (names owned by ``owner``)."""
        taken = set(taken)
        for name, outs in self._outputs():
            for out in outs:
                if out in taken:
                    raise InputError(f"feature name {out!r} of view {name!r} collides with {owner}"
                                     f"{'' if self.full_feature_names else '; use full_feature_names=True'}",
                                     feature=out, view=name)

    def _outputs(self) -> list[tuple[str, tuple[str, ...]]]:
        """Per view and on-demand view: its name and its visible output names."""
        out = [(v.name, tuple(o for o in v.out_names if o not in self.hidden)) for v in self.views]
        return out + [(o.name, o.out_names) for o in self.on_demand]

    def check_join_keys(self) -> None:
        """Raise :class:`InputError` when an output name is a join key of a requested view.

        The online answer holds the requested views' join keys beside the features, so such a
        feature would hide the key (offline, the same request collides with the entity columns).
        """
        owners = {k: v.name for v in self.views for k in v.entity_keys}
        for _, outs in self._outputs():
            for out in outs:
                if out in owners:
                    self.check_names([out], f"join key {out!r} of feature view {owners[out]!r}")


Named = FeatureView | AggregateView | OnDemandFeatureView


def _named(state: RegistryState, name: str, where: str) -> Named:
    """The feature view, aggregate view or on-demand view ``name`` (NotFoundError naming ``where`` when none)."""
    if name in state.objects["feature_views"]:
        return state.feature_view(name)
    if name in state.objects.get("aggregate_views", {}):
        return state.aggregate_view(name)
    if name in state.objects[ODFV_KIND]:
        return state.on_demand_feature_view(name)
    raise NotFoundError(f"unknown feature view {name!r} ({where})", kind="feature_view", name=name)


def parse_refs(features: Any, state: RegistryState) -> list[str]:
    """Feature references as ``view:feature`` strings (``view:*`` expands to every feature); ``view`` is a
    feature view or an on-demand feature view."""
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
        view = _named(state, view_name, f"in {ref!r}")
        if feat == "*":
            out += [f"{view_name}:{f}" for f in view.feature_names]
        elif feat not in view.feature_names:
            what = ("on-demand feature view" if isinstance(view, OnDemandFeatureView) else
                    "aggregate view" if isinstance(view, AggregateView) else "feature view")
            raise NotFoundError(f"{what} {view_name!r} has no feature {feat!r}", kind="feature", name=ref)
        else:
            out.append(ref)
    return out


def _projections(features: Any, state: RegistryState) -> list[tuple[FeatureViewProjection, Named]]:
    """The requested projections with their views: a service's own, or one per view of a reference list."""
    if not isinstance(features, FeatureService):
        by_view: dict[str, list[str]] = {}
        for ref in parse_refs(features, state):
            view_name, feat = ref.split(":")
            feats = by_view.setdefault(view_name, [])
            if feat not in feats:
                feats.append(feat)
        return [(FeatureViewProjection(name, tuple(feats)), _named(state, name, "")) for name, feats in by_view.items()]
    out: list[tuple[FeatureViewProjection, Named]] = []
    for p in features.features:
        view = _named(state, p.view, f"in feature service {features.name!r}")
        for feat in p.features:
            if feat not in view.feature_names:
                raise NotFoundError(f"feature view {p.view!r} has no feature {feat!r}", kind="feature",
                                    name=f"{p.name}:{feat}")
        for key in p.join_key_map:
            if isinstance(view, OnDemandFeatureView) or key not in view.join_keys:
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


def _resolved_view(p: FeatureViewProjection, view: SourcedView, outs: tuple[str, ...], name: str = "") -> ResolvedView:
    key_types = {f.name: f.dtype for f in view.key_fields}
    return ResolvedView(view, p.features, outs, view.join_keys,
                        tuple(key_types.get(k, types.Int64) for k in view.join_keys), name or p.name,
                        tuple(p.entity_column(k) for k in view.join_keys))


def _resolve(features: Any, state: RegistryState, full: bool) -> ResolvedRequest:
    owners: dict[str, str] = {}
    views: list[ResolvedView] = []
    odfvs: list[tuple[FeatureViewProjection, OnDemandFeatureView, tuple[str, ...]]] = []
    columns: list[str] = []
    for p, view in _projections(features, state):
        outs = tuple(f"{p.name}__{f}" if full else f for f in p.features)
        for out in outs:
            if out in owners:
                hint = "" if full else "; use full_feature_names=True"
                raise InputError(f"feature name {out!r} of view {p.name!r} collides with {owners[out]}{hint}",
                                 feature=out, view=p.name)
            owners[out] = f"feature view {p.name!r}"
        columns += outs
        if isinstance(view, OnDemandFeatureView):
            odfvs.append((p, view, outs))
        else:
            views.append(_resolved_view(p, view, outs))
    if not odfvs:
        return ResolvedRequest(tuple(views), full)
    hidden: set[str] = set()
    on_demand = [_on_demand(p, odfv, outs, state, views, hidden) for p, odfv, outs in odfvs]
    return ResolvedRequest(tuple(views), full, on_demand=tuple(on_demand), hidden=frozenset(hidden),
                           columns=tuple(columns))


def _on_demand(p: FeatureViewProjection, odfv: OnDemandFeatureView, outs: tuple[str, ...], state: RegistryState,
               views: list[ResolvedView], hidden: set[str]) -> ResolvedOnDemand:
    """The on-demand view's request; its source views' features are added to ``views`` (hidden where not
    requested: a view of the request with the same name and entity columns is shared)."""
    inputs: list[tuple[str, str]] = []
    fields: list[Field] = []
    sources: list[int] = []
    for src in odfv.view_sources:
        if src.view not in state.objects["feature_views"] and src.view not in state.objects["aggregate_views"]:
            raise NotFoundError(f"on-demand feature view {odfv.name!r} reads feature view {src.view!r}, which is not "
                                "registered", kind="feature_view", name=src.view)
        fv = state.sourced_view(src.view)
        entity_keys = tuple(src.entity_column(k) for k in fv.join_keys)
        at = next((i for i, v in enumerate(views) if v.view.name == fv.name and v.name == src.name
                   and v.entity_keys == entity_keys), None)
        if at is None:
            clash = any(v.name == src.name for v in views)
            views.append(_resolved_view(replace(src, features=()), fv, (), HIDDEN + src.name if clash else ""))
            at = len(views) - 1
        shared = views[at]
        feats, cols = list(shared.features), list(shared.out_names)
        for f in src.features or fv.feature_names:
            if f in feats:
                col = cols[feats.index(f)]
            else:
                col = f"{HIDDEN}{src.name}__{f}"
                feats.append(f)
                cols.append(col)
                hidden.add(col)
            inputs.append((f, col))
            fields.append(fv.feature(f))
        views[at] = replace(shared, features=tuple(feats), out_names=tuple(cols))
        if at not in sources:
            sources.append(at)
    request = tuple((f, rs.name) for rs in odfv.request_sources for f in rs.schema)
    return ResolvedOnDemand(odfv, p.features, outs, p.name, tuple(inputs), tuple(sources), request,
                            (*fields, *(f for f, _ in request)))


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


def request(features: Any, state: RegistryState, full_feature_names: bool,
            taken: list[str] | tuple[str, ...] = ()) -> ResolvedRequest:
    """:func:`view_requests`, as the whole resolved request (its on-demand views too)."""
    view_requests(features, state, full_feature_names, taken)
    return resolve(features, state, full_feature_names)
