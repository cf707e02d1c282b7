"""``featurestore ui`` (the UI alone) and ``featurestore serve --root-path`` as real uvicorn processes."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner

from featurestore import ConfigError
from featurestore.cli import main
from featurestore.config import load_config
from tests.server.conftest import free_port

from .browser import prefix_proxy
from .conftest import cli_env, featurestore_script


def _start(repo: Path, *args: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    log = repo / f"ui-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([featurestore_script(), *args, "--repo", str(repo), "--port", str(port)],
                                env=cli_env(), stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url, log
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"no answer on /health:\n{log.read_text()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_featurestore_ui_serves_only_the_ui(example_repo: Path) -> None:
    proc, url, log = _start(example_repo, "ui")
    try:
        page = httpx.get(f"{url}/ui/views/driver_stats", timeout=30)
        assert page.status_code == 200 and "conv_rate" in page.text
        assert httpx.get(f"{url}/ui/api/views/driver_stats", timeout=30).json()["name"] == "driver_stats"
        lookup = httpx.post(f"{url}/get-online-features", timeout=30,
                            json={"features": ["driver_stats:conv_rate"], "entities": {"driver_id": [1001]}})
        assert lookup.status_code == 404
        assert httpx.post(f"{url}/push", json={}, timeout=30).status_code == 404
        assert httpx.get(f"{url}/docs", timeout=30).status_code == 404
    finally:
        _stop(proc)
    assert "Traceback" not in log.read_text()


def test_serve_with_a_root_path_behind_a_stripping_proxy(tmp_path: Path) -> None:
    """uvicorn's --root-path: the proxy strips /features; links carry it; API keys still hold per route."""
    from .conftest import make_example

    repo = make_example(tmp_path / "repo", server={"api_keys": {"read": ["r-key"], "write": ["w-key"]},
                                                   "trusted_proxies": []})
    proc, url, log = _start(repo, "serve", "--root-path", "/features")
    try:
        with prefix_proxy(int(url.rsplit(":", 1)[1])) as base:  # also sends X-Forwarded-Prefix: not trusted here
            bearer = {"authorization": "Bearer r-key"}
            page = httpx.get(f"{base}/ui/views/driver_stats", headers=bearer, timeout=30)
            assert page.status_code == 200
            assert 'href="/features/ui/views"' in page.text and 'href="/features/features' not in page.text
            assert "http://127.0.0.1" in page.text and "/features/get-online-features" in page.text
            css = httpx.get(f"{base}/ui/static/ui.css", timeout=30)
            assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
            login = httpx.post(f"{base}/ui/login", data={"key": "r-key", "next": "/features/ui/history"},
                               headers={"origin": base.rsplit("/features", 1)[0]}, timeout=30)
            assert login.status_code == 303 and login.headers["location"] == "/features/ui/history"
            assert "Path=/features/ui" in login.headers["set-cookie"]
            # the key rules match routes under the prefix: a read key cannot push
            assert httpx.post(f"{base}/push", json={}, timeout=30).status_code == 401
            assert httpx.post(f"{base}/push", json={}, headers=bearer, timeout=30).status_code == 403
            lookup = httpx.post(f"{base}/get-online-features", headers=bearer, timeout=30,
                                json={"features": ["driver_stats:conv_rate"], "entities": {"driver_id": [1001]}})
            assert lookup.status_code == 200
    finally:
        _stop(proc)
    assert "Traceback" not in log.read_text()


def test_ui_command_help_and_bad_prefix() -> None:
    out = CliRunner().invoke(main, ["ui", "--help"]).output
    assert "--root-path" in out and "6567" in out and "read-only" in out
    assert "--root-path" in CliRunner().invoke(main, ["serve", "--help"]).output
    bad = CliRunner().invoke(main, ["ui", "--root-path", "/a b"])
    assert bad.exit_code != 0 and "--root-path" in bad.output


def test_trusted_proxies_are_checked(tmp_path: Path) -> None:
    (tmp_path / "featurestore.yaml").write_text(yaml.safe_dump(
        {"project": "p", "server": {"trusted_proxies": ["10.0.0.0/8", "not-an-ip"]}}))
    with pytest.raises(ConfigError, match="not-an-ip"):
        load_config(tmp_path)
