"""Offline feature tables (write scope): ``POST /materialize-offline``.

The body is ``/materialize``'s (``start_ts`` and ``end_ts``) or ``/materialize-incremental``'s (``end_ts`` only:
from each view's offline watermark). One materialization at a time, online or offline (409 while one runs).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from featurestore import InputError

from .context import get_context
from .encoding import to_json
from .limits import read_body
from .lookup import parse_time
from .models import parse, request_body

router = APIRouter(tags=["writes"])


class MaterializeOfflineRequest(BaseModel):
    """``POST /materialize-offline``: append feature views' rows to their offline feature tables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_ts: str | None = Field(default=None, description="ISO 8601 start (naive = UTC); absent: from each "
                                 "view's offline watermark (incremental).", examples=["2026-01-01T00:00:00Z"])
    end_ts: str = Field(description="ISO 8601 end (naive = UTC).", examples=["2026-01-02T00:00:00Z"])
    feature_views: list[str] | None = None


def _time(value: str, what: str) -> Any:
    try:
        return parse_time(value)
    except ValueError:
        raise InputError(f"{what} {value!r} is not an ISO 8601 timestamp", field=what) from None


@router.post("/materialize-offline", openapi_extra=request_body(MaterializeOfflineRequest),
             responses={200: {"description": "Per view: range, rows appended to its feature table, seconds; "
                                             "`notice` when nothing was due"},
                        409: {"description": "A materialization is already running"}})
async def materialize_offline(request: Request) -> Response:
    """Append each feature view's rows with event time in [start_ts, end_ts] (after its batch transform) to its
    offline feature table; without `start_ts`, from each view's offline watermark. Runs in a worker thread."""
    ctx = get_context(request)
    req = parse(MaterializeOfflineRequest, await read_body(request, ctx.max_body_bytes))
    end = _time(req.end_ts, "end_ts")
    views = req.feature_views
    if req.start_ts is None:
        results = await ctx.materializer.run(f"materialize-offline-incremental {views or 'all views'}",
                                             lambda: ctx.store.materialize_offline_incremental(end, views))
    else:
        start = _time(req.start_ts, "start_ts")
        results = await ctx.materializer.run(f"materialize-offline {views or 'all views'}",
                                             lambda: ctx.store.materialize_offline(start, end, views))
    body = {"views": [{"view": r.view, "start": r.start, "end": r.end, "rows": r.rows,
                       "seconds": round(r.seconds, 3), **({"notice": r.notice} if r.notice else {})}
                      for r in results]}
    return Response(to_json(body), media_type="application/json")
