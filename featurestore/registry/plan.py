"""What an apply would change: objects added, changed (with the fields that differ) and removed."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from featurestore.definitions import kinds
from featurestore.definitions.kinds import KEYS
from featurestore.registry.checks import check_push_sources
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


@dataclass(frozen=True)
class Plan:
    """The difference between the registry and the desired definitions.

    ``str(plan)`` is what ``featurestore plan`` prints.
    """

    added: tuple[PlanChange, ...] = ()
    changed: tuple[PlanChange, ...] = ()
    removed: tuple[PlanChange, ...] = ()
    desired: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def removed_views(self) -> list[str]:
        return [c.name for c in self.removed if c.kind == "feature_views"]

    def __str__(self) -> str:
        if self.empty:
            return "No changes: the registry matches the definitions."
        lines = [f"+ {c.label}" for c in self.added]
        for c in self.changed:
            lines.append(f"~ {c.label}: {', '.join(c.fields)}")
        lines += [f"- {c.label}" for c in self.removed]
        lines.append(f"{len(self.added)} to add, {len(self.changed)} to change, {len(self.removed)} to remove.")
        return "\n".join(lines)


def _diff_fields(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            out += _diff_fields(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    if old != new:
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
    gone = {c.name for c in removed if c.kind == "feature_views"}
    views = {n: v for n, v in state.objects["feature_views"].items() if n not in gone and not remove_missing}
    views.update(desired.get("feature_views", {}))
    check_push_sources(views)
    return Plan(tuple(added), tuple(changed), tuple(removed), desired)


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
