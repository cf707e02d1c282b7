"""``featurestore validate VIEW [--start] [--end] [--json]``: the report, exit code 2 when it would not pass."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from featurestore.cli import main
from tests.cli_helpers import failed, ok
from tests.server.conftest import EXAMPLE


@pytest.fixture(autouse=True)
def _no_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FEATURESTORE_"):
            monkeypatch.delenv(name)


def test_validate_command(tmp_path: Path) -> None:
    runner = CliRunner()
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("data", "__pycache__"))  # SQLite online store
    for args in (["generate-data"], ["apply"]):
        ok(runner.invoke(main, ["--repo", str(repo), *args]))
    report = json.loads(ok(runner.invoke(main, ["--repo", str(repo), "validate", "driver_stats", "--json"])))
    assert report["outcome"] == "passed" and report["rows"] > 0
    assert [r["expectation"] for r in report["results"]][:2] == ["not_null(conv_rate)", "between(conv_rate, 0, 1)"]

    source = repo / "data" / "driver_stats.parquet"
    row = pq.read_table(source).slice(0, 1).to_pylist()[0]
    bad_time = datetime.now(UTC) - timedelta(days=400)
    folder = repo / "data" / "_push" / "driver_stats_push"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([{**row, "conv_rate": -3.0, "event_timestamp": bad_time}],
                                        schema=pq.read_schema(source)), folder / "part-bad.parquet")
    text = runner.invoke(main, ["--repo", str(repo), "validate", "driver_stats"])
    assert text.exit_code == 2, text.output
    assert "rejected" in text.stdout and "between(conv_rate, 0, 1): 1 bad row in column 'conv_rate', e.g. -3.0" \
        in text.stdout
    later = (bad_time + timedelta(days=1)).isoformat()
    ok(runner.invoke(main, ["--repo", str(repo), "validate", "driver_stats", "--start", later]))
    assert "nope" in failed(runner.invoke(main, ["--repo", str(repo), "validate", "nope"]))
