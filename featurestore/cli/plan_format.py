"""How ``featurestore plan`` and ``apply`` print a :class:`~featurestore.registry.plan.Plan`.

A changed object is followed by one indented line per difference, features by name and type::

    ~ feature_view driver_stats
        - feature acc_rate (Float32)
        + feature trips (Int64)
        ~ feature conv_rate: Float32 -> Float64
        ~ ttl: 2d -> 1d
    ~ on_demand_feature_view eta
        ~ code changed (fingerprint 3f2a9c0b1d4e -> 8c1e07a2b5f9)
      online driver_stats: feature trips added: NOT_FOUND online until materialized
      ...

Changed transformation code is shown by its fingerprint, never as text. The ``online`` lines say what
the change does to the view's online values (``Plan.online_effects``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from featurestore.cli._group import format_ttl
from featurestore.definitions.aggregate_view import Aggregation
from featurestore.errors import FeatureStoreError
from featurestore.registry.file import RegistryState
from featurestore.registry.plan import Plan, PlanChange, code_changes

INDENT = "    "


def format_plan(plan: Plan, before: RegistryState) -> str:
    """The plan's lines: ``+`` added, ``~`` changed (with what differs), ``-`` removed, then counts.

    ``before`` is the registry the plan starts from (the old side of each change).
    """
    if plan.empty:
        return str(plan)
    lines = [f"+ {c.label}" for c in plan.added]
    for c in plan.changed:
        lines.append(f"~ {c.label}")
        lines += [INDENT + line for line in _changes(c, before, plan)]
    lines += [f"- {c.label}" for c in plan.removed]
    lines += [f"  online {e.view}: {line}" for e in plan.online_effects for line in e.lines()]
    lines.append(f"{len(plan.added)} to add, {len(plan.changed)} to change, {len(plan.removed)} to remove.")
    return "\n".join(lines)


def _changes(change: PlanChange, before: RegistryState, plan: Plan) -> list[str]:
    old = before.objects.get(change.kind, {}).get(change.name)
    new = plan.desired.get(change.kind, {}).get(change.name)
    if not isinstance(old, dict) or not isinstance(new, dict):  # the registry moved meanwhile: what the plan says
        return list(change.fields)
    code, covered = code_changes(old, new)
    lines: list[str] = [f"~ {line}" for line in code]  # by fingerprint: the code text would flood the plan
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b or key in covered:
            continue
        if key == "schema" and change.kind == "aggregate_views":  # join keys and aggregated columns
            lines += _named("column", a or [], b or [],
                            lambda i: "join key" if i.get("name") in _join_keys(old) | _join_keys(new) else "column")
        elif key == "aggregations":
            lines += _aggregations(a or [], b or [])
        elif key == "schema":
            lines += _schema(a or [], b or [], _join_keys(old) | _join_keys(new))
        elif key == "entities":
            lines += _named("entity", a or [], b or [])
        elif key == "features" and change.kind == "feature_services":
            lines += _service_features(a or [], b or [])
        elif key == "ttl_seconds":
            lines.append(f"~ ttl: {_ttl(a)} -> {_ttl(b)}")
        else:
            lines += _fields(key, old.get(key, _MISSING), new.get(key, _MISSING))
    return lines


def _join_keys(view: dict[str, Any]) -> set[str]:
    return {k for e in view.get("entities") or [] for k in e.get("join_keys") or []}


def _ttl(seconds: Any) -> str:
    return format_ttl(timedelta(seconds=seconds)) if isinstance(seconds, int | float) else "none"


def _value(v: Any) -> str:
    """A value as the user wrote it: strings quoted, lists comma-separated, the rest as JSON."""
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return ", ".join(v) or "(none)"
    return json.dumps(v, default=str, sort_keys=True).replace("{", "(").replace("}", ")").replace("[", "(") \
        .replace("]", ")")


_MISSING = object()


def _diffs(path: str, a: Any, b: Any) -> Iterator[tuple[str, Any, Any]]:
    """The dotted paths where ``a`` and ``b`` differ, with both sides (``_MISSING`` where a key is absent)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            x, y = a.get(key, _MISSING), b.get(key, _MISSING)
            if x != y:
                yield from _diffs(f"{path}.{key}", x, y)
    else:
        yield path, a, b


def _fields(path: str, a: Any, b: Any) -> list[str]:
    """``~ source.path: 'a' -> 'b'``, ``+ tags.tier: '1'``, ``- tags.old: 'x'``."""
    return [f"+ {p}: {_value(y)}" if x is _MISSING else f"- {p}: {_value(x)}" if y is _MISSING
            else f"~ {p}: {_value(x)} -> {_value(y)}" for p, x, y in _diffs(path, a, b)]


def _in_item(prefix: str, a: dict[str, Any], b: dict[str, Any], skip: tuple[str, ...]) -> list[str]:
    """``~ <prefix> description: '' -> 'x'``: the differences within one named item, besides ``skip``."""
    return [f"~ {prefix} {p}: {_show(x)} -> {_show(y)}"
            for key in sorted(set(a) | set(b)) if key not in skip and a.get(key) != b.get(key)
            for p, x, y in _diffs(key, a.get(key, _MISSING), b.get(key, _MISSING))]


def _show(v: Any) -> str:
    return "(none)" if v is _MISSING or v is None else _value(v)


def _by_name(items: list[Any]) -> dict[str, dict[str, Any]]:
    return {str(i.get("name")): i for i in items if isinstance(i, dict)}


def _named(what: str, a: list[Any], b: list[Any], label: Any = None) -> list[str]:
    """Lines for two lists of named dicts: ``- what name``, ``+ what name``, ``~ what name field: x -> y``."""
    label = label or (lambda _i: what)
    old, new = _by_name(a), _by_name(b)
    lines = [f"- {label(old[n])} {n}{_type(old[n])}" for n in old if n not in new]
    lines += [f"+ {label(new[n])} {n}{_type(new[n])}" for n in new if n not in old]
    for n in (n for n in new if n in old and old[n] != new[n]):
        x, y = old[n], new[n]
        if x.get("dtype") != y.get("dtype"):
            lines.append(f"~ {label(y)} {n}: {x.get('dtype')} -> {y.get('dtype')}")
        lines += _in_item(f"{label(y)} {n}", x, y, skip=("name", "dtype"))
    kept_old = [n for n in old if n in new]
    kept_new = [n for n in new if n in old]
    if kept_old != kept_new:
        lines.append(f"~ {what} order: {', '.join(kept_old)} -> {', '.join(kept_new)}")
    return lines


def _type(item: dict[str, Any]) -> str:
    return f" ({item['dtype']})" if "dtype" in item else ""


def _schema(a: list[Any], b: list[Any], keys: set[str]) -> list[str]:
    return _named("feature", a, b, lambda i: "join key" if i.get("name") in keys else "feature")


def _aggregations(a: list[Any], b: list[Any]) -> list[str]:
    """An aggregate view's features, each with what computes it: ``+ feature count_1h: count(*) over 1h``."""

    def features(aggs: list[Any]) -> dict[str, str]:
        out: dict[str, str] = {}
        for d in aggs:
            try:
                agg = Aggregation.from_dict(d)
            except (FeatureStoreError, KeyError, TypeError):  # not this version's: show it as it is
                out[_value(d)] = ""
                continue
            where = f" where {agg.where}" if agg.where else ""
            for name, window in zip(agg.feature_names, agg.windows or ("lifetime",), strict=True):
                out[name] = f"{agg.function}({agg.column or '*'}) over {window}{where}"
        return out

    old, new = features(a), features(b)
    lines = [f"- feature {n}: {old[n]}" for n in old if n not in new]
    lines += [f"+ feature {n}: {new[n]}" for n in new if n not in old]
    lines += [f"~ feature {n}: {old[n]} -> {new[n]}" for n in new if n in old and old[n] != new[n]]
    kept_old, kept_new = [n for n in old if n in new], [n for n in new if n in old]
    if kept_old != kept_new:
        lines.append(f"~ feature order: {', '.join(kept_old)} -> {', '.join(kept_new)}")
    return lines


def _service_features(a: list[Any], b: list[Any]) -> list[str]:
    """A service's feature references, ``view:feature`` (``view:*``: every feature of the view)."""

    def refs(projections: list[Any]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for p in projections:
            alias = p.get("alias") or p.get("view")
            rest = {k: v for k, v in p.items() if k not in ("view", "features", "alias")}
            for f in p.get("features") or ["*"]:
                out[f"{alias}:{f}"] = rest
        return out

    old, new = refs(a), refs(b)
    lines = [f"- feature {r}" for r in old if r not in new] + [f"+ feature {r}" for r in new if r not in old]
    for r in (r for r in new if r in old and old[r] != new[r]):
        lines += _in_item(f"feature {r}", old[r], new[r], skip=())
    return lines
