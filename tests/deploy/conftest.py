"""Fixtures of the deployment tests: the Dockerfile's final stage and the parsed compose file."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.deploy.helpers import COMPOSE, DOCKERFILE, Stage, parse_dockerfile, stages


@pytest.fixture(scope="module")
def final_stage() -> Stage:
    all_stages = stages(parse_dockerfile(DOCKERFILE.read_text()))
    assert all_stages, "the Dockerfile has no FROM"
    return all_stages[-1]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data
