"""``GET /monitoring/freshness`` (read scope): per view, the newest event time written online, its SLA, age and
whether it is stale (``FeatureStore.freshness``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from .context import get_context
from .encoding import to_json

router = APIRouter(tags=["monitoring"])

EXAMPLE = {"views": [{"view": "driver_stats", "kind": "feature_view", "data_timestamp": "2026-01-01T10:00:00+00:00",
                      "data_timestamp_us": 1767261600000000, "max_staleness_seconds": 7200.0,
                      "age_seconds": 1800.0, "stale": False}], "stale": []}


@router.get("/monitoring/freshness", responses={200: {"content": {"application/json": {"example": EXAMPLE}}}})
async def freshness(request: Request) -> Response:
    """Per feature view and aggregate view: `data_timestamp` (newest event time written online by any writer),
    `max_staleness_seconds` (its SLA, null without one), `age_seconds` at the server's clock, and `stale` (null
    without an SLA); `stale` at the top lists the stale views. 503 when the online store is unreachable."""
    ctx = get_context(request)
    state = ctx.watcher.state
    views = await run_in_threadpool(ctx.store.freshness, state)
    body = {"views": [f.to_dict() for f in views.values()], "stale": [name for name, f in views.items() if f.stale]}
    return Response(to_json(body), media_type="application/json")
