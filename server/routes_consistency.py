"""Monitoring endpoints (read scope): ``POST /monitoring/consistency``, the online/offline consistency check."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from .context import get_context
from .encoding import to_json
from .limits import read_body
from .lookup import optional_time
from .models import parse, request_body

router = APIRouter(tags=["monitoring"])


class ConsistencyRequest(BaseModel):
    """Which logged lookups of a service to replay."""

    model_config = ConfigDict(extra="forbid")
    service: str = Field(description="A feature service with logging", examples=["driver_activity"])
    start: str | None = Field(default=None, description="Lookups logged at or after (ISO 8601; naive = UTC)")
    end: str | None = Field(default=None, description="Lookups logged at or before (ISO 8601; naive = UTC)")
    record: bool = Field(default=False, description="Keep the counts in the state store (exported in /metrics)")


@router.post("/monitoring/consistency", openapi_extra=request_body(ConsistencyRequest),
             responses={200: {"description": "The consistency report: per feature rows, matches, mismatches by "
                                             "reason (lag, ttl, unexplained) and examples"},
                        400: {"description": "A bad time"}, 404: {"description": "Unknown feature service"},
                        422: {"description": "Malformed body"}})
async def consistency(request: Request) -> Response:
    """Replay the service's logged lookups through the training-set path (as_of_created) and compare.

    `ok` is false when a mismatch is unexplained (served values a training set would not have given).
    """
    ctx = get_context(request)
    req = parse(ConsistencyRequest, await read_body(request, ctx.max_body_bytes))
    start, end = optional_time(req.start, "start"), optional_time(req.end, "end")
    report = await run_in_threadpool(ctx.store.check_consistency, req.service, start, end, record=req.record)
    return Response(to_json(report.to_dict()), media_type="application/json")
