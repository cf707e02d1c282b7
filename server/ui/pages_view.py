"""A view's page (plain, aggregate or on-demand): definition, freshness, validation, statistics, sample online
values for an entity the user types, and snippets; and its statistics page (computed on demand, cached)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request
from markupsafe import Markup

from featurestore import (
    AggregateView,
    FeatureStoreError,
    FeatureView,
    InputError,
    NotFoundError,
    OnDemandFeatureView,
    Profile,
    PushSource,
)

from . import index as ix
from .context import UiContext
from .snippets import placeholder
from .svg_histogram import histogram_svg
from .web import Page

TRUE = {"true", "1", "yes", "t", "y"}
FALSE = {"false", "0", "no", "f", "n"}


def _view(ui: UiContext, name: str) -> tuple[ix.Index, ix.AnyView]:
    index = ui.index()
    v = index.views.get(name)
    if v is None:
        raise NotFoundError(f"no feature view, aggregate view or on-demand view named {name!r}",
                            kind="feature_view", name=name)
    return index, v


def key_fields(index: ix.Index, v: ix.AnyView) -> dict[str, str]:
    """The join keys a lookup of ``v`` takes, with their types (an on-demand view: its source views')."""
    if isinstance(v, OnDemandFeatureView):
        out: dict[str, str] = {}
        for p in v.view_sources:
            upstream = index.views.get(p.view)
            if upstream is not None:
                for k, t in key_fields(index, upstream).items():
                    out.setdefault(p.join_key_map.get(k, k), t)
        return out
    types = {f.name: f.dtype.name for f in v.key_fields}
    return {k: types.get(k, "Int64") for k in v.join_keys}


def request_fields(v: ix.AnyView) -> dict[str, str]:
    if not isinstance(v, OnDemandFeatureView):
        return {}
    return {f.name: f.dtype.name for r in v.request_sources for f in r.schema}


def features(v: ix.AnyView) -> list[dict[str, Any]]:
    if isinstance(v, AggregateView):
        out = {o.name: o for o in v.outputs}
        rows = []
        for agg in v.aggregations:
            for name, window in zip(agg.feature_names, agg.windows or (None,), strict=True):
                rows.append({"name": name, "type": out[name].dtype.name, "function": agg.function,
                             "column": agg.column, "window": window or "lifetime", "where": agg.where})
        return rows
    return [{"name": f.name, "type": f.dtype.name} for f in v.features]


def parse_value(text: str, dtype: str, name: str) -> Any:
    """A typed entity value from a form field (``InputError`` naming the field when it does not parse)."""
    text = text.strip()
    try:
        if dtype.startswith("Int"):
            return int(text)
        if dtype.startswith("Float"):
            return float(text)
        if dtype == "Bool":
            if text.lower() in TRUE | FALSE:
                return text.lower() in TRUE
            raise ValueError(text)
    except ValueError:
        raise InputError(f"{name!r} takes {'an' if dtype[0] in 'AEIOU' else 'a'} {dtype} value, got {text!r}",
                         field=name) from None
    return text


def _source(v: FeatureView | AggregateView) -> dict[str, Any]:
    src = v.source
    batch = src.batch_source if isinstance(src, PushSource) else src
    push = src.name if isinstance(src, PushSource) else None
    out: dict[str, Any] = {"name": ix.source_name(batch), "type": batch.kind, "describe": batch.describe(),
                           "timestamp_field": batch.timestamp_field,
                           "created_timestamp_field": batch.created_timestamp_field,
                           "push_source": push}
    for attr in ("path", "query", "table", "database"):
        value = getattr(batch, attr, None)
        if value:
            out[attr] = value
    if isinstance(v, FeatureView) and v.has_transform:
        out["transform"] = v.transform_code
    return out


def _definition(index: ix.Index, v: ix.AnyView) -> dict[str, Any]:
    kind = ix.view_kind(v)
    data: dict[str, Any] = {
        "name": v.name, "kind": kind, "label": ix.LABELS[kind], "description": v.description, "owner": v.owner,
        "tags": dict(v.tags), "features": features(v),
        "join_keys": [{"name": k, "type": t} for k, t in key_fields(index, v).items()],
        "request_fields": [{"name": k, "type": t} for k, t in request_fields(v).items()],
        "used_by": [{"kind": k, "label": ix.LABELS.get(k, k), "name": n} for k, n in index.used_by(kind, v.name)],
    }
    if isinstance(v, OnDemandFeatureView):
        data.update(mode=v.mode, code=v.code, fingerprint=v.fingerprint, online=True,
                    sources=[{"view": p.view, "features": list(p.features) or ["*"]} for p in v.view_sources])
        return data
    data.update(entities=[{"name": e.name, "join_keys": list(e.join_keys)} for e in v.entities],
                source=_source(v), online=v.online,
                expectations=[e.label for e in getattr(v, "expectations", ())],
                on_invalid=getattr(v, "on_invalid", None))
    if isinstance(v, AggregateView):
        data.update(windows=list(dict.fromkeys(w for a in v.aggregations for w in (a.windows or ("lifetime",)))),
                    serving_horizon=v.serving_horizon, resolution=v.resolution, ttl_seconds=None)
    else:
        data.update(ttl_seconds=v.ttl.total_seconds() if v.ttl else None)
    return data


def _sample(ui: UiContext, request: Request, index: ix.Index, v: ix.AnyView) -> dict[str, Any]:
    """The values online for the entity typed in the form (``?<join key>=...``), if any."""
    keys, extra = key_fields(index, v), request_fields(v)
    typed = {k: request.query_params.get(k, "") for k in [*keys, *extra]}
    sample: dict[str, Any] = {"typed": typed, "rows": [], "error": None, "looked_up": False}
    if not any(typed[k].strip() for k in keys):
        return sample
    try:
        row = {k: parse_value(typed[k], t, k) for k, t in {**keys, **extra}.items() if typed[k].strip()}
        missing = [k for k in [*keys, *extra] if k not in row]
        if missing:
            raise InputError(f"give a value for {', '.join(repr(m) for m in missing)}", field=missing[0])
        refs = [f"{v.name}:{f['name']}" for f in features(v)]
        answer = ui.store.get_online_features(refs, [row])
        times = answer.event_timestamps
        sample["rows"] = [{"feature": f["name"], "value": answer.features[f["name"]][0],
                           "status": answer.statuses[f["name"]][0],
                           "event_timestamp": (times.get(f["name"]) or [None])[0]} for f in features(v)]
        sample["looked_up"] = True
        sample["entity"] = row
    except FeatureStoreError as err:
        sample["error"] = err.message
    return sample


def _stats_data(profile: Profile, at: float) -> tuple[dict[str, Any], dict[str, Markup]]:
    svgs = {name: Markup(histogram_svg(f)) for name, f in profile.features.items()}
    data = {"computed_at": at, "rows": profile.rows, "features": {k: f.to_dict() for k, f in profile.features.items()}}
    return data, svgs


def view(ui: UiContext, request: Request, name: str) -> Page:
    index, v = _view(ui, name)
    data = _definition(index, v)
    extra: dict[str, Any] = {"histograms": {}}
    if not isinstance(v, OnDemandFeatureView):
        status = ui.store.monitoring_status(index.state)  # freshness included (empty if the store is down)
        f = status.freshness.get(v.name)
        data["freshness"] = None if f is None else {
            "data_timestamp": f.data_timestamp, "age_seconds": f.age.total_seconds() if f.age else None,
            "max_staleness_seconds": f.max_staleness.total_seconds() if f.max_staleness else None, "stale": f.stale}
        data["validation"] = {"counts": status.validation.get(v.name, {}),
                              "latest": ui.store.validation_log(v.name, 5)}
        mark = ui.store.watermarks().get(v.name)
        data["materialization"] = None if mark is None else {
            k: mark.get(k) for k in ("watermark", "last_success", "last_rows", "total_rows")}
        hit = None if isinstance(v, AggregateView) else ui.statistics.cached(index.state, v.name)
        if hit is not None:
            data["statistics"], extra["histograms"] = _stats_data(*hit)
        else:
            data["statistics"] = None
    sample = _sample(ui, request, index, v)
    data["sample"] = sample
    entity = sample.get("entity") or {}
    keys = {k: entity.get(k, placeholder(t)) for k, t in key_fields(index, v).items()}
    extras = {k: entity.get(k, placeholder(t)) for k, t in request_fields(v).items()}
    refs = [f"{v.name}:{f['name']}" for f in features(v)]
    data["snippets"] = ui.snippets(request).all(refs, keys, extras)
    return Page("view.html", f"{data['label'].capitalize()} {v.name}", data, extra, nav="views",
                status=400 if sample["error"] else 200)


def statistics(ui: UiContext, request: Request, name: str) -> Page:
    """Statistics of a view's source rows: computed on the first request, then cached per source state."""
    index, v = _view(ui, name)
    if isinstance(v, OnDemandFeatureView):
        raise InputError(f"{name!r} is an on-demand view: its values are computed per request, so its statistics "
                         "are those of a training set or of logged lookups", field="view")
    if isinstance(v, AggregateView):
        raise InputError(f"{name!r} is an aggregate view: its values exist only after aggregation, at each "
                         "training row's or lookup's time, so its statistics are those of a training set or of "
                         "logged lookups", field="view")
    started = time.perf_counter()
    profile, at, computed = ui.statistics.get(index.state, v.name)
    data, svgs = _stats_data(profile, at)
    data.update(name=v.name, kind=ix.view_kind(v), label=ix.LABELS[ix.view_kind(v)], computed_now=computed,
                seconds=round(time.perf_counter() - started, 3))
    return Page("statistics.html", f"Statistics of {v.name}", data, {"histograms": svgs}, nav="views")
