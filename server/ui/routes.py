"""The UI's routes: every page at ``/ui/...`` (HTML) and the same data at ``/ui/api/...`` (JSON), the login
form, and the assets. Only ``GET`` reads pages; the only ``POST`` s are signing in and out."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from featurestore import FeatureStoreError
from server.errors import status_of
from server.prefix import route_path

from . import login, pages_catalog, pages_more, pages_view
from .context import UiContext
from .web import API, STATIC, UI, Page, Urls, answer, asset_bytes

MEDIA = {"css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8"}

Builder = Callable[..., Page]

PAGES: tuple[tuple[str, Builder], ...] = (
    ("", pages_catalog.overview),
    ("/search", pages_catalog.search),
    ("/views", pages_catalog.views),
    ("/views/{name}", pages_view.view),
    ("/views/{name}/statistics", pages_view.statistics),
    ("/entities", pages_catalog.entities),
    ("/entities/{name}", pages_catalog.entity),
    ("/services", pages_catalog.services),
    ("/services/{name}", pages_catalog.service),
    ("/sources", pages_catalog.sources),
    ("/sources/{name:path}", pages_catalog.source),
    ("/lineage/{name:path}", pages_more.lineage),
    ("/training-sets", pages_more.training_sets),
    ("/training-sets/{name}", pages_more.training_set),
    ("/training-sets/{name}/v{version:int}", pages_more.training_version),
    ("/training-sets/{name}/v{version:int}/recreate",
     lambda ui, request, name, version: pages_more.training_version(ui, request, name, version, check=True)),
    ("/history", pages_more.history),
    ("/history/{version:int}", pages_more.history_version),
)
"""Path (after ``/ui`` and ``/ui/api``) -> the function building its :class:`Page`."""


def ui_of(request: Request) -> UiContext:
    return request.app.state.featurestore_ui  # type: ignore[no-any-return]


def base(ui: UiContext, request: Request, who: str | None) -> dict[str, Any]:
    """What every page shows around its content (not the project to whom may not read it)."""
    state = ui.current() if who is not None else None
    return {"project": ui.store.project if who is not None else "",
            "registry_version": state.version if state is not None else None,
            "api_keys": ui.keys.enabled, "session": who == "session", "served": ui.served}


def error_page(err: FeatureStoreError) -> Page:
    status = status_of(err)
    data = {"error": type(err).__name__, "detail": err.message, "fields": {k: str(v) for k, v in err.fields.items()}}
    return Page("error.html", "Not found" if status == 404 else "Error", data, status=status)


def _here(request: Request) -> str:
    """This page's path with the prefix and query (whether the ASGI path holds the prefix or not)."""
    path: str = request.scope.get("root_path", "") + route_path(request.scope)
    return path + (f"?{request.url.query}" if request.url.query else "")


def unauthorized(ui: UiContext, request: Request, as_json: bool, who: str | None) -> Response:
    token = request.headers.get("authorization")
    detail = ("unknown API key" if token
              else "this page needs an API key: sign in, or send 'Authorization: Bearer <key>'")
    if as_json:
        page = Page("error.html", "Sign in", {"detail": detail}, status=401)
    else:
        urls = Urls(request)
        page = Page("login.html", "Sign in", {"error": detail if token else None,
                                             "next": login.safe_next(_here(request), urls.root, urls.page())},
                    status=401)
    response = answer(request, page, as_json, base(ui, request, who))
    response.headers["www-authenticate"] = 'Bearer realm="featurestore"'
    return response


def endpoint(build: Builder, as_json: bool) -> Callable[[Request], Any]:
    async def handle(request: Request) -> Response:
        request.scope["featurestore.ui.started"] = time.perf_counter()
        ui = ui_of(request)
        who = login.who(ui.keys, request)
        if who is None:
            return unauthorized(ui, request, as_json, who)
        try:
            page = await run_in_threadpool(build, ui, request, **request.path_params)
        except FeatureStoreError as err:
            page = error_page(err)
        return answer(request, page, as_json, base(ui, request, who))

    return handle


async def login_form(request: Request) -> Response:
    ui = ui_of(request)
    urls = Urls(request)
    nxt = login.safe_next(request.query_params.get("next"), urls.root, urls.page())
    if not ui.keys.enabled:
        return RedirectResponse(nxt, status_code=303)  # nothing to sign in to
    who = login.who(ui.keys, request)
    return answer(request, Page("login.html", "Sign in", {"error": None, "next": nxt}), False, base(ui, request, who))


def _cross_site(ui: UiContext, request: Request, what: str) -> Response:
    page = Page("error.html", "Refused", {"detail": f"a {what} from another site is refused"}, status=403)
    return answer(request, page, False, base(ui, request, None))


async def login_post(request: Request) -> Response:
    ui = ui_of(request)
    urls = Urls(request)
    if not login.same_origin(request):
        return _cross_site(ui, request, "sign-in")
    form = await login.form(request)
    nxt = login.safe_next(form.get("next"), urls.root, urls.page())
    key = form.get("key", "").strip().encode()
    if not ui.keys.enabled:
        return RedirectResponse(nxt, status_code=303)
    if not key or ui.keys.scope_of(key) is None:
        page = Page("login.html", "Sign in", {"error": "unknown API key" if key else "type an API key", "next": nxt},
                    status=401)
        return answer(request, page, False, base(ui, request, None))
    max_age = int(ui.session_hours * 3600)
    token = login.token_for(key, int(time.time()) + max_age)
    response = RedirectResponse(nxt, status_code=303)
    response.headers["set-cookie"] = login.cookie_header(token, urls.root, max_age, request.url.scheme == "https")
    return response


async def logout_post(request: Request) -> Response:
    ui = ui_of(request)
    urls = Urls(request)
    if not login.same_origin(request):
        return _cross_site(ui, request, "sign-out")
    response = RedirectResponse(urls.page("/login"), status_code=303)
    response.headers["set-cookie"] = login.cookie_header("", urls.root, 0, request.url.scheme == "https")
    return response


async def asset(request: Request) -> Response:
    """A stylesheet or script of the package (public: the login page needs them). URLs carry the content hash
    (``?v=``), so they may be cached for good."""
    name = request.path_params["name"]
    body = asset_bytes(name)
    if body is None:
        return Response(b"not found", status_code=404, media_type="text/plain")
    kind = MEDIA.get(name.rsplit(".", 1)[-1], "application/octet-stream")
    return Response(body, media_type=kind, headers={"cache-control": "public, max-age=31536000, immutable",
                                                   "x-content-type-options": "nosniff"})


def install(app: FastAPI, ui: UiContext) -> list[str]:
    """Add the UI to ``app``; returns the route paths (for the metrics' endpoint labels)."""
    app.state.featurestore_ui = ui
    router = APIRouter(include_in_schema=False)
    router.add_api_route(UI + "/login", login_form, methods=["GET"])
    router.add_api_route(UI + "/login", login_post, methods=["POST"])
    router.add_api_route(UI + "/logout", logout_post, methods=["POST"])
    for path, build in PAGES:
        router.add_api_route(UI + path, endpoint(build, False), methods=["GET"])
        router.add_api_route(API + path, endpoint(build, True), methods=["GET"])
    router.add_api_route(UI + "/", endpoint(pages_catalog.overview, False), methods=["GET"])
    router.add_api_route(STATIC + "/{name}", asset, methods=["GET"])
    app.include_router(router)
    return [UI + p for p, _ in PAGES]
