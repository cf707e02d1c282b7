"""The UI behind API keys (login form, cookie, bearer keys) and behind a proxy path prefix."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.auth import ApiKeys
from server.ui import login

from .test_pages import crawl

READ, WRITE = "read-key-1", "write-key-1"


@pytest.fixture(scope="module")
def keyed_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from .conftest import make_example

    return make_example(tmp_path_factory.mktemp("ui-keys") / "repo",
                        server={"api_keys": {"read": [READ], "write": [WRITE]}})


@pytest.fixture(scope="module")
def keyed(keyed_repo: Path) -> Iterator[TestClient]:
    with TestClient(create_app(keyed_repo), base_url="http://testserver") as c:
        yield c


def _login(c: TestClient, key: str, root: str = "", **headers: str) -> object:
    return c.post(f"{root}/ui/login", data={"key": key, "next": f"{root}/ui/views/driver_stats"},
                  headers={"origin": "http://testserver", **headers}, follow_redirects=False)


PATHS = ["/ui", "/ui/views", "/ui/views/driver_stats", "/ui/views/driver_stats/statistics", "/ui/lineage/driver",
         "/ui/training-sets", "/ui/history", "/ui/search?q=x", "/ui/entities/driver"]


@pytest.mark.parametrize("path", PATHS)
def test_pages_need_a_key(keyed: TestClient, path: str) -> None:
    keyed.cookies.clear()
    r = keyed.get(path)
    assert r.status_code == 401
    assert 'action="/ui/login"' in r.text and 'name="key"' in r.text  # the login form, not a stack trace
    assert "driver_ranking" not in r.text and "registry version" not in r.text  # nothing of the project
    assert r.headers["www-authenticate"].startswith("Bearer")
    api = keyed.get(path.replace("/ui", "/ui/api", 1))
    assert api.status_code == 401 and api.json()["detail"]
    assert keyed.get(path, headers={"authorization": "Bearer nope"}).status_code == 401
    assert keyed.get(path + ("&" if "?" in path else "?") + f"key={READ}").status_code == 401  # no key in URLs
    for key in (READ, WRITE):
        assert keyed.get(path, headers={"authorization": f"Bearer {key}"}).status_code == 200
        assert keyed.get(path.replace("/ui", "/ui/api", 1),
                         headers={"authorization": f"Bearer {key}"}).status_code == 200


def test_login_sets_a_session_cookie(keyed: TestClient) -> None:
    keyed.cookies.clear()
    form = keyed.get("/ui/login?next=/ui/history")
    assert form.status_code == 200 and 'value="/ui/history"' in form.text and 'type="password"' in form.text
    r = _login(keyed, READ)
    assert r.status_code == 303 and r.headers["location"] == "/ui/views/driver_stats"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{login.COOKIE}=")
    for part in ("HttpOnly", "SameSite=Lax", "Path=/ui", "Max-Age=43200"):
        assert part in cookie
    assert READ not in cookie  # a token derived from the key, not the key
    assert keyed.get("/ui/views/driver_stats").status_code == 200
    assert "Sign out" in keyed.get("/ui").text
    # the cookie is for the UI only: the API still needs a key
    assert keyed.post("/push", json={"push_source_name": "driver_stats_push", "df": {}}).status_code == 401
    assert keyed.post("/get-online-features", json={"features": ["driver_stats:conv_rate"],
                                                    "entities": {"driver_id": [1001]}}).status_code == 401
    out = keyed.post("/ui/logout", headers={"origin": "http://testserver"}, follow_redirects=False)
    assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]
    keyed.cookies.clear()
    assert keyed.get("/ui").status_code == 401


def test_bad_logins(keyed: TestClient) -> None:
    keyed.cookies.clear()
    wrong = _login(keyed, "nope")
    assert wrong.status_code == 401 and "unknown API key" in wrong.text and "set-cookie" not in wrong.headers
    empty = _login(keyed, "")
    assert empty.status_code == 401
    cross = _login(keyed, READ, origin="https://evil.example")
    assert cross.status_code == 403 and "set-cookie" not in cross.headers
    assert _login(keyed, READ, **{"sec-fetch-site": "cross-site"}).status_code == 403
    out = keyed.post("/ui/logout", headers={"origin": "https://evil.example"}, follow_redirects=False)
    assert out.status_code == 403 and "set-cookie" not in out.headers
    elsewhere = keyed.post("/ui/login", data={"key": READ, "next": "https://evil.example/"},
                           headers={"origin": "http://testserver"}, follow_redirects=False)
    assert elsewhere.status_code == 303 and elsewhere.headers["location"] == "/ui"  # no open redirect
    keyed.cookies.clear()


def test_session_tokens() -> None:
    keys = ApiKeys(["r"], ["w"])
    future = int(time.time()) + 60
    assert login.valid_token(keys, login.token_for(b"r", future))
    assert login.valid_token(keys, login.token_for(b"w", future))
    assert not login.valid_token(keys, login.token_for(b"x", future))
    assert not login.valid_token(keys, login.token_for(b"r", int(time.time()) - 1))  # expired
    forged = login.token_for(b"r", future).replace(str(future), str(future + 1000), 1)
    assert not login.valid_token(keys, forged)  # a longer life is not granted
    for junk in ("", ".", "abc.def", "123", f"{future}."):
        assert not login.valid_token(keys, junk)
    assert not login.valid_token(ApiKeys(["other"], []), login.token_for(b"r", future))  # the key was rotated


def test_keyed_pages_link_and_snippets(keyed: TestClient) -> None:
    keyed.cookies.clear()
    _login(keyed, READ)
    seen = crawl(keyed, "/ui")
    assert seen and all(s == 200 for s in seen.values()), {p: s for p, s in seen.items() if s != 200}
    curl = keyed.get("/ui/api/views/driver_stats").json()["snippets"]["curl"]
    assert '-H "Authorization: Bearer $FEATURESTORE_API_KEY"' in curl and READ not in curl
    assert "API keys are configured" in keyed.get("/ui/views/driver_stats").text
    keyed.cookies.clear()


@pytest.mark.parametrize("mode", ["root_path", "header"])
def test_every_link_under_a_prefix(example_repo: Path, mode: str) -> None:
    """Behind a proxy at /features: uvicorn's --root-path (the proxy strips the prefix), or X-Forwarded-Prefix
    from a trusted proxy; every link, asset, form and redirect carries the prefix."""
    root = "/features"
    if mode == "root_path":
        client = TestClient(create_app(example_repo), root_path=root)
    else:
        app = create_app(example_repo)
        client = TestClient(app, headers={"x-forwarded-prefix": root})
        _trust_everyone(app)
    with client:
        seen = crawl(client, "/ui", prefix=root)
        assert len(seen) > 30 and all(s == 200 for s in seen.values()), seen
        snippets = client.get("/ui/api/views/driver_stats").json()["snippets"]
        assert f"http://testserver{root}/get-online-features" in snippets["curl"]
        assert client.get("/ui/static/ui.css").status_code == 200


def _trust_everyone(app: object) -> None:
    """The test client's address is "testclient", not an IP: trust every client, as ``trusted_proxies: ['*']``."""
    from server.prefix import ForwardedPrefix

    stack = app.user_middleware  # type: ignore[attr-defined]
    for m in stack:
        if m.cls is ForwardedPrefix:
            m.kwargs["trusted"] = ["*"]


def test_untrusted_or_bad_prefixes(example_repo: Path) -> None:
    with TestClient(create_app(example_repo), headers={"x-forwarded-prefix": "/features"}) as c:
        page = c.get("/ui").text  # the test client is not a trusted proxy: the header is ignored
        assert 'href="/ui/views"' in page and "/features" not in page
    app = create_app(example_repo)
    _trust_everyone(app)
    with TestClient(app) as c:
        for bad in ('/x"><script>', "features", "/a//b", "/a/../b", "/a?b"):
            r = c.get("/ui", headers={"x-forwarded-prefix": bad})
            assert r.status_code == 400, bad
        ok = c.get("/ui", headers={"x-forwarded-prefix": "/features/"}).text
        assert 'href="/features/ui/views"' in ok


def test_login_under_a_prefix(keyed_repo: Path) -> None:
    with TestClient(create_app(keyed_repo), root_path="/features") as c:
        page = c.get("/ui/views/driver_stats")
        assert page.status_code == 401 and 'action="/features/ui/login"' in page.text
        assert 'name="next" value="/features/ui/views/driver_stats"' in page.text
        r = c.post("/ui/login", data={"key": READ, "next": "/features/ui/views/driver_stats"},
                   headers={"origin": "http://testserver"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/features/ui/views/driver_stats"
        assert "Path=/features/ui" in r.headers["set-cookie"]


def test_api_keys_hold_under_a_prefix(keyed_repo: Path) -> None:
    """uvicorn's --root-path puts the prefix in the ASGI path: the key checks match the route, not the raw path."""
    with TestClient(create_app(keyed_repo), root_path="/features") as c:
        assert c.post("/features/push", json={}).status_code == 401
        r = c.post("/features/push", json={}, headers={"authorization": f"Bearer {READ}"})
        assert r.status_code == 403  # a read key cannot push, prefix or not
        assert c.get("/features/health").status_code == 200
