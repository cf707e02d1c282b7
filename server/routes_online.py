"""Online lookups: Feast's ``POST /get-online-features`` and the native ``POST /v1/online``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from featurestore import InputError

from .context import get_context
from .encoding import feast_json, native, to_arrow_ipc, to_json, to_msgpack
from .limits import check_entities, read_body
from .models import GetOnlineFeaturesRequest, OnlineRequest, parse_lookup, request_body

router = APIRouter(tags=["online"])

JSON = "application/json"
MSGPACK = "application/msgpack"
ARROW = "application/vnd.apache.arrow.stream"
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad entities: a missing join key, a join key of the wrong type, a malformed reference, "
                         "missing request data of an on-demand view"},
    404: {"description": "Unknown feature view, feature or feature service"},
    413: {"description": "Too many entity rows (server.max_entities) or body too large (server.max_body_bytes)"},
    422: {"description": "Malformed body"},
    500: {"description": "An on-demand view's code failed (TransformError; the JSON names the view)"},
    503: {"description": "Online store unreachable, or an on-demand view's code differs from what was applied"},
}
FEAST_EXAMPLE = {
    "metadata": {"feature_names": ["driver_id", "conv_rate"]},
    "results": [
        {"values": [1001], "statuses": ["PRESENT"], "event_timestamps": ["1970-01-01T00:00:00Z"]},
        {"values": [0.53], "statuses": ["PRESENT"], "event_timestamps": ["2026-01-01T10:00:00Z"]},
    ],
}
NATIVE_EXAMPLE = {
    "feature_names": ["driver_id", "conv_rate"],
    "rows": [{"driver_id": 1001, "conv_rate": 0.53}, {"driver_id": 9, "conv_rate": None}],
    "statuses": {"driver_stats": ["PRESENT", "NOT_FOUND"]},
}


def _with_context(entities: dict[str, list[Any]], context: dict[str, list[Any]] | None) -> dict[str, list[Any]]:
    """The entity columns and the request data of on-demand views (``request_context``) as one set of columns."""
    if not context:
        return entities
    both = [k for k in context if k in entities]
    if both:
        raise InputError(f"{both[0]!r} is given both in entities and in request_context", field=both[0])
    return {**entities, **context}


def _columns(entities: list[dict[str, Any]] | dict[str, list[Any]]) -> dict[str, list[Any]]:
    if isinstance(entities, dict):
        return entities
    names: dict[str, None] = {}
    for row in entities:
        names.update(dict.fromkeys(row))
    return {n: [row.get(n) for row in entities] for n in names}


@router.post("/get-online-features", openapi_extra=request_body(GetOnlineFeaturesRequest),
             responses={200: {"description": "Feast's GetOnlineFeaturesResponse as JSON",
                              "content": {JSON: {"example": FEAST_EXAMPLE}}}, **ERRORS})
async def get_online_features(request: Request) -> Response:
    """Latest feature values, in Feast's format: one result per name (join keys first), values in entity order.

    Statuses are PRESENT, NOT_FOUND or OUTSIDE_MAX_AGE (value null). Event times are RFC 3339 UTC
    (`1970-01-01T00:00:00Z` for join keys and missing values); NaN/±inf are `"NaN"`, `"Infinity"`,
    `"-Infinity"`; bytes are base64.
    """
    ctx = get_context(request)
    req = parse_lookup(GetOnlineFeaturesRequest, await read_body(request, ctx.max_body_bytes))
    check_entities(req.entities, ctx.max_entities)
    answer = await ctx.lookups.lookup(req.feature_ref(), _with_context(req.entities, req.request_context),
                                      req.full_feature_names)
    return Response(feast_json(answer, req.entities), media_type=JSON)


@router.post("/v1/online", openapi_extra=request_body(OnlineRequest),
             responses={200: {"description": "Rows with their statuses per view (JSON, MessagePack or Arrow IPC)",
                              "content": {JSON: {"example": NATIVE_EXAMPLE}, MSGPACK: {}, ARROW: {}}}, **ERRORS})
async def online(request: Request) -> Response:
    """Latest feature values, one object per entity row (or one list per name with `"orient": "columns"`).

    `statuses[view][i]` is PRESENT, NOT_FOUND or OUTSIDE_MAX_AGE for entity row i (a status is per view:
    all features of a view come from one stored row). `Accept: application/msgpack` answers the same
    structure in MessagePack (floats, bytes and times native);
    `Accept: application/vnd.apache.arrow.stream` answers an Arrow IPC stream with the join keys,
    the features and a `status:<view>` column per view.
    """
    ctx = get_context(request)
    req = parse_lookup(OnlineRequest, await read_body(request, ctx.max_body_bytes))
    check_entities(req.entities, ctx.max_entities)
    keys = _columns(req.entities)
    answer = await ctx.lookups.lookup(req.feature_ref(), _with_context(keys, req.request_context),
                                      req.full_feature_names)
    accept = request.headers.get("accept", "")
    if ARROW in accept:
        return Response(to_arrow_ipc(answer, req.event_timestamps), media_type=ARROW)
    if "msgpack" in accept:
        return Response(to_msgpack(native(answer, keys, req.orient, req.event_timestamps, for_json=False)),
                        media_type=MSGPACK)
    return Response(to_json(native(answer, keys, req.orient, req.event_timestamps, for_json=True)),
                    media_type=JSON)
