"""Request limits: body size (``server.max_body_bytes``) and entities per lookup (``server.max_entities``).

The body limit is checked twice: a ``Content-Length`` over the limit is refused before anything
is read, and a body without one (chunked) is counted as it streams in and refused as soon as it
passes the limit, so a client cannot make the server buffer more than the limit.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request


class TooLarge(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(status_code=413, detail=detail)


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, at most ``max_bytes`` long (413 beyond)."""
    declared = next((v for k, v in request.scope["headers"] if k == b"content-length"), None)  # names: lowercase
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise HTTPException(400, "invalid Content-Length header") from None
        if size > max_bytes:
            raise TooLarge(f"request body of {size} bytes is over the limit of {max_bytes} bytes "
                           "(server.max_body_bytes)")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > max_bytes:
            raise TooLarge(f"request body is over the limit of {max_bytes} bytes (server.max_body_bytes)")
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def entity_count(entities: Any) -> int:
    """Entity rows in a column-wise (``{key: [values]}``) or row-wise (``[{key: value}]``) request."""
    if isinstance(entities, dict):
        return max((len(v) for v in entities.values()), default=0)
    return len(entities)


def check_entities(entities: Any, max_entities: int) -> int:
    """The number of entity rows; 413 over ``max_entities``."""
    n = entity_count(entities)
    if n > max_entities:
        raise TooLarge(f"{n} entity rows requested, the limit is {max_entities} (server.max_entities)")
    return n
