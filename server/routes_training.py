"""Training sets (read scope): ``GET /training-sets`` (every version) and ``GET /training-sets/{name}``
(a version's manifest)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from .context import get_context
from .encoding import to_json

router = APIRouter(tags=["training sets"])


@router.get("/training-sets")
async def training_sets(request: Request) -> Response:
    """Every version of every training set, by name then version: the manifests without their statistics."""
    store = get_context(request).store
    found = await run_in_threadpool(store.list_training_sets)
    body = [{k: v for k, v in ts.to_dict().items() if k != "statistics"} for ts in found]
    return Response(to_json(body), media_type="application/json")


@router.get("/training-sets/{name}")
async def training_set(request: Request, name: str,
                       version: int | None = Query(default=None, ge=1, description="Default: the latest.")
                       ) -> Response:
    """The manifest of one version of a training set (the latest by default): definitions, feature references,
    entity frame hash, source files and fingerprints, `as_of`, engine versions, rows, content hash, statistics.
    404 for an unknown name or version; 400 for a name that is not an identifier."""
    store = get_context(request).store
    found = await run_in_threadpool(store.get_training_set, name, version)
    return Response(to_json(found.to_dict()), media_type="application/json")
