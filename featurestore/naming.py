"""Name rules shared by every definition, and SQL identifier quoting."""

from __future__ import annotations

import re

from featurestore.errors import DefinitionError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_name(name: object, what: str) -> str:
    """Return ``name`` if it is a valid identifier, else raise naming ``what``."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise DefinitionError(
            f"{what} name {name!r} is invalid: use letters, digits and '_', not starting with a digit",
            name=name,
        )
    if name.startswith("__"):
        raise DefinitionError(f"{what} name {name!r} is reserved: names may not start with '__'", name=name)
    return name


def quote(identifier: str) -> str:
    """Quote a SQL identifier for DuckDB."""
    return '"' + identifier.replace('"', '""') + '"'


def sql_string(value: str) -> str:
    """Quote a SQL string literal for DuckDB."""
    return "'" + value.replace("'", "''") + "'"
