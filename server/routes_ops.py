"""Operations: ``GET /health``, ``/ready``, ``/metrics`` and the catalog ``/features``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from featurestore import FeatureStoreError

from .catalog import catalog
from .context import get_context
from .encoding import to_json
from .metrics import CONTENT_TYPE

router = APIRouter(tags=["operations"])


def _json(data: Any, status: int = 200) -> Response:
    return Response(to_json(data), status_code=status, media_type="application/json")


@router.get("/health", responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}})
async def health() -> Response:
    """Liveness: 200 whenever the process answers."""
    return _json({"status": "ok"})


@router.get("/ready", responses={503: {"description": "Not ready; `reasons` says why"}})
async def ready(request: Request) -> Response:
    """Readiness: the registry is loaded (and not empty), the code of every transformation (on-demand views, batch
    transforms) is the applied code (else `code_mismatches` names the views), and the online store answers; else
    503 with the reasons."""
    ctx = get_context(request)
    reasons = []
    state = ctx.watcher.state
    if ctx.watcher.error:
        reasons.append(f"registry: {ctx.watcher.error}")
    elif state is None:
        reasons.append("registry: not loaded yet")
    elif state.version == 0:
        reasons.append("registry: no definitions applied (run 'featurestore apply')")
    mismatched = []
    if state is not None and (state.objects.get("on_demand_feature_views") or any(
            v.get("transform") for v in state.objects.get("feature_views", {}).values())):
        # the repo's code vs the applied code: imported once per registry snapshot, or when a definition file
        # changes for batch transforms (cached), never per call
        mismatched = await run_in_threadpool(ctx.store.code_status, state)
        reasons += [f"code: {err.message}" for err in mismatched]
    try:
        await run_in_threadpool(lambda: ctx.store.online.ping())
    except FeatureStoreError as err:
        reasons.append(f"online store: {err.message}")
    if reasons:
        body: dict[str, Any] = {"status": "not ready", "detail": "; ".join(reasons), "reasons": reasons}
        if mismatched:
            body["code_mismatches"] = [err.view for err in mismatched]
        return _json(body, 503)
    return _json({"status": "ready", "registry_version": state.version if state is not None else 0})


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format"}})
async def metrics(request: Request) -> Response:
    """Prometheus metrics: HTTP requests and latency, lookups and statuses per view, materialization."""
    return Response(get_context(request).metrics.render(), media_type=CONTENT_TYPE)


@router.get("/features")
async def features(request: Request) -> Response:
    """The catalog: entities, feature views (join keys and features with types, ttl, owner, tags,
    description, last materialization) and feature services."""
    ctx = get_context(request)
    state = ctx.watcher.state
    if state is None:
        return _json({"detail": f"registry not loaded: {ctx.watcher.error}"}, 503)
    marks = await run_in_threadpool(ctx.store.watermarks)  # operational state: not in the registry snapshot
    cached = ctx.catalog
    if cached is None or cached[0] is not state or cached[1] != marks:
        cached = ctx.catalog = (state, marks, to_json(catalog(state, marks)))
    return Response(cached[2], media_type="application/json")
