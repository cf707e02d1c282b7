"""Monitoring endpoints (read scope): ``POST /monitoring/validate``, a dry run of a view's expectations."""

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


class ValidateRequest(BaseModel):
    """``POST /monitoring/validate``: the view and the time range of its source rows to check."""

    model_config = ConfigDict(extra="forbid")

    feature_view: str
    start: str | None = Field(default=None, description="ISO 8601; default: from the first row")
    end: str | None = Field(default=None, description="ISO 8601; default: now (the store's clock)")


@router.post("/monitoring/validate", openapi_extra=request_body(ValidateRequest),
             responses={200: {"description": "The validation report: `view`, `rows`, `policy`, `outcome` "
                                     "(passed, rejected, quarantined, warned), `ok`, `bad_rows`, `results` per "
                                     "expectation (`expectation`, `column`, `ok`, `bad_rows`, `examples`, "
                                     "`observed`)"},
                        400: {"description": "Bad time"}, 404: {"description": "Unknown feature view"}})
async def validate(request: Request) -> Response:
    """Dry run of a feature view's expectations over its source rows with event time in [start, end]: exactly
    what materialize would check; nothing is written or recorded."""
    ctx = get_context(request)
    req = parse(ValidateRequest, await read_body(request, ctx.max_body_bytes))
    start, end = optional_time(req.start, "start"), optional_time(req.end, "end")
    report = await run_in_threadpool(ctx.store.validate, req.feature_view, start, end)
    return Response(to_json(report.to_dict()), media_type="application/json")
