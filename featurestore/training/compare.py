"""What differs between two versions of a training set: definitions, features, sources, cutoff, engine, output."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from featurestore.definitions.kinds import KEYS
from featurestore.registry.file import RegistryState
from featurestore.registry.history import RegistryDiff, diff_states
from featurestore.training.fingerprint import changes
from featurestore.training.manifest import Manifest


@dataclass(frozen=True)
class TrainingSetDiff:
    """Two versions of one training set compared (``store.diff_training_sets``)."""

    name: str
    before: Manifest
    after: Manifest
    definitions: RegistryDiff
    """The definitions each used, compared field by field."""

    @property
    def same_content(self) -> bool:
        return self.before.content_hash == self.after.content_hash

    def features(self) -> tuple[list[str], list[str]]:
        """(references only in ``before``, only in ``after``)."""
        a, b = self.before.features, self.after.features
        return [f for f in a if f not in b], [f for f in b if f not in a]

    def sources(self) -> list[dict[str, object]]:
        return changes(self.before.sources, self.after.sources)

    def engine(self) -> dict[str, tuple[str | None, str | None]]:
        keys = sorted(set(self.before.engine) | set(self.after.engine))
        return {k: (self.before.engine.get(k), self.after.engine.get(k)) for k in keys
                if self.before.engine.get(k) != self.after.engine.get(k)}

    def to_dict(self) -> dict[str, Any]:
        removed, added = self.features()
        return {
            "name": self.name, "from": self.before.version, "to": self.after.version,
            "registry_versions": [self.before.registry_version, self.after.registry_version],
            "as_of": [self.before.as_of, self.after.as_of], "rows": [self.before.rows, self.after.rows],
            "same_content": self.same_content, "features_removed": removed, "features_added": added,
            "definitions": self.definitions.to_dict()["changes"], "sources": self.sources(),
            "entity_frame_changed": (self.before.entity.content_hash if self.before.entity else None)
            != (self.after.entity.content_hash if self.after.entity else None),
            "engine": {k: list(v) for k, v in self.engine().items()},
        }

    def __str__(self) -> str:
        b, a = self.before, self.after
        lines = [f"training set {self.name}: version {b.version} -> {a.version}",
                 f"  content: {'the same' if self.same_content else 'different'} "
                 f"({b.content_hash[:12]} -> {a.content_hash[:12]}), rows {b.rows:,} -> {a.rows:,}",
                 f"  registry version {b.registry_version} -> {a.registry_version}; as_of {b.as_of} -> {a.as_of}"]
        removed, added = self.features()
        lines += [f"  - feature {f}" for f in removed] + [f"  + feature {f}" for f in added]
        for change in self.definitions.changes:
            lines.append(f"  {dict(added='+', removed='-', changed='~')[change.change]} {change.label}")
            lines += [f"      {f}" for f in change.fields]
        for d in self.sources():
            lines.append(f"  {str(d['kind']).replace('_', ' ')}: {d['object']} ({d['before']} -> {d['after']})")
        if self.to_dict()["entity_frame_changed"]:
            lines.append("  the entity frames differ")
        lines += [f"  engine {k}: {v[0]} -> {v[1]}" for k, v in self.engine().items()]
        return "\n".join(lines)


def compare(name: str, project: str, before: Manifest, after: Manifest) -> TrainingSetDiff:
    def state(m: Manifest) -> RegistryState:
        return RegistryState(project, m.registry_version, {k: dict(m.definitions.get(k, {})) for k in KEYS})

    return TrainingSetDiff(name, before, after, diff_states(state(before), state(after)))
