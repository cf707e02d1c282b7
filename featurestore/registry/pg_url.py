"""The ``registry`` setting of a PostgreSQL registry: ``postgresql://user@host:port/db?schema=name``.

The URL is libpq's (``postgres://`` too), with one parameter of ours: ``schema``, the PostgreSQL schema holding
the registry's tables (default :data:`DEFAULT_SCHEMA`), removed before connecting. Every other parameter
(``sslmode``, ``connect_timeout``, ``application_name``, ...) goes to libpq as it is. Parsing needs no driver:
a bad URL is refused when the store is built, before any connection.

>>> t = parse_target("postgresql://fs:secret@db:5432/features?schema=team_a&sslmode=require")
>>> t.schema, t.conninfo, t.redacted
('team_a', 'postgresql://fs:secret@db:5432/features?sslmode=require', 'postgresql://fs:***@db:5432/features?schema=team_a&sslmode=require')
>>> parse_target("postgres://db/features").schema
'featurestore'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from featurestore.config import redact_url
from featurestore.errors import RegistryError

SCHEMES = ("postgresql", "postgres")
DEFAULT_SCHEMA = "featurestore"
"""The schema of the registry's tables when the URL names none."""
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def is_postgres_url(location: str) -> bool:
    """Whether a ``registry`` setting names a PostgreSQL database (else it is a file path).

    >>> is_postgres_url("postgresql://db/x"), is_postgres_url("postgres://db/x"), is_postgres_url("data/r.json")
    (True, True, False)
    """
    return location.split("://", 1)[0].lower() in SCHEMES and "://" in location


def redact(url: str) -> str:
    """``url`` with its password masked, in the user part and in a ``password`` parameter.

    >>> redact("postgresql://u@db/x?password=hunter2&sslmode=require")
    'postgresql://u@db/x?password=***&sslmode=require'
    """
    try:
        parts = urlsplit(redact_url(url))
    except ValueError:
        return "(an unparsable URL)"
    query = "&".join(f"{k}=***" if k == "password" else f"{k}={v}" for k, v in parse_qsl(parts.query, True))
    return urlunsplit(parts._replace(query=query))


@dataclass(frozen=True)
class PgTarget:
    """Where a PostgreSQL registry lives: ``conninfo`` (what libpq gets, secrets included: never print it),
    ``schema``, and ``redacted``, the URL for people."""

    conninfo: str
    schema: str
    redacted: str
    password: str | None = None
    """The password of the URL, masked in error messages that would quote it."""


def parse_target(url: str) -> PgTarget:
    """The :class:`PgTarget` of a ``registry`` URL; RegistryError (naming the URL, password masked) when it is not
    a PostgreSQL URL with a database name and a valid ``schema``."""
    shown = redact(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError as err:
        raise RegistryError(f"registry URL {shown!r} is invalid: {err}", path=shown) from None
    if parts.scheme.lower() not in SCHEMES:
        raise RegistryError(f"registry URL {shown!r} is not a PostgreSQL URL (postgresql://user@host:port/db)",
                            path=shown)
    if not parts.path.strip("/"):
        raise RegistryError(f"registry URL {shown!r} names no database: postgresql://user@host:port/<database>",
                            path=shown)
    params = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [v for k, v in params if k == "schema"]
    schema = schemas[-1] if schemas else DEFAULT_SCHEMA
    if not _IDENTIFIER.fullmatch(schema):
        raise RegistryError(f"registry URL {shown!r}: schema {schema!r} is invalid: use letters, digits and '_' "
                            "(at most 63, not starting with a digit)", path=shown)
    rest = urlencode([(k, v) for k, v in params if k != "schema"])
    conninfo = urlunsplit(parts._replace(query=rest))
    password = parts.password or next((v for k, v in params if k == "password"), None)
    return PgTarget(conninfo=conninfo, schema=schema, redacted=shown, password=password or None)
