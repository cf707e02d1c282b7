"""Helpers to build throwaway feature repos with sources written by the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from featurestore import FeatureStore
from featurestore.config import parse_config


@pytest.fixture
def make_store(tmp_path: Path):  # type: ignore[no-untyped-def]
    def make(**config: object) -> FeatureStore:
        cfg = parse_config({"project": "t", **config}, "test", env={})
        return FeatureStore(tmp_path, config=cfg)

    return make
