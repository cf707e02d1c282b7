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
from featurestore.definitions.aggregate_view import NUMERIC_FUNCTIONS, AggregateView, SourcedView, view_label
from featurestore.definitions.batch_transform import applied_schema
from featurestore.definitions.entity import Entity
from featurestore.definitions.feature_service import FeatureService
from featurestore.definitions.feature_view import FeatureView
from featurestore.definitions.field import Field
from featurestore.definitions.on_demand import OnDemandFeatureView
from featurestore.definitions.sources import PushSource, batch_of
from featurestore.errors import DefinitionError
from featurestore.registry.file import RegistryState
from featurestore.registry.where_check import where_error


class SchemaReader(Protocol):
    def source_schema(self, source: Any, view: Any = None) -> pa.Schema: ...


def group(objects: list[Any]) -> dict[str, dict[str, Any]]:
    """Objects by kind and name; two different objects of one kind and name is an error."""
    out: dict[str, dict[str, Any]] = {k: {} for k in kinds.KEYS}
    for obj in objects:
        kind = kinds.of_key(kinds.key_of(obj))
        prev = out[kind.key].get(obj.name)
        if prev is not None and prev.to_dict() != obj.to_dict():
            raise DefinitionError(f"two {kind.plural} are named {obj.name!r}", name=obj.name)
        out[kind.key][obj.name] = obj
    check_name_space({k.key: out[k.key] for k in kinds.VIEW_KINDS})
    check_push_sources({name: view.to_dict() for k in SOURCED_KEYS for name, view in out[k].items()})
    return out


SOURCED_KEYS = ("feature_views", "aggregate_views")
"""The kinds of views read from a source (the ones with push sources)."""


def check_name_space(views: Mapping[str, Mapping[str, Any]], registered: Mapping[str, Mapping[str, Any]] | None = None
                     ) -> None:
    """Feature views, aggregate views and on-demand feature views share one name space (a reference
    ``name:feature`` names any of them): a name used by two kinds is an error naming both.

    ``views``: registry key -> name -> object of the views being applied; ``registered``: the same of the views
    already in the registry that the apply keeps (marked ``(registered)`` in the message)."""
    owners: dict[str, list[tuple[kinds.Kind, bool]]] = {}
    for kind in kinds.VIEW_KINDS:
        for name in views.get(kind.key, {}):
            owners.setdefault(name, []).append((kind, False))
        for name in (registered or {}).get(kind.key, {}):
            if name not in views.get(kind.key, {}):
                owners.setdefault(name, []).append((kind, True))
    for name in sorted(owners):
        found = owners[name]
        if len({k for k, _ in found}) < 2 or all(reg for _, reg in found):
            continue
        # the later kind first: "on-demand feature view 'x' and feature view 'x'"
        (k1, r1), (k2, r2) = sorted(found, key=lambda f: -kinds.VIEW_KINDS.index(f[0]))[:2]
        raise DefinitionError(
            f"{k1.singular} {name!r}{' (registered)' if r1 else ''} and {k2.singular} {name!r}"
            f"{' (registered)' if r2 else ''} have the same name: feature views, aggregate views and on-demand "
            "feature views share one name space (a reference 'name:feature' names any of them); rename one",
            name=name, views=[name])


def check_push_sources(views: Mapping[str, Mapping[str, Any]]) -> None:
    """One push source name denotes one source: every view (as a registry dict, a feature view or an aggregate
    view) pushed to by that name has it.

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
                f"push source {source['name']!r} of view {name!r} differs from the push source of the same name of "
                f"view {seen[0]!r}: one push source name must denote one source (give the views the same "
                "PushSource, or another name)", name=source["name"], views=[seen[0], name])


def _check_entities(view: SourcedView, entities: dict[str, Entity]) -> None:
    what = f"{view_label(view)} {view.name!r}"
    for ent in view.entities:
        known = entities.get(ent.name)
        if known is None:
            raise DefinitionError(f"{what} uses unknown entity {ent.name!r}: apply it too",
                                  name=view.name, entity=ent.name)
        if known.join_keys != ent.join_keys:
            raise DefinitionError(
                f"{what}: entity {ent.name!r} has join keys {list(known.join_keys)} in "
                f"the registry but {list(ent.join_keys)} here", name=view.name, entity=ent.name)


class _Columns:
    """A view's source columns, for messages naming the view, source and column."""

    def __init__(self, view: SourcedView, schema: pa.Schema, where: str, origin: str) -> None:
        self.view, self.schema, self.where, self.origin = view, schema, where, origin

    def type(self, col: str, what: str) -> pa.DataType:
        if col not in self.schema.names:
            raise DefinitionError(f"{self.where}: {what} column {col!r} is missing from {self.origin}; it has "
                                  f"{self.schema.names}", name=self.view.name, column=col)
        return self.schema.field(col).type

    def check_times(self) -> None:
        batch = batch_of(self.view.source)
        for time_col, what in ((batch.timestamp_field, "timestamp"), (batch.created_timestamp_field,
                                                                      "created timestamp")):
            if time_col is None:
                continue
            t = self.type(time_col, what)
            if not types.Timestamp.accepts(t):  # the rule every offline read checks again (offline/duckdb/drift.py)
                raise DefinitionError(f"{self.where}: {what} column {time_col!r} has type {t}, not a timestamp",
                                      name=self.view.name, column=time_col)

    def key_fields(self) -> tuple[Field, ...]:
        """The join keys' fields: as declared (checked), else the source's type (Int32 read as Int64)."""
        view = self.view
        declared = {f.name: f for f in view.key_fields}
        keys: list[Field] = []
        for key in view.join_keys:
            t = self.type(view.source_column(key), f"join key {key!r}")
            if key in declared:
                if not declared[key].dtype.accepts(t):
                    raise DefinitionError(f"{self.where}: join key {key!r} is declared {declared[key].dtype.name} "
                                          f"but the source holds {t}", name=view.name, column=key)
                keys.append(declared[key])
                continue
            vt = types.from_arrow(t)
            if vt is None or vt.element is not None or vt.name in ("Float32", "Float64", "Timestamp"):
                raise DefinitionError(f"{self.where}: join key {key!r} has type {t}; keys must be integers, "
                                      "strings, bytes or booleans", name=view.name, column=key)
            keys.append(Field(name=key, dtype=types.Int64 if vt is types.Int32 else vt))
        return tuple(keys)


def _check_view(view: FeatureView, entities: dict[str, Entity], reader: SchemaReader) -> FeatureView:
    _check_entities(view, entities)
    batch = batch_of(view.source)
    schema = reader.source_schema(view.source, view)  # with the view: CSV columns read as declared
    where = f"feature view {view.name!r} (source {batch.describe()})"
    origin = "the source"
    if view.has_transform:  # the view's columns are the transform's output: check that, over no rows
        schema = applied_schema(view, schema)
        where = f"feature view {view.name!r} (source {batch.describe()}, after its transform)"
        origin = "the transform's output"
    columns = _Columns(view, schema, where, origin)
    for col in batch.field_mapping:
        columns.type(col, "field_mapping")
    columns.check_times()
    for f in view.features:
        t = columns.type(view.source_column(f.name), f"feature {f.name!r}")
        if not f.dtype.accepts(t):
            raise DefinitionError(
                f"{where}: feature {f.name!r} is declared {f.dtype.name} but source column "
                f"{view.source_column(f.name)!r} holds {t}", name=view.name, column=f.name)
    return replace(view, schema=columns.key_fields() + view.features)


NUMERIC = (types.Int32, types.Int64, types.Float32, types.Float64)
"""The column types ``sum``, ``mean`` and ``stddev`` take."""


def _check_aggregate_view(view: AggregateView, entities: dict[str, Entity], reader: SchemaReader) -> AggregateView:
    """The view checked against its source; its schema filled: join keys, then every aggregated column with
    its source type (what :attr:`AggregateView.outputs` needs)."""
    _check_entities(view, entities)
    batch = batch_of(view.source)
    schema = reader.source_schema(view.source, view)  # with the view: CSV columns read as declared
    where = f"aggregate view {view.name!r} (source {batch.describe()})"
    columns = _Columns(view, schema, where, "the source")
    for col in batch.field_mapping:
        columns.type(col, "field_mapping")
    columns.check_times()
    declared = {f.name: f for f in view.input_fields}
    fields: dict[str, Field] = {}
    for agg in view.aggregations:
        if agg.column is None:
            continue
        label = f"{where}, aggregation {agg.function!r} ({', '.join(agg.feature_names)})"
        t = columns.type(agg.column, f"{label}: aggregated")
        vt = types.from_arrow(t)
        if agg.column in declared:
            if not declared[agg.column].dtype.accepts(t):
                raise DefinitionError(f"{label}: column {agg.column!r} is declared {declared[agg.column].dtype.name} "
                                      f"but the source holds {t}", name=view.name, column=agg.column)
            vt = declared[agg.column].dtype
        if vt is None:
            raise DefinitionError(f"{label}: column {agg.column!r} has type {t}, which featurestore does not "
                                  f"handle (use one of {', '.join(types.SCALARS)} or a list of them)",
                                  name=view.name, column=agg.column)
        if agg.function in NUMERIC_FUNCTIONS and vt not in NUMERIC:
            raise DefinitionError(f"{label}: {agg.function} needs a numeric column (Int32, Int64, Float32, Float64), "
                                  f"but column {agg.column!r} is {vt.name} ({t})", name=view.name,
                                  column=agg.column, feature=agg.feature_names[0])
        if agg.function != "count" and vt.element is not None:
            raise DefinitionError(f"{label}: {agg.function} does not take list columns, and column {agg.column!r} is "
                                  f"{vt.name}; aggregate a scalar column (count counts non-null lists)",
                                  name=view.name, column=agg.column, feature=agg.feature_names[0])
        fields.setdefault(agg.column, Field(name=agg.column, dtype=vt))
    for agg in view.aggregations:
        if agg.where is None:
            continue
        error = where_error(agg.where, schema)
        if error is not None:
            raise DefinitionError(
                f"aggregate view {view.name!r}, aggregation {agg.function!r} ({', '.join(agg.feature_names)}): "
                f"its where {agg.where!r} is not a DuckDB predicate on the source's columns: {error}",
                name=view.name, feature=agg.feature_names[0], value=agg.where)
    keys = columns.key_fields()
    key_names = {f.name for f in keys}
    clash = [c for c in fields if c in key_names]
    if clash:  # a join key aggregated too: one field of the schema serves both
        fields = {c: f for c, f in fields.items() if c not in key_names}
    return replace(view, schema=keys + tuple(fields.values()))


def on_demand_inputs(odfv: OnDemandFeatureView, views: Mapping[str, SourcedView]) -> dict[str, str]:
    """The inputs of an on-demand view by bare name -> their owner (``feature view 'x'``, ``aggregate view
    'a'``, ``request source 't'``). A missing source view, a feature a projection lists but the view lacks, or
    two owners of one name are DefinitionErrors naming the view (and both owners)."""
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
        label = f"{view_label(view)} {p.view!r}"
        for f in p.features:
            if f not in view.feature_names:
                raise DefinitionError(f"{what}: {label} has no feature {f!r}", name=odfv.name,
                                      feature=f"{p.view}:{f}")
        for key in p.join_key_map:
            if key not in view.join_keys:
                raise DefinitionError(f"{what}: {label} has no join key {key!r} (join_key_map); "
                                      f"its join keys are {list(view.join_keys)}", name=odfv.name, field=key)
        for f in p.features or view.feature_names:
            add(f, label)
    for r in odfv.request_sources:
        for f in r.field_names:
            add(f, f"request source {r.name!r}")
    return inputs


def _check_on_demand(odfv: OnDemandFeatureView, views: Mapping[str, SourcedView]) -> None:
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


def _check_service(svc: FeatureService, views: dict[str, SourcedView],
                   on_demand: Mapping[str, OnDemandFeatureView]) -> None:
    for p in svc.features:
        view: SourcedView | OnDemandFeatureView | None = views.get(p.view) or on_demand.get(p.view)
        if view is None:
            raise DefinitionError(f"feature service {svc.name!r} uses unknown feature view {p.view!r}",
                                  name=svc.name, view=p.view)
        for f in p.features:
            if f not in view.feature_names:
                what = "on-demand feature view" if isinstance(view, OnDemandFeatureView) else view_label(view)
                raise DefinitionError(f"feature service {svc.name!r}: {what} {p.view!r} has no feature "
                                      f"{f!r}", name=svc.name, feature=f"{p.view}:{f}")
        if isinstance(view, OnDemandFeatureView):
            if p.join_key_map:
                raise DefinitionError(f"feature service {svc.name!r}: on-demand feature view {p.view!r} has no "
                                      "join keys to map (join_key_map)", name=svc.name, view=p.view)
            continue
        for key in p.join_key_map:
            if key not in view.join_keys:
                raise DefinitionError(f"feature service {svc.name!r}: {view_label(view)} {p.view!r} has no join key "
                                      f"{key!r} (join_key_map of {p.name!r}); its join keys are "
                                      f"{list(view.join_keys)}", name=svc.name, field=key)


def validate(objects: list[Any], state: RegistryState, reader: SchemaReader,
             partial: bool) -> dict[str, dict[str, dict[str, Any]]]:
    """Validated, resolved definitions as registry dicts. ``partial`` lets references reach the registry."""
    grouped = group(objects)
    entities: dict[str, Entity] = {e.name: e for e in state.entities()} if partial else {}
    entities.update(grouped["entities"])
    resolved = {name: _check_view(v, entities, reader) for name, v in grouped["feature_views"].items()}
    aggregates = {name: _check_aggregate_view(v, entities, reader) for name, v in grouped["aggregate_views"].items()}
    views: dict[str, SourcedView] = {v.name: v for v in state.sourced_views()} if partial else {}
    views.update(resolved)
    views.update(aggregates)
    on_demand: dict[str, OnDemandFeatureView] = (
        {v.name: v for v in state.on_demand_feature_views()} if partial else {})
    if partial:  # the registry's names count too: an apply of some objects must not shadow them
        check_name_space({k.key: grouped[k.key] for k in kinds.VIEW_KINDS},
                         {k.key: state.objects[k.key] for k in kinds.VIEW_KINDS})
    on_demand.update(grouped["on_demand_feature_views"])
    for odfv in grouped["on_demand_feature_views"].values():
        _check_on_demand(odfv, views)
    for svc in grouped["feature_services"].values():
        _check_service(svc, views, on_demand)
    grouped["feature_views"] = resolved
    grouped["aggregate_views"] = aggregates
    return {kind: {n: obj.to_dict() for n, obj in grouped[kind].items()} for kind in kinds.KEYS}
