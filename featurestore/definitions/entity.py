"""Entities: the things features describe, identified by one or more join keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from featurestore.errors import DefinitionError
from featurestore.naming import check_name


@dataclass(frozen=True)
class Entity:
    """An entity and its join keys.

    >>> driver = Entity(name="driver", join_keys=["driver_id"], description="A driver")
    >>> driver.join_keys
    ('driver_id',)
    """

    name: str
    join_keys: tuple[str, ...] = ()
    description: str = ""
    owner: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.name, "entity")
        keys = (self.join_keys,) if isinstance(self.join_keys, str) else tuple(self.join_keys or (self.name,))
        for key in keys:
            check_name(key, f"entity {self.name!r} join key")
        if len(set(keys)) != len(keys):
            raise DefinitionError(f"entity {self.name!r} repeats a join key: {list(keys)}", name=self.name)
        object.__setattr__(self, "join_keys", keys)
        object.__setattr__(self, "tags", dict(self.tags or {}))

    def __hash__(self) -> int:
        return hash(("Entity", self.name))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "join_keys": list(self.join_keys),
            "description": self.description,
            "owner": self.owner,
            "tags": dict(self.tags),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Entity:
        return cls(**d)
