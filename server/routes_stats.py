"""Monitoring endpoints (read scope): ``POST /monitoring/profile`` and ``POST /monitoring/drift``.

Bodies are JSON; ``"format"`` picks the answer: ``json`` (default), ``text`` (the CLI's table) or, for drift,
``html`` (the self-contained report page). Drift over HTTP never records (``featurestore drift --record`` and
the monitor do).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from featurestore import DriftReport, Profile, Served

from .context import get_context
from .encoding import to_json
from .limits import read_body
from .models import parse, request_body

router = APIRouter(tags=["monitoring"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProfileRequest(_Body):
    """``POST /monitoring/profile``: statistics per feature of a view's source rows or a service's served values."""

    what: str = Field(description="A feature view (its source rows) or, with `served`, a feature service.",
                      examples=["driver_stats"])
    start: str | None = Field(default=None, description="ISO 8601 start (naive = UTC); open when absent.")
    end: str | None = Field(default=None, description="ISO 8601 end (naive = UTC); open when absent.")
    features: list[str] | None = Field(default=None, description="Only these features.")
    served: bool = Field(default=False, description="The service's logged served values (log time in range).")
    format: Literal["json", "text"] = "json"


class DriftRequest(_Body):
    """``POST /monitoring/drift``: drift per feature between a reference and a current sample."""

    what: str = Field(description="A feature view or a feature service.", examples=["driver_activity"])
    reference: tuple[str | None, str | None] | Literal["served"] = Field(
        description="`[start, end]` of the source rows (null: open), or `\"served\"`.",
        examples=[["2026-10-01", "2026-10-31"]])
    current: tuple[str | None, str | None] | Literal["served"] = Field(
        default="served", description="`\"served\"` (the logged values) or `[start, end]` of the source rows.")
    served_range: tuple[str | None, str | None] | None = Field(
        default=None, description="Only the served values logged in `[start, end]`.")
    features: list[str] | None = None
    min_rows: int = Field(default=1000, ge=1, description="No verdict below this many values on a side.")
    warn: float = Field(default=0.1, ge=0, description="PSI warning threshold.")
    alert: float = Field(default=0.25, ge=0, description="PSI alert threshold.")
    format: Literal["json", "text", "html"] = "json"


def _answer(result: Profile | DriftReport, fmt: str) -> Response:
    if fmt == "text":
        return Response(result.to_text() + "\n", media_type="text/plain; charset=utf-8")
    if fmt == "html" and isinstance(result, DriftReport):
        return Response(result.to_html(), media_type="text/html; charset=utf-8")
    return Response(to_json(result.to_dict()), media_type="application/json")


@router.post("/monitoring/profile", openapi_extra=request_body(ProfileRequest),
             responses={200: {"description": "The profile (JSON or text)"},
                        400: {"description": "Bad times, unknown feature, nothing logged"},
                        404: {"description": "Unknown view or service"}})
async def profile(request: Request) -> Response:
    """Statistics per feature: count, nulls, min, max, mean, std, quantiles, histogram; distinct and top values
    of strings and bools."""
    ctx = get_context(request)
    req = parse(ProfileRequest, await read_body(request, ctx.max_body_bytes))
    result = await run_in_threadpool(lambda: ctx.store.profile(req.what, req.start, req.end,
                                                                features=req.features, served=req.served))
    return _answer(result, req.format)


def _sample(spec: Any, served_range: tuple[str | None, str | None] | None) -> Any:
    if spec == "served":
        return Served(*served_range) if served_range else Served()
    return tuple(spec)


@router.post("/monitoring/drift", openapi_extra=request_body(DriftRequest),
             responses={200: {"description": "The drift report (JSON, text or HTML); `status` alert/warn/ok/"
                                             "insufficient_data"},
                        400: {"description": "Bad times or thresholds, unknown feature, nothing logged"},
                        404: {"description": "Unknown view or service"}})
async def drift(request: Request) -> Response:
    """Drift per feature (PSI, binned KS, JS distance) with a status from PSI (warn 0.1 / alert 0.25 by default);
    no verdict below `min_rows` values on either side."""
    ctx = get_context(request)
    req = parse(DriftRequest, await read_body(request, ctx.max_body_bytes))
    reference, current = _sample(req.reference, req.served_range), _sample(req.current, req.served_range)
    result = await run_in_threadpool(lambda: ctx.store.drift(req.what, reference, current, features=req.features,
                                                              min_rows=req.min_rows, warn=req.warn,
                                                              alert=req.alert))
    return _answer(result, req.format)
