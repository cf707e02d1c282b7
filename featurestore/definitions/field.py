"""A named, typed column of a feature view."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from featurestore import types
from featurestore.errors import DefinitionError
from featurestore.naming import check_name


@dataclass(frozen=True)
class Field:
    """A feature: a name and a value type.

    >>> from featurestore.types import Float32
    >>> Field(name="conv_rate", dtype=Float32).dtype.name
    'Float32'
    """

    name: str
    dtype: types.ValueType
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.name, "field")
        if not isinstance(self.dtype, types.ValueType):
            raise DefinitionError(
                f"field {self.name!r} has dtype {self.dtype!r}; use a type from featurestore.types",
                name=self.name,
            )
        object.__setattr__(self, "tags", dict(self.tags or {}))

    def __hash__(self) -> int:
        return hash((self.name, self.dtype))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype.name, "description": self.description, "tags": self.tags}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Field:
        return cls(name=d["name"], dtype=types.parse(d["dtype"]), description=d.get("description", ""),
                   tags=d.get("tags", {}))


def fields_of(owner: str, schema: Iterable[Any] | None) -> tuple[Field, ...]:
    """``schema`` as a tuple of :class:`Field`; DefinitionError naming ``owner`` (``"feature view 'x'"``) for
    another item or a field declared twice.

    >>> from featurestore.types import Int64
    >>> fields_of("request source 'r'", [Field(name="a", dtype=Int64), Field(name="a", dtype=Int64)])
    Traceback (most recent call last):
    ...
    featurestore.errors.DefinitionError: request source 'r' declares field 'a' twice
    """
    fields = tuple(schema or ())
    name = owner.split("'")[1] if owner.count("'") >= 2 else owner
    if not all(isinstance(f, Field) for f in fields):
        raise DefinitionError(f"{owner}: schema must be a list of Field", name=name)
    names = [f.name for f in fields]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DefinitionError(f"{owner} declares field {dupes[0]!r} twice", name=name, field=dupes[0])
    return fields
