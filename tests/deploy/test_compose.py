"""docker-compose.yml: structure, and every command it runs exists in the CLI."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from featurestore.cli import main
from featurestore.config import parse_config
from tests.deploy.helpers import (
    COMPOSE,
    DOCKERFILE,
    IMAGE_DATA,
    IMAGE_REPO,
    PORT,
    REDIS_URL,
    ROOT,
    Stage,
    build_context,
    environment,
    image_command,
    image_healthcheck,
    named_volumes,
    parse_dockerfile,
    service_argv,
    stages,
)


def test_services(compose: dict[str, Any]) -> None:
    default = {name for name, s in compose["services"].items() if not s.get("profiles")}
    assert default == {"redis", "materialize", "server"}
    assert {n for n, s in compose["services"].items() if "monitoring" in s.get("profiles", [])} == {
        "monitor", "prometheus", "grafana"}  # tests/deploy/test_monitoring.py
    assert {n for n, s in compose["services"].items() if "cluster" in s.get("profiles", [])} == {
        "redis-node-1", "redis-node-2", "redis-node-3", "redis-cluster-init", "materialize-cluster", "server-cluster"}


def test_the_cluster_profile_serves_from_a_three_node_redis_cluster(compose: dict[str, Any]) -> None:
    services = compose["services"]
    nodes = []
    for i in range(3):
        node = services[f"redis-node-{i + 1}"]
        words = list(node["command"])
        option = dict(zip(words[1::2], words[2::2], strict=False))
        assert words[0] == "redis-server" and option["--cluster-enabled"] == "yes" and option["--appendonly"] == "yes"
        assert option["--cluster-announce-hostname"] == f"redis-node-{i + 1}"  # clients follow CLUSTER SLOTS
        assert option["--port"] in " ".join(node["healthcheck"]["test"])
        assert named_volumes(node)["/data"] in compose["volumes"]  # nodes.conf and the AOF survive a restart
        nodes.append(f"redis-node-{i + 1}:{option['--port']}")
    init = " ".join(services["redis-cluster-init"]["command"])
    assert "--cluster create" in init and "--cluster-replicas 0" in init and "--cluster-yes" in init
    assert all(f"getent hosts {n.split(':')[0]}" in init and f":{n.split(':')[1]}" in init for n in nodes)
    assert {n: d["condition"] for n, d in services["redis-cluster-init"]["depends_on"].items()} == {
        f"redis-node-{i + 1}": "service_healthy" for i in range(3)}
    for name in ("materialize-cluster", "server-cluster"):
        env = environment(services[name])
        assert env["FEATURESTORE_REDIS_URL"] == "redis://" + ",".join(nodes)
        assert env["FEATURESTORE_REDIS_CLUSTER"] == "true"
    config = parse_config({"project": "p"}, "compose", env=environment(services["server-cluster"]))
    assert config.online_store.type == "redis" and config.online_store.cluster  # type: ignore[union-attr]
    assert services["materialize-cluster"]["depends_on"] == {
        "redis-cluster-init": {"condition": "service_completed_successfully"}}
    assert services["server-cluster"]["ports"] == ["6568:6566"]


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
