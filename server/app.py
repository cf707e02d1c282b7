"""The FastAPI application: ``create_app(repo_path)``, and ``create_app_from_env`` for uvicorn.

    uvicorn server.app:create_app_from_env --factory      # repo from $FEATURESTORE_REPO
    featurestore serve --repo definitions                 # the same, with sensible uvicorn options
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from featurestore import FeatureStore, FeatureStoreError, __version__

from . import (
    docs_ui,
    errors,
    routes_consistency,
    routes_feature_tables,
    routes_freshness,
    routes_lineage,
    routes_online,
    routes_ops,
    routes_quality,
    routes_stats,
    routes_training,
    routes_write,
    ui,
)
from .auth import ApiKeyMiddleware, ApiKeys
from .context import Materializer, ServerContext
from .fastpath import FastPath
from .lookup import Lookups
from .metrics import Metrics, MetricsMiddleware
from .prefix import ForwardedPrefix
from .reload import RegistryWatcher

log = logging.getLogger("featurestore.server")
ROUTES = (routes_online, routes_write, routes_ops, routes_quality, routes_stats, routes_consistency, routes_freshness,
          routes_training, routes_lineage, routes_feature_tables)
UI_ONLY_PATHS = ("/health", "/ready")
REPO_ENV = "FEATURESTORE_REPO"
UI_ONLY_ENV = "FEATURESTORE_UI_ONLY"

DESCRIPTION = """\
Online feature serving for a featurestore repo.

* `POST /get-online-features`: Feast-compatible lookups.
* `POST /v1/online`: the native row form (JSON, MessagePack or Arrow IPC by `Accept`).
* `POST /push`, `/write-to-online-store`, `/materialize`, `/materialize-incremental`: Feast-compatible writes.
* `GET /features` (catalog), `/health`, `/ready`, `/metrics`.
* `GET /training-sets`, `/lineage/{name}`, `/history` (reproducibility); `POST /materialize-offline`.
* `GET /ui`: the web UI (a read-only catalog; its JSON at `/ui/api`).

When API keys are configured, send `Authorization: Bearer <key>`.
"""


def _with_security(app: FastAPI) -> None:
    """Document the bearer key in ``/openapi.json`` (and the docs' Authorize button)."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = plain()
            schema.setdefault("components", {})["securitySchemes"] = {"apiKey": {"type": "http", "scheme": "bearer"}}
            schema["security"] = [{"apiKey": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(repo_path: str | Path | None = None, store: FeatureStore | None = None, *,
               ui_only: bool = False) -> FastAPI:
    """The server of the repo at ``repo_path`` (or of an existing ``store``).

    ``ui_only``: just the web UI (``/ui``, its JSON at ``/ui/api``) and ``/health``, ``/ready``: no lookups,
    no writes (``featurestore ui``). Configuration errors (no featurestore.yaml, bad values) raise here,
    before serving.
    """
    if store is None:
        store = FeatureStore(repo_path=repo_path if repo_path is not None else ".")
    cfg = store.config.server
    metrics_ref: list[Metrics] = []
    watcher = RegistryWatcher(store, cfg.registry_poll_seconds,
                              on_reload=lambda _state: metrics_ref[0].reloads.inc() if metrics_ref else None,
                              on_error=lambda _err: metrics_ref[0].reload_errors.inc() if metrics_ref else None)
    materializer = Materializer()
    metrics = Metrics(lambda: watcher.state, lambda: materializer.running is not None, store.watermarks,
                      status=lambda: store.monitoring_status(watcher.state) if watcher.state is not None else None,
                      log_counts=getattr(store, "feature_log_counts", None))
    metrics_ref.append(metrics)
    keys = ApiKeys(cfg.api_keys.read, cfg.api_keys.write)
    ui_context = ui.UiContext(store, lambda: watcher.state, keys, cfg.ui.statistics_cache, cfg.ui.session_hours,
                              served=not ui_only) if cfg.ui.enabled or ui_only else None
    ctx = ServerContext(store=store, watcher=watcher, metrics=metrics, lookups=Lookups(store, watcher, metrics),
                        max_entities=cfg.max_entities, max_body_bytes=cfg.max_body_bytes, materializer=materializer)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        watcher.start()
        if ui_context is not None:
            await asyncio.to_thread(ui_context.warm)
        try:
            store.online.ping()  # connect early; an unreachable store is reported by /ready, not fatal
        except FeatureStoreError as err:
            log.warning("online store not reachable at startup: %s", err.message)
        log.info("serving project %r, registry version %s", store.project,
                 watcher.state.version if watcher.state is not None else "unavailable")
        try:
            yield
        finally:
            watcher.stop()
            await ctx.lookups.shutdown()
            ctx.materializer.shutdown()
            store.close()

    app = FastAPI(title="featurestore", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None if ui_only else "/openapi.json")
    app.state.featurestore = ctx
    errors.install(app)
    paths: list[str] = []
    if ui_only:
        for route in routes_ops.router.routes:
            if getattr(route, "path", "") in UI_ONLY_PATHS:
                app.router.routes.append(route)
                paths.append(getattr(route, "path", ""))
    else:
        docs_ui.install(app)  # both docs pages from local assets
        for module in ROUTES:
            app.include_router(module.router)
        app.add_middleware(FastPath, routes={"/get-online-features": routes_online.get_online_features,
                                             "/v1/online": routes_online.online})  # innermost: after auth, metrics
        paths += [getattr(r, "path", "") for m in ROUTES for r in m.router.routes]
        paths += [app.openapi_url or "", *docs_ui.PATHS]
    if ui_context is not None:
        ui.install(app, ui_context)
    if keys.enabled:
        app.add_middleware(ApiKeyMiddleware, keys=keys)
        if not ui_only:
            _with_security(app)
    app.add_middleware(MetricsMiddleware, metrics=metrics, endpoints=[p for p in paths if p])
    app.add_middleware(ForwardedPrefix, trusted=cfg.trusted_proxies)  # outermost: every layer sees the prefix
    return app


def create_app_from_env() -> FastAPI:
    """uvicorn factory: the repo is ``$FEATURESTORE_REPO`` (default: the current folder)."""
    return create_app(os.environ.get(REPO_ENV) or ".", ui_only=os.environ.get(UI_ONLY_ENV) == "1")
