"""Library errors -> HTTP status codes (the library knows nothing of HTTP), and the JSON error bodies.

Every error answer is JSON ``{"detail": "..."}``; library errors add ``"error"`` (the class name)
and ``"fields"`` (the names at fault, e.g. ``{"kind": "feature_view", "name": "nope"}``).
Unexpected exceptions are logged with their traceback and answered with a plain 500 message.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from featurestore import (
    BusyError,
    CodeMismatchError,
    ConfigError,
    DataSourceError,
    DefinitionError,
    ExpectationError,
    FeatureStoreError,
    InputError,
    NotFoundError,
    OnlineStoreError,
    OnlineStoreUnavailableError,
    RegistryError,
    ReproducibilityError,
    TransformError,
)

log = logging.getLogger("featurestore.server")

STATUS: dict[type[FeatureStoreError], int] = {
    NotFoundError: 404,
    InputError: 400,
    DefinitionError: 400,
    BusyError: 409,
    ExpectationError: 422,
    ReproducibilityError: 409,
    OnlineStoreUnavailableError: 503,
    RegistryError: 503,
    CodeMismatchError: 503,
    TransformError: 500,
    OnlineStoreError: 500,
    DataSourceError: 500,
    ConfigError: 500,
}
"""Status per error class; a subclass not listed takes its nearest listed ancestor's (else 500)."""


def status_of(err: FeatureStoreError) -> int:
    """The HTTP status of a library error.

    >>> status_of(NotFoundError("x", kind="feature_view", name="x")), status_of(OnlineStoreUnavailableError("down"))
    (404, 503)
    """
    for cls in type(err).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def json_error(status: int, detail: Any, headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
    return Response(orjson.dumps({"detail": detail, **extra}, default=str), status_code=status,
                    media_type="application/json", headers=headers)


def _scalar(v: Any) -> bool:
    return isinstance(v, (str, int, float, bool)) or v is None


def _flat(v: Any) -> bool:
    return _scalar(v) or (isinstance(v, list) and all(map(_scalar, v)))


def _plain(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields JSON carries as they are: scalars, lists of them (``columns``, ``rows``), and lists of flat
    records (ExpectationError's ``failures``)."""
    return {k: v for k, v in fields.items() if _flat(v) or (isinstance(v, list) and all(
        isinstance(d, dict) and all(map(_flat, d.values())) for d in v))}


async def library_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FeatureStoreError)
    status = status_of(exc)
    if status >= 500:
        log.warning("%s %s -> %d: %s", request.method, request.url.path, status, exc.message)
    return json_error(status, exc.message, error=type(exc).__name__, fields=_plain(exc.fields))


async def unexpected_error(request: Request, exc: Exception) -> Response:
    # the traceback is logged once, by the ASGI server (the exception is re-raised after this answer)
    log.error("unexpected error in %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    return json_error(500, "internal server error (logged on the server)")


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(FeatureStoreError, library_error)
    app.add_exception_handler(Exception, unexpected_error)
