"""Checks run by ``apply``: names, references, and every view against its source's columns.

It also resolves each view's join key types from the source when the schema
does not declare them, so the registry knows every key's type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Protocol

import pyarrow as pa

from featurestore import types
from featurestore.definitions import kinds
from featurestore.definitions.batch_transform import applied_schema
from featurestore.definitions.entity import Entity
from featurestore.definitions.feature_service import FeatureService
from featurestore.definitions.feature_view import FeatureView
from featurestore.definitions.field import Field
from featurestore.definitions.on_demand import OnDemandFeatureView
from featurestore.definitions.sources import PushSource, batch_of
from featurestore.errors import DefinitionError
from featurestore.registry.file import RegistryState


class SchemaReader(Protocol):
    def source_schema(self, source: Any, view: FeatureView | None = None) -> pa.Schema: ...


def group(objects: list[Any]) -> dict[str, dict[str, Any]]:
    """Objects by kind and name; two different objects of one kind and name is an error."""
    out: dict[str, dict[str, Any]] = {k: {} for k in kinds.KEYS}
    for obj in objects:
        kind = kinds.of_key(kinds.key_of(obj))
        prev = out[kind.key].get(obj.name)
        if prev is not None and prev.to_dict() != obj.to_dict():
            raise DefinitionError(f"two {kind.plural} are named {obj.name!r}", name=obj.name)
        out[kind.key][obj.name] = obj
    check_name_space(out["feature_views"], out["on_demand_feature_views"])
    check_push_sources({name: view.to_dict() for name, view in out["feature_views"].items()})
    return out


def check_name_space(views: Mapping[str, Any], on_demand: Mapping[str, Any], registered: str = "") -> None:
    """Feature views and on-demand feature views share one name space (a reference ``name:feature`` names
    either): a name used by both is an error naming both. ``registered``: which side is in the registry
    (``"feature view"`` or ``"on-demand feature view"``), for the message."""
    for name in sorted(set(views) & set(on_demand)):
        notes = {k: " (registered)" if k == registered else "" for k in ("feature view", "on-demand feature view")}
        raise DefinitionError(
            f"on-demand feature view {name!r}{notes['on-demand feature view']} and feature view {name!r}"
            f"{notes['feature view']} have the same name: feature views and on-demand feature views share one "
            "name space (a reference 'name:feature' names either); rename one", name=name, views=[name])


def check_push_sources(views: Mapping[str, Mapping[str, Any]]) -> None:
    """One push source name denotes one source: every view (as a registry dict) pushed to by that name has it.

    ``views`` is the whole set the registry would hold (registered views kept, plus the applied ones), so a
    later apply cannot give a registered push source a second batch source.
    """
    first: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for name in sorted(views):
        source = views[name]["source"]
        if source.get("kind") != PushSource.kind:
            continue
        seen = first.setdefault(source["name"], (name, source))
        if seen[1] != source:
            raise DefinitionError(
                f"push source {source['name']!r} of feature view {name!r} differs from the push source of the "
                f"same name of feature view {seen[0]!r}: one push source name must denote one source (give the "
                "views the same PushSource, or another name)", name=source["name"], views=[seen[0], name])


def _check_view(view: FeatureView, entities: dict[str, Entity], reader: SchemaReader) -> FeatureView:
    for ent in view.entities:
        known = entities.get(ent.name)
        if known is None:
            raise DefinitionError(f"feature view {view.name!r} uses unknown entity {ent.name!r}: apply it too",
                                  name=view.name, entity=ent.name)
        if known.join_keys != ent.join_keys:
            raise DefinitionError(
                f"feature view {view.name!r}: entity {ent.name!r} has join keys {list(known.join_keys)} in "
                f"the registry but {list(ent.join_keys)} here", name=view.name, entity=ent.name)
    batch = batch_of(view.source)
    schema = reader.source_schema(view.source, view)  # with the view: CSV columns read as declared
    where = f"feature view {view.name!r} (source {batch.describe()})"
    origin = "the source"
    if view.has_transform:  # the view's columns are the transform's output: check that, over no rows
        schema = applied_schema(view, schema)
        where = f"feature view {view.name!r} (source {batch.describe()}, after its transform)"
        origin = "the transform's output"

    def column(col: str, what: str) -> pa.DataType:
        if col not in schema.names:
            raise DefinitionError(f"{where}: {what} column {col!r} is missing from {origin}; it has "
                                  f"{schema.names}", name=view.name, column=col)
        return schema.field(col).type

    for col in batch.field_mapping:
        column(col, "field_mapping")
    times = [(batch.timestamp_field, "timestamp"), (batch.created_timestamp_field, "created timestamp")]
    for time_col, what in times:
        if time_col is None:
            continue
        t = column(time_col, what)
        if not types.Timestamp.accepts(t):  # the rule every offline read checks again (offline/duckdb/drift.py)
            raise DefinitionError(f"{where}: {what} column {time_col!r} has type {t}, not a timestamp",
                                  name=view.name, column=time_col)
    for f in view.features:
        t = column(view.source_column(f.name), f"feature {f.name!r}")
        if not f.dtype.accepts(t):
            raise DefinitionError(
                f"{where}: feature {f.name!r} is declared {f.dtype.name} but source column "
                f"{view.source_column(f.name)!r} holds {t}", name=view.name, column=f.name)
    declared = {f.name: f for f in view.key_fields}
    keys: list[Field] = []
    for key in view.join_keys:
        t = column(view.source_column(key), f"join key {key!r}")
        if key in declared:
            if not declared[key].dtype.accepts(t):
                raise DefinitionError(f"{where}: join key {key!r} is declared {declared[key].dtype.name} but the "
                                      f"source holds {t}", name=view.name, column=key)
            keys.append(declared[key])
            continue
        vt = types.from_arrow(t)
        if vt is None or vt.element is not None or vt.name in ("Float32", "Float64", "Timestamp"):
            raise DefinitionError(f"{where}: join key {key!r} has type {t}; keys must be integers, strings, "
                                  "bytes or booleans", name=view.name, column=key)
        keys.append(Field(name=key, dtype=types.Int64 if vt is types.Int32 else vt))
    return replace(view, schema=tuple(keys) + view.features)


def on_demand_inputs(odfv: OnDemandFeatureView, views: Mapping[str, FeatureView]) -> dict[str, str]:
    """The inputs of an on-demand view by bare name -> their owner (``feature view 'x'``, ``request source
    't'``). A missing source view, a feature a projection lists but the view lacks, or two owners of one
    name are DefinitionErrors naming the view (and both owners)."""
    what = f"on-demand feature view {odfv.name!r}"
    inputs: dict[str, str] = {}

    def add(name: str, owner: str) -> None:
        if name in inputs:
            raise DefinitionError(
                f"{what}: input {name!r} comes from both {inputs[name]} and {owner}; inputs are keyed by bare "
                "names, so they must not collide (list some features with view[[...]], or rename a request "
                "field)", name=odfv.name, feature=name)
        inputs[name] = owner

    for p in odfv.view_sources:
        view = views.get(p.view)
        if view is None:
            raise DefinitionError(f"{what} uses unknown feature view {p.view!r}: apply it too", name=odfv.name,
                                  source=p.view)
        for f in p.features:
            if f not in view.feature_names:
                raise DefinitionError(f"{what}: feature view {p.view!r} has no feature {f!r}", name=odfv.name,
                                      feature=f"{p.view}:{f}")
        for key in p.join_key_map:
            if key not in view.join_keys:
                raise DefinitionError(f"{what}: feature view {p.view!r} has no join key {key!r} (join_key_map); "
                                      f"its join keys are {list(view.join_keys)}", name=odfv.name, field=key)
        for f in p.features or view.feature_names:
            add(f, f"feature view {p.view!r}")
    for r in odfv.request_sources:
        for f in r.field_names:
            add(f, f"request source {r.name!r}")
    return inputs


def _check_on_demand(odfv: OnDemandFeatureView, views: Mapping[str, FeatureView]) -> None:
    what = f"on-demand feature view {odfv.name!r}"
    inputs = on_demand_inputs(odfv, views)
    for f in odfv.feature_names:
        if f in inputs:
            raise DefinitionError(f"{what}: feature {f!r} has the name of an input (of {inputs[f]}); outputs and "
                                  "inputs must not share names", name=odfv.name, feature=f)
    for f, expr in (odfv.expressions or {}).items():
        for column in expr.meta.root_names():
            if column not in inputs:
                raise DefinitionError(
                    f"{what}, feature {f!r}: its expression reads column {column!r}, which is not an input; the "
                    f"inputs are {sorted(inputs)}", name=odfv.name, feature=f, column=column)


def _check_service(svc: FeatureService, views: dict[str, FeatureView],
                   on_demand: Mapping[str, OnDemandFeatureView]) -> None:
    for p in svc.features:
        view: FeatureView | OnDemandFeatureView | None = views.get(p.view) or on_demand.get(p.view)
        if view is None:
            raise DefinitionError(f"feature service {svc.name!r} uses unknown feature view {p.view!r}",
                                  name=svc.name, view=p.view)
        for f in p.features:
            if f not in view.feature_names:
                raise DefinitionError(f"feature service {svc.name!r}: feature view {p.view!r} has no feature "
                                      f"{f!r}", name=svc.name, feature=f"{p.view}:{f}")
        if isinstance(view, OnDemandFeatureView):
            if p.join_key_map:
                raise DefinitionError(f"feature service {svc.name!r}: on-demand feature view {p.view!r} has no "
                                      "join keys to map (join_key_map)", name=svc.name, view=p.view)
            continue
        for key in p.join_key_map:
            if key not in view.join_keys:
                raise DefinitionError(f"feature service {svc.name!r}: feature view {p.view!r} has no join key "
                                      f"{key!r} (join_key_map of {p.name!r}); its join keys are "
                                      f"{list(view.join_keys)}", name=svc.name, field=key)


def validate(objects: list[Any], state: RegistryState, reader: SchemaReader,
             partial: bool) -> dict[str, dict[str, dict[str, Any]]]:
    """Validated, resolved definitions as registry dicts. ``partial`` lets references reach the registry."""
    grouped = group(objects)
    entities: dict[str, Entity] = {e.name: e for e in state.entities()} if partial else {}
    entities.update(grouped["entities"])
    resolved = {name: _check_view(v, entities, reader) for name, v in grouped["feature_views"].items()}
    views: dict[str, FeatureView] = {v.name: v for v in state.feature_views()} if partial else {}
    views.update(resolved)
    on_demand: dict[str, OnDemandFeatureView] = (
        {v.name: v for v in state.on_demand_feature_views()} if partial else {})
    if partial:  # the registry's names count too: an apply of some objects must not shadow them
        check_name_space({n: v for n, v in views.items() if n not in resolved},
                         grouped["on_demand_feature_views"], registered="feature view")
        check_name_space(resolved, {n: v for n, v in on_demand.items() if n not in grouped["on_demand_feature_views"]},
                         registered="on-demand feature view")
    on_demand.update(grouped["on_demand_feature_views"])
    for odfv in grouped["on_demand_feature_views"].values():
        _check_on_demand(odfv, views)
    for svc in grouped["feature_services"].values():
        _check_service(svc, views, on_demand)
    grouped["feature_views"] = resolved
    return {kind: {n: obj.to_dict() for n, obj in grouped[kind].items()} for kind in kinds.KEYS}
