"""Lineage and registry history (read scope): ``GET /lineage/{name}``, ``GET /history``, ``GET /history/diff``."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from .context import get_context
from .encoding import to_json

router = APIRouter(tags=["lineage"])

LINEAGE_EXAMPLE = {"root": "feature_view:driver_stats", "upstream": ["entity:driver"],
                   "downstream": ["feature_service:driver_activity"],
                   "nodes": [{"id": "feature_view:driver_stats", "kind": "feature_view", "name": "driver_stats",
                              "registry_version": 1}],
                   "edges": [{"from": "entity:driver", "to": "feature_view:driver_stats"}]}


@router.get("/lineage/{name:path}", responses={200: {"content": {"application/json": {"example": LINEAGE_EXAMPLE}}}})
async def lineage(request: Request, name: str,
                  kind: str | None = Query(default=None, description="The kind, when several share the name: "
                                           "feature_view, feature_service, entity, source, training_set, ...")
                  ) -> Response:
    """What `name` (a service, view, entity, source, feature table or training set: `NAME` or `NAME@VERSION`)
    depends on (`upstream`) and what depends on it (`downstream`): node ids `kind:name`, the nodes with what is
    known of them (registry version of their last change, rows, paths) and the edges (`from` is made into `to`).
    404 for an unknown name; 400 when several kinds share it and `kind` is not given."""
    store = get_context(request).store
    found = await run_in_threadpool(store.lineage, name, kind)
    return Response(to_json(found.to_dict()), media_type="application/json")


@router.get("/history")
async def history(request: Request) -> Response:
    """Every applied registry version, oldest first: `version`, `applied_at` and `changes` (added, changed and
    removed objects)."""
    store = get_context(request).store
    entries = await run_in_threadpool(store.history)
    return Response(to_json([{k: v for k, v in e.items() if k != "objects"} for e in entries]),
                    media_type="application/json")


@router.get("/history/diff")
async def history_diff(request: Request, from_version: int = Query(alias="from", ge=0),
                       to_version: int | None = Query(default=None, alias="to", ge=0)) -> Response:
    """What changed in the definitions between registry versions `from` and `to` (default: now): per object
    `added`, `removed` or `changed`, and for a changed one every field with its value `before` and `after`.
    404 for a version never applied."""
    store = get_context(request).store
    found = await run_in_threadpool(store.history_diff, from_version, to_version)
    return Response(to_json(found.to_dict()), media_type="application/json")
