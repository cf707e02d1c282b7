"""The registry's past: the state at any applied version, and what changed between two versions.

Every ``apply`` appends its version with the full objects to the history file (``Registry.history``), so the
definitions of any version load as they were (:func:`state_at`), and two versions compare field by field
(:func:`diff_states`): the registry form of each object, nested dictionaries walked to the changed leaf.

>>> a = RegistryState("p", 1, {k: {} for k in KEYS})
>>> b = RegistryState("p", 2, {**{k: {} for k in KEYS}, "entities": {"driver": {"name": "driver"}}})
>>> print(diff_states(a, b))
registry version 1 -> 2
+ entity driver
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from featurestore.definitions import kinds
from featurestore.definitions.kinds import KEYS
from featurestore.errors import NotFoundError
from featurestore.registry.file import RegistryState


class _Absent:
    """A key only on one side of a diff."""

    def __repr__(self) -> str:
        return "(absent)"


_MISSING: Any = _Absent()


def state_at(project: str, entries: list[dict[str, Any]], version: int,
             current: RegistryState | None = None) -> RegistryState:
    """The registry as it was at ``version`` (0: empty), from the history ``entries`` (``Registry.history()``);
    ``current`` (the registry now) answers for its own version even when a crash lost that history entry.

    NotFoundError (kind ``registry_version``) naming the versions that exist when ``version`` was never applied.
    """
    if version == 0:
        return RegistryState(project=project)
    if current is not None and version == current.version:
        return current
    for entry in entries:
        if int(entry["version"]) == version:
            objects = {k: dict(entry.get("objects", {}).get(k, {})) for k in KEYS}
            return RegistryState(project=project, version=version, objects=objects)
    known = [int(e["version"]) for e in entries] + ([current.version] if current is not None else [])
    span = f"versions 1 to {max(known)}" if known else "no version yet (run apply)"
    raise NotFoundError(f"registry version {version} does not exist ({span} are in the history)",
                        kind="registry_version", name=str(version))


@dataclass(frozen=True)
class FieldChange:
    """One changed leaf of an object's registry form: its dotted ``path``, ``before`` and ``after``."""

    path: str
    before: Any
    after: Any

    def __str__(self) -> str:
        return f"{self.path}: {_short(self.before)} -> {_short(self.after)}"


@dataclass(frozen=True)
class ObjectChange:
    """An object added (``+``), removed (``-``) or changed (``~``, with its :class:`FieldChange` list)."""

    kind: str
    """Its registry key (``feature_views``, ``entities``, ...)."""
    name: str
    change: str
    """``added``, ``removed`` or ``changed``."""
    fields: tuple[FieldChange, ...] = ()

    @property
    def label(self) -> str:
        return f"{kinds.of_key(self.kind).label} {self.name}"


@dataclass(frozen=True)
class RegistryDiff:
    """What changed in the definitions between two registry versions (``before`` -> ``after``)."""

    before: int
    after: int
    changes: tuple[ObjectChange, ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return not self.changes

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.before, "to": self.after, "changes": [
            {"kind": kinds.of_key(c.kind).label, "name": c.name, "change": c.change,
             "fields": [{"path": f.path, "before": _plain(f.before), "after": _plain(f.after)} for f in c.fields]}
            for c in self.changes]}

    def __str__(self) -> str:
        lines = [f"registry version {self.before} -> {self.after}"]
        sign = {"added": "+", "removed": "-", "changed": "~"}
        for c in self.changes:
            lines.append(f"{sign[c.change]} {c.label}")
            lines += [f"    {f}" for f in c.fields]
        if self.empty:
            lines.append("  (no change to the definitions)")
        return "\n".join(lines)


def _plain(value: Any) -> Any:
    """A diff value for JSON: absent is null."""
    return None if value is _MISSING else value


def _short(value: Any) -> str:
    if value is _MISSING:
        return "(absent)"
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def _named_list(value: Any) -> bool:
    """A list of dicts with distinct ``name`` keys (a schema's fields, a service's projections)."""
    if not isinstance(value, list) or not value or not all(isinstance(x, dict) and "name" in x for x in value):
        return False
    return len({str(x["name"]) for x in value}) == len(value)


def field_changes(before: Any, after: Any, path: str = "", by_name: bool = False) -> list[FieldChange]:
    """The changed leaves between two registry forms: dictionaries are walked key by key (a key only on one side
    is a change from or to absent); anything else (lists, scalars) is compared whole.

    >>> [str(c) for c in field_changes({"ttl": 60, "tags": {"a": 1}}, {"ttl": 30, "tags": {}})]
    ['tags.a: 1 -> (absent)', 'ttl: 60 -> 30']
    """
    if _named_list(before) and _named_list(after):  # fields, projections: by name, not by position
        return field_changes({x["name"]: x for x in before}, {x["name"]: x for x in after}, path, True)
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[FieldChange] = []
        for key in sorted(set(before) | set(after), key=str):
            sub = f"{path}[{key}]" if by_name else f"{path}.{key}" if path else str(key)
            out += field_changes(before.get(key, _MISSING), after.get(key, _MISSING), sub)
        return out
    if before == after:
        return []
    return [FieldChange(path, before, after)]


def diff_states(before: RegistryState, after: RegistryState) -> RegistryDiff:
    """The definition-level difference from ``before`` to ``after`` (by kind in registry order, then name)."""
    changes: list[ObjectChange] = []
    for key in KEYS:
        old, new = before.objects.get(key, {}), after.objects.get(key, {})
        for name in sorted(set(old) | set(new)):
            if name not in old:
                changes.append(ObjectChange(key, name, "added"))
            elif name not in new:
                changes.append(ObjectChange(key, name, "removed"))
            elif old[name] != new[name]:
                changes.append(ObjectChange(key, name, "changed", tuple(field_changes(old[name], new[name]))))
    return RegistryDiff(before.version, after.version, tuple(changes))
