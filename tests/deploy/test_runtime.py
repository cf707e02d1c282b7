"""The compose one-shot script and the image's exact command line, run here against real processes."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from featurestore.cli import main
from tests.deploy.helpers import (
    EXAMPLE,
    IMAGE_REPO,
    PORT,
    REDIS_URL,
    Stage,
    environment,
    image_command,
    image_healthcheck,
    service_argv,
)


def _example_copy(parent: Path) -> Path:
    """A copy of ``definitions/`` without its data: the definition modules and featurestore.yaml."""
    repo = parent / "definitions"
    repo.mkdir()
    for source in [*EXAMPLE.glob("*.py"), EXAMPLE / "featurestore.yaml"]:
        shutil.copy2(source, repo / source.name)
    return repo


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}


@pytest.mark.timeout(180)
def test_materialize_script_loads_the_example_into_redis(
    tmp_path: Path, compose: dict[str, Any], final_stage: Stage, clean_redis_url: str
) -> None:
    """The one-shot's script and environment, with the private redis-server standing in for ``redis``."""
    import redis

    service = compose["services"]["materialize"]
    argv = service_argv(service, final_stage)
    assert argv[:2] == ["sh", "-c"], argv
    repo = _example_copy(tmp_path)
    env = _base_env()
    env["PATH"] = os.pathsep.join([str(Path(_script("featurestore")).parent), env.get("PATH", "")])
    for key, value in environment(service).items():
        env[key] = clean_redis_url if value == REDIS_URL else value.replace(IMAGE_REPO, str(repo))
    script = argv[2].replace(IMAGE_REPO, shlex.quote(str(repo)))
    done = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (repo / "data" / "registry.json").is_file()
    with redis.Redis.from_url(clean_redis_url) as client:
        assert client.dbsize() > 0, "materialize-incremental wrote nothing to redis"


# -- the image's command line, run from the virtualenv ------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _script(name: str) -> str:
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    assert found, f"the {name} console script is not installed"
    return found


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and anything it started (its own process group)."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.mark.timeout(180)
def test_image_command_serves_the_example_repo(tmp_path: Path, final_stage: Stage) -> None:
    assert "serve" in main.commands, "the `featurestore serve` command is not implemented yet"
    env = _base_env()
    repo = _example_copy(tmp_path)
    featurestore = _script("featurestore")
    for args in (["generate-data", "--repo", str(repo)], ["apply", "--repo", str(repo)]):
        done = subprocess.run([featurestore, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"featurestore {shlex.join(args)}:\n{done.stdout}{done.stderr}"

    port = str(_free_port())
    replace = {IMAGE_REPO: str(repo), PORT: port, "0.0.0.0": "127.0.0.1", "featurestore": featurestore}
    argv = [replace.get(arg, arg) for arg in image_command(final_stage)]
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:
            assert process.poll() is None, f"{shlex.join(argv)} exited:\n{log_path.read_text()}"
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code
            except httpx.HTTPError:
                status = None
            if status == 200:
                break
            time.sleep(0.2)
        assert status == 200, f"GET /health never answered 200 within 30 s:\n{log_path.read_text()}"

        _options, check = image_healthcheck(final_stage)
        check = [sys.executable if arg == "python" else arg.replace(f":{PORT}/", f":{port}/") for arg in check]
        probe = subprocess.run(check, env=env, capture_output=True, text=True, timeout=15)
        assert probe.returncode == 0, probe.stdout + probe.stderr
    finally:
        _stop(process)
    # and the healthcheck fails once the server is gone
    probe = subprocess.run(check, env=env, capture_output=True, text=True, timeout=15)
    assert probe.returncode != 0
