"""Helpers of the deployment tests: a small Dockerfile parser, compose accessors, shared constants."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
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


def build_context(service: dict[str, Any]) -> str | None:
    build = service.get("build")
    if isinstance(build, str):
        return build
    if isinstance(build, dict):
        return str(build.get("context", "."))
    return None


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


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}
