"""A real `featurestore serve` on a Redis Cluster: the example repo materialized by the CLI through the environment
(`FEATURESTORE_REDIS_URL` listing the nodes, `FEATURESTORE_REDIS_CLUSTER=true`), HTTP answers equal to the SDK's."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from featurestore import FeatureStore
from featurestore.config import load_config
from tests.server.conftest import EXAMPLE, base_env, run_cli, start_server

FEATURES = ["driver_stats:conv_rate", "driver_stats:acc_rate", "driver_stats:avg_daily_trips"]


def test_serve_on_a_redis_cluster_answers_as_the_sdk(tmp_path: Path, clean_cluster_url: str) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("data", "__pycache__"))
    config = yaml.safe_load((repo / "featurestore.yaml").read_text())
    config["offline_store"] = {**config.get("offline_store", {}), "threads": 1}
    (repo / "featurestore.yaml").write_text(yaml.safe_dump(config))
    env = base_env(clean_cluster_url, FEATURESTORE_REDIS_CLUSTER="true")
    run_cli(repo, env, "generate-data")
    run_cli(repo, env, "apply")
    run_cli(repo, env, "materialize-incremental", "now", "--views", "driver_stats")
    server = start_server(repo, env)
    try:
        client = server.client()
        assert client.get("/ready").status_code == 200
        ids = [*range(1001, 1011), 9999]
        answer = client.post("/get-online-features", json={"features": FEATURES, "entities": {"driver_id": ids}})
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        local = FeatureStore(repo, config=load_config(repo, env={"FEATURESTORE_REDIS_URL": clean_cluster_url,
                                                                 "FEATURESTORE_REDIS_CLUSTER": "true"}))
        assert type(local.online).__name__ == "RedisClusterOnlineStore"
        expected = local.get_online_features(FEATURES, {"driver_id": ids}).to_dict()
        local.close()
        for i, name in enumerate(["driver_id", "conv_rate", "acc_rate", "avg_daily_trips"]):
            assert results[i]["values"] == expected[name], name
        assert results[1]["statuses"][-1] == "NOT_FOUND" and results[1]["statuses"][0] == "PRESENT"
    finally:
        server.stop()
