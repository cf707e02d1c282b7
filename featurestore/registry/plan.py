"""What an apply would change: objects added, changed (with the fields that differ) and removed."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from featurestore.definitions import kinds
from featurestore.definitions.feature_view import FeatureView
from featurestore.definitions.kinds import KEYS
from featurestore.registry.checks import SOURCED_KEYS, check_push_sources
from featurestore.registry.file import RegistryState
from featurestore.utc import now_iso


@dataclass(frozen=True)
class PlanChange:
    kind: str
    name: str
    fields: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{kinds.of_key(self.kind).label} {self.name}"


Layout = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]
"""What an online row of a view is written under: join keys, key type names, features, feature type names."""


def online_layout(view: FeatureView) -> Layout:
    """The layout of ``view``'s online rows (a join key not in the schema is Int64, as the online store takes it)."""
    keys = {f.name: f.dtype.name for f in view.key_fields}
    return (view.join_keys, tuple(keys.get(k, "Int64") for k in view.join_keys), view.feature_names,
            tuple(f.dtype.name for f in view.features))


@dataclass(frozen=True)
class OnlineEffect:
    """What applying a plan does to the online values of one feature view or aggregate view.

    ``deletes``: its online values and watermark are deleted (the view is removed, or its join keys or
    their types change; for an aggregate view, any change of what its online states depend on). Otherwise the
    stored rows stay readable for the features whose name and type did not change; ``added`` and ``retyped``
    features read as NOT_FOUND for those rows until materialized, and the watermark is forgotten so
    ``materialize-incremental`` reloads the view.
    """

    view: str
    deletes: bool
    reason: str = ""
    added: tuple[str, ...] = ()
    retyped: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """One line per effect, for people."""
        if self.deletes:
            return [f"{self.reason}: online data deleted (materialize again)"]
        out = [f"feature {f} added: NOT_FOUND online until materialized" for f in self.added]
        out += [f"feature {f} type changed: NOT_FOUND online until materialized" for f in self.retyped]
        out += [f"feature {f} removed" for f in self.removed]
        return [*out, "other features keep their online values; the watermark is reset"]


def online_effect(name: str, old: FeatureView | None, new: FeatureView | None) -> OnlineEffect | None:
    """The effect on the online rows of view ``name`` going from ``old`` to ``new`` (None: removed); None when
    the stored rows read exactly as before."""
    if old is None:
        return None
    if new is None:
        return OnlineEffect(name, True, "feature view removed")
    (keys, key_types, feats, types), (keys2, key_types2, feats2, types2) = online_layout(old), online_layout(new)
    if (keys, key_types) != (keys2, key_types2):
        return OnlineEffect(name, True, "join keys changed" if keys != keys2 else "join key types changed")
    if (feats, types) == (feats2, types2):
        return None
    before = dict(zip(feats, types, strict=True))
    return OnlineEffect(name, False, added=tuple(f for f in feats2 if f not in before),
                        retyped=tuple(f for f, t in zip(feats2, types2, strict=True) if before.get(f, t) != t),
                        removed=tuple(f for f in feats if f not in feats2))


STATE_KEYS = ("entities", "source", "aggregations", "serving_horizon", "resolution", "schema")
"""What an aggregate view's stored online states depend on (its state fingerprint): changing any makes them
unreadable, so its online data is deleted and it must be materialized again."""


def aggregate_effect(name: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> OnlineEffect | None:
    """The effect on the online states of aggregate view ``name`` going from registry dict ``old`` to ``new``
    (None: removed); None when its states read as before (only description, owner, tags or online changed)."""
    if old is None:
        return None
    if new is None:
        return OnlineEffect(name, True, "aggregate view removed")
    changed = [k for k in STATE_KEYS if old.get(k) != new.get(k)]
    if not changed:
        return None
    words = {"serving_horizon": "serving horizon", "schema": "column types"}
    return OnlineEffect(name, True, f"{', '.join(words.get(k, k) for k in changed)} changed (its online states "
                                    "no longer match the definition)")


@dataclass(frozen=True)
class Plan:
    """The difference between the registry and the desired definitions.

    ``str(plan)`` is what ``featurestore plan`` prints.
    """

    added: tuple[PlanChange, ...] = ()
    changed: tuple[PlanChange, ...] = ()
    removed: tuple[PlanChange, ...] = ()
    online_effects: tuple[OnlineEffect, ...] = ()
    """Per feature view or aggregate view whose online data is affected: what the change does to it."""
    desired: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def removed_views(self) -> list[str]:
        """The feature views and aggregate views the plan removes."""
        return [c.name for c in self.removed if c.kind in ("feature_views", "aggregate_views")]

    def __str__(self) -> str:
        if self.empty:
            return "No changes: the registry matches the definitions."
        lines = [f"+ {c.label}" for c in self.added]
        for c in self.changed:
            lines.append(f"~ {c.label}: {', '.join(c.fields)}")
        lines += [f"- {c.label}" for c in self.removed]
        lines += [f"  online {e.view}: {line}" for e in self.online_effects for line in e.lines()]
        lines.append(f"{len(self.added)} to add, {len(self.changed)} to change, {len(self.removed)} to remove.")
        return "\n".join(lines)


CODE_KEYS = (("code", "fingerprint", "code"), ("transform_code", "transform_fingerprint", "transform"))
"""(code key, fingerprint key, label) of the transformation code a registry dict may hold."""


def code_changes(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[str], set[str]]:
    """How the code of a changed object changed, by fingerprint (never the code text), and the keys covered.

    >>> lines, keys = code_changes({"code": "a", "fingerprint": "0123456789abcdef"},
    ...                            {"code": "b", "fingerprint": "fedcba9876543210"})
    >>> lines, sorted(keys)
    (['code changed (fingerprint 0123456789ab -> fedcba987654)'], ['code', 'fingerprint'])
    """
    lines: list[str] = []
    covered: set[str] = set()
    for code_key, fp_key, label in CODE_KEYS:
        if not ({code_key, fp_key} & (set(old) | set(new))):
            continue
        covered |= {code_key, fp_key}
        a, b = old.get(fp_key), new.get(fp_key)
        if old.get(code_key) == new.get(code_key):
            if a != b and old.get("schema") == new.get("schema"):
                lines.append(f"{label} fingerprint changed ({_short(a)} -> {_short(b)}; same code: another Polars "
                             "version)")
        elif not old.get(code_key):
            lines.append(f"{label} added (fingerprint {_short(b)})")
        elif not new.get(code_key):
            lines.append(f"{label} removed (fingerprint {_short(a)})")
        else:
            lines.append(f"{label} changed (fingerprint {_short(a)} -> {_short(b)})")
    return lines, covered


def _short(fingerprint: Any) -> str:
    return str(fingerprint)[:12] if fingerprint else "none"


def _diff_fields(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        covered: set[str] = set()
        if not prefix:
            out, covered = code_changes(old, new)
        for key in sorted(set(old) | set(new), key=str):
            if key not in covered:
                out += _diff_fields(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    if old != new:
        if any(isinstance(v, str) and ("\n" in v or len(v) > 80) for v in (old, new)):  # code: too long to show
            return [f"{prefix.rstrip('.')}: changed"]
        return [f"{prefix.rstrip('.')}: {old!r} -> {new!r}"]
    return []


def make_plan(state: RegistryState, desired: dict[str, dict[str, dict[str, Any]]], remove_missing: bool,
              to_delete: tuple[tuple[str, str], ...] = ()) -> Plan:
    """The plan from ``state`` to ``desired``; ``to_delete`` lists (kind, name) to remove explicitly."""
    added, changed, removed = [], [], []
    for kind in KEYS:
        current = state.objects[kind]
        wanted = desired.get(kind, {})
        for name in sorted(wanted):
            if name not in current:
                added.append(PlanChange(kind, name))
            elif current[name] != wanted[name]:
                changed.append(PlanChange(kind, name, tuple(_diff_fields(current[name], wanted[name]))))
        if remove_missing:
            removed += [PlanChange(kind, name) for name in sorted(current) if name not in wanted]
        else:
            removed += [PlanChange(kind, name) for k, name in to_delete if k == kind and name in current]
    gone = {(c.kind, c.name) for c in removed}
    views = {n: v for k in SOURCED_KEYS for n, v in state.objects[k].items()
             if (k, n) not in gone and not remove_missing}
    for k in SOURCED_KEYS:
        views.update(desired.get(k, {}))
    check_push_sources(views)
    effects = []
    view_kind = kinds.of_key("feature_views")
    for c in changed + removed:
        data = desired.get(c.kind, {}).get(c.name) if c in changed else None
        effect = None
        if c.kind == "feature_views":
            effect = online_effect(c.name, state.feature_view(c.name), view_kind.from_dict(data) if data else None)
        elif c.kind == "aggregate_views":
            effect = aggregate_effect(c.name, state.objects[c.kind][c.name], data)
        if effect is not None:
            effects.append(effect)
    return Plan(tuple(added), tuple(changed), tuple(removed), tuple(effects), desired)


def applied(state: RegistryState, plan: Plan) -> tuple[RegistryState, dict[str, Any]] | None:
    """The state after ``plan`` and its history entry; None when there is nothing to do."""
    if plan.empty:
        return None
    objects = {k: dict(state.objects[k]) for k in KEYS}
    for c in plan.added + plan.changed:
        objects[c.kind][c.name] = plan.desired[c.kind][c.name]
    for c in plan.removed:
        del objects[c.kind][c.name]
    version = state.version + 1
    entry = {
        "version": version,
        "applied_at": now_iso(),
        "changes": {
            "added": [c.label for c in plan.added],
            "changed": [c.label for c in plan.changed],
            "removed": [c.label for c in plan.removed],
        },
        "objects": objects,
    }
    return replace(state, version=version, objects=objects, _parsed={}), entry
