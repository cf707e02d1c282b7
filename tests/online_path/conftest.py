"""A FeatureStore per test on a temp repo, with the SQLite or the private Redis online store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from featurestore import FeatureStore
from featurestore.config import parse_config


@pytest.fixture
def make_fs(tmp_path: Path, online_config: dict[str, object]) -> Iterator[Callable[..., FeatureStore]]:
    stores: list[FeatureStore] = []

    def make(project: str = "t", online: dict[str, object] | None = None, **extra: object) -> FeatureStore:
        data = {"project": project, "online_store": online or online_config, **extra}
        cfg = parse_config(data, "test", env={})
        store = FeatureStore(tmp_path, config=cfg)
        stores.append(store)
        return store

    yield make
    for s in stores:
        s.close()
