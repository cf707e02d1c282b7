"""The example repo as the UI shows it: generated, applied twice (two registry versions), materialized into its
SQLite online store, with a rejected push (a failing expectation) and a training set of ``driver_activity``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml
from fastapi.testclient import TestClient

from featurestore import ExpectationError, FeatureStore
from featurestore.demo import sample_data

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "definitions"
TRAINING_SET = "driver_training"


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEATURESTORE_", "PROMETHEUS_"))}
    return {**env, **extra}


def featurestore_script() -> str:
    local = Path(sys.executable).parent / "featurestore"
    found = str(local) if local.exists() else shutil.which("featurestore")
    assert found, "the featurestore console script is not installed"
    return found


def run_cli(repo: Path, *args: str) -> str:
    done = subprocess.run([featurestore_script(), "--repo", str(repo), *args], env=cli_env(), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"featurestore {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def make_example(folder: Path, server: dict[str, Any] | None = None) -> Path:
    """A copy of the example repo, generated, applied in two versions, materialized, with a rejected push and a
    training set."""
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("data", "__pycache__"))
    config = yaml.safe_load((folder / "featurestore.yaml").read_text())
    config["server"] = {"registry_poll_seconds": 0.2, **(server or {})}
    config["offline_store"] = {**config.get("offline_store", {}), "threads": 1}
    (folder / "featurestore.yaml").write_text(yaml.safe_dump(config))
    run_cli(folder, "generate-data")
    run_cli(folder, "apply")
    module = folder / "driver_stats.py"
    module.write_text(module.read_text().replace('description="A ride-hailing driver"',
                                                 'description="A ride-hailing driver, rated by riders"'))
    run_cli(folder, "apply")
    run_cli(folder, "materialize-incremental", "now")
    store = FeatureStore(repo_path=folder)
    try:
        now = datetime.now(UTC)
        bad = pa.table({"driver_id": pa.array([1001], pa.int64()),
                        "event_timestamp": pa.array([now], pa.timestamp("us", tz="UTC")),
                        "created": pa.array([now], pa.timestamp("us", tz="UTC")),
                        "conv_rate": pa.array([1.5], pa.float32()), "acc_rate": pa.array([0.5], pa.float32()),
                        "avg_daily_trips": pa.array([3], pa.int64())})
        with pytest.raises(ExpectationError):
            store.push("driver_stats_push", bad)
        entities = sample_data.entity_frame(rows=20).select(["driver_id", "event_timestamp"])
        store.create_training_set(TRAINING_SET, entities, store.get_feature_service("driver_activity"),
                                  as_of=now - timedelta(seconds=1))
    finally:
        store.close()
    return folder


@pytest.fixture(scope="session")
def example_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_example(tmp_path_factory.mktemp("ui") / "repo")


@pytest.fixture(scope="session")
def example_store(example_repo: Path) -> Iterator[FeatureStore]:
    store = FeatureStore(repo_path=example_repo)
    yield store
    store.close()


@pytest.fixture(scope="module")
def client(example_repo: Path) -> Iterator[TestClient]:
    from server.app import create_app

    with TestClient(create_app(example_repo)) as c:
        yield c
