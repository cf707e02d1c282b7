"""``POST /monitoring/profile`` and ``POST /monitoring/drift`` on a real server process (one for the module)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest

from tests.server.conftest import Server, start_server

from .stats_repo import CUR_START, REF_START, make_repo, rows, write_log


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("stats_http")
    store = make_repo(root, rows(20_000, REF_START, 1), rows(20_000, CUR_START, 2, shift=1.0))
    write_log(store, rows(5_000, CUR_START, 3), CUR_START)
    store.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEATURESTORE_", "PROMETHEUS_"))}
    running = start_server(root, env)
    yield running
    running.stop()


def test_profile_json_and_text(server: Server) -> None:
    client = server.client()
    body = {"what": "rider_stats", "start": "2026-10-01", "end": "2026-10-31T23:59"}
    data = client.post("/monitoring/profile", json=body).json()
    assert data["rows"] == 20_000 and data["features"]["score"]["count"] == 20_000
    assert len(data["features"]["score"]["histogram"]["counts"]) == 202
    assert data["features"]["city"]["distinct"] == 4
    text = client.post("/monitoring/profile", json={**body, "format": "text"})
    assert text.headers["content-type"].startswith("text/plain") and "score" in text.text
    served = client.post("/monitoring/profile", json={"what": "ranking", "served": True}).json()
    assert served["rows"] == 5_000


def test_drift_formats(server: Server) -> None:
    client = server.client()
    body = {"what": "rider_stats", "reference": ["2026-10-01", "2026-10-31T23:59"], "current": ["2026-11-01", None]}
    data = client.post("/monitoring/drift", json=body).json()
    assert data["status"] == "alert" and data["features"]["score"]["status"] == "alert"
    served = client.post("/monitoring/drift", json={"what": "ranking", "reference": ["2026-10-01", "2026-10-31T23:59"],
                                                     "current": "served", "served_range": [None, "2026-11-02"]})
    assert served.json()["status"] == "ok"
    page = client.post("/monitoring/drift", json={**body, "format": "html"})
    assert page.headers["content-type"].startswith("text/html") and "http://" not in page.text
    parser = HTMLParser()
    parser.feed(page.text)
    assert page.text.count("<svg") == 4
    text = client.post("/monitoring/drift", json={**body, "format": "text", "min_rows": 10**6}).text
    assert "insufficient_data" in text


def test_errors(server: Server) -> None:
    client = server.client()
    unknown = client.post("/monitoring/drift", json={"what": "nope", "reference": [None, None]})
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]
    bad_time = client.post("/monitoring/profile", json={"what": "rider_stats", "start": "yesterday"})
    assert bad_time.status_code == 400 and "yesterday" in bad_time.json()["detail"]
    malformed = client.post("/monitoring/drift", json={"what": "rider_stats", "format": "pdf"})
    assert malformed.status_code == 422
