"""Writes: Feast's ``POST /push``, ``/write-to-online-store``, ``/materialize`` and ``/materialize-incremental``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from featurestore import InputError, NotFoundError, OnlineWrite

from .context import ServerContext, get_context
from .encoding import to_json
from .frames import column_kinds, push_views, to_table
from .limits import read_body
from .lookup import parse_time
from .models import (
    MaterializeIncrementalRequest,
    MaterializeRequest,
    PushRequest,
    WriteToOnlineStoreRequest,
    parse,
    request_body,
)

router = APIRouter(tags=["write"])

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad rows or timestamps (the message names the column)"},
    404: {"description": "Unknown feature view or push source"},
    413: {"description": "Body over server.max_body_bytes"},
    422: {"description": "Malformed body, or rows failing the view's expectations under on_invalid=\"reject\" "
                        "(ExpectationError: `fields.failures` names each check, column, bad rows and examples)"},
    503: {"description": "Online store unreachable"},
}


def _json(data: Any) -> Response:
    return Response(to_json(data), media_type="application/json")


def _time(value: str, what: str) -> datetime:
    try:
        return parse_time(value)
    except ValueError:
        raise InputError(f"{what} {value!r} is not an ISO 8601 timestamp", field=what) from None


async def _state(ctx: ServerContext) -> Any:
    """The newest registry snapshot (writes must not act on definitions older than the last apply)."""
    return await run_in_threadpool(ctx.watcher.refresh)


@router.post("/push", openapi_extra=request_body(PushRequest),
             responses={200: {"description": "Rows pushed, and per online view rows written and skipped (the "
                                     "store held a newer row): `{\"rows\": n, \"written\": w, \"skipped\": s, "
                                     "\"views\": [...]}`"}, **ERRORS})
async def push(request: Request) -> Response:
    """Push rows to the feature views of a push source (`to`: online, offline or online_and_offline).

    `df` holds columns named like the push source's batch source; timestamps are ISO 8601 strings.
    """
    ctx = get_context(request)
    req = parse(PushRequest, await read_body(request, ctx.max_body_bytes))
    views = push_views(await _state(ctx), req.push_source_name)
    if not views:
        raise NotFoundError(f"unknown push source {req.push_source_name!r}", kind="push_source",
                            name=req.push_source_name)
    table = to_table(req.df, column_kinds(views, source_names=True))
    result = await run_in_threadpool(ctx.store.push, req.push_source_name, table, req.to)
    return _json({"rows": result.rows, "written": result.written, "skipped": result.skipped,
                  "views": [_write(w) for w in result.online]})


@router.post("/write-to-online-store", openapi_extra=request_body(WriteToOnlineStoreRequest),
             responses={200: {"description": "Rows given, written and skipped (the store held a newer row): "
                                     "`{\"rows\": n, \"written\": w, \"skipped\": s}`"}, **ERRORS})
async def write_to_online_store(request: Request) -> Response:
    """Write rows (join keys, event timestamp, features; named like the view) to the online store."""
    ctx = get_context(request)
    req = parse(WriteToOnlineStoreRequest, await read_body(request, ctx.max_body_bytes))
    state = await _state(ctx)
    if req.feature_view_name in state.objects.get("aggregate_views", {}):  # refused by the library: 400
        view: Any = state.aggregate_view(req.feature_view_name)
    else:
        view = state.feature_view(req.feature_view_name)  # 404 when unknown
    table = to_table(req.df, column_kinds([view], source_names=False))
    result = await run_in_threadpool(ctx.store.write_to_online_store, req.feature_view_name, table)
    return _json({"rows": result.rows, "written": result.written, "skipped": result.skipped})


def _write(w: OnlineWrite) -> dict[str, Any]:
    return {"view": w.view, "rows": w.rows, "written": w.written, "skipped": w.skipped}


def _runs(results: Any) -> dict[str, Any]:
    return {"views": [{"view": r.view, "start": r.start, "end": r.end, "rows": r.rows, "written": r.written,
                       "skipped": r.skipped, "seconds": round(r.seconds, 3),
                       **({"notice": r.notice} if r.notice else {})} for r in results]}


MATERIALIZE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Per view: range, rows read, written and skipped (the store held a newer row), "
                         "seconds; `notice` when nothing was due (an end before the view's watermark)"},
    409: {"description": "A materialization is already running"},
    **ERRORS,
}


@router.post("/materialize", openapi_extra=request_body(MaterializeRequest), responses=MATERIALIZE_RESPONSES)
async def materialize(request: Request) -> Response:
    """Load the latest row per entity with event time in [start_ts, end_ts] into the online store.

    Runs in a worker thread, one at a time (409 while one runs); answers when done.
    """
    ctx = get_context(request)
    req = parse(MaterializeRequest, await read_body(request, ctx.max_body_bytes))
    start, end = _time(req.start_ts, "start_ts"), _time(req.end_ts, "end_ts")
    views = req.feature_views
    results = await ctx.materializer.run(f"materialize {views or 'all views'}",
                                         lambda: ctx.store.materialize(start, end, views))
    await _state(ctx)  # new watermarks, for /features and /metrics
    return _json(_runs(results))


@router.post("/materialize-incremental", openapi_extra=request_body(MaterializeIncrementalRequest),
             responses=MATERIALIZE_RESPONSES)
async def materialize_incremental(request: Request) -> Response:
    """Materialize each view from its watermark to end_ts. One at a time (409 while one runs)."""
    ctx = get_context(request)
    req = parse(MaterializeIncrementalRequest, await read_body(request, ctx.max_body_bytes))
    end = _time(req.end_ts, "end_ts")
    views = req.feature_views
    results = await ctx.materializer.run(f"materialize-incremental {views or 'all views'}",
                                         lambda: ctx.store.materialize_incremental(end, views))
    await _state(ctx)
    return _json(_runs(results))
