"""One materialization at a time per repo, across processes: the second gets BusyError (409 over HTTP)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from featurestore import BusyError, FeatureStore
from featurestore.cli import main
from server.app import create_app

ROOT = Path(__file__).resolve().parents[1]
T1, T2 = datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC)
DEFS = """\
from featurestore import Entity, FeatureView, Field, ParquetSource
from featurestore.types import Float64

driver = Entity(name="driver", join_keys=["driver_id"])
stats = FeatureView(name="stats", entities=[driver], schema=[Field(name="v", dtype=Float64)],
                    source=ParquetSource(path="s.parquet"))
"""
# materializes, and holds the lock (in its progress callback) until its stdin closes
HOLDER = textwrap.dedent("""\
    import sys
    from datetime import datetime, UTC
    from featurestore import FeatureStore

    def progress(p):
        if p.done:
            print("holding", flush=True)
            sys.stdin.read()

    FeatureStore(sys.argv[1]).materialize(datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC),
                                          progress=progress)
    print("done", flush=True)
""")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "featurestore.yaml").write_text("project: p\n")
    (tmp_path / "defs.py").write_text(DEFS)
    pq.write_table(pa.table({"driver_id": pa.array([1, 2], pa.int64()), "v": [1.0, 2.0],
                             "event_timestamp": pa.array([T1, T1], pa.timestamp("us", tz="UTC"))}),
                   tmp_path / "s.parquet")
    FeatureStore(tmp_path).apply()
    return tmp_path


@pytest.fixture
def holder(repo: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process in the middle of a materialization of ``repo``."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(repo)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline() == "holding\n"
    yield proc
    proc.stdin.close()
    assert proc.stdout.readline() == "done\n"
    assert proc.wait(60) == 0


def test_a_second_process_gets_busy_error_naming_the_holder(repo: Path, holder: subprocess.Popen[str]) -> None:
    store = FeatureStore(repo)
    with pytest.raises(BusyError, match="already running") as err:
        store.materialize_incremental(T2)
    assert err.value.pid == holder.pid
    assert err.value.running == "materialize ['stats']"
    assert datetime.fromisoformat(err.value.since) <= datetime.now(UTC)
    with pytest.raises(BusyError):  # the same rule for a full materialize; nothing was recorded meanwhile
        store.materialize(T1, T2)


def test_the_lock_is_free_again_after_the_holder_ends(repo: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", HOLDER, str(repo)], input="", capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    [run] = FeatureStore(repo).materialize_incremental(T2)
    assert run.view == "stats"


def test_the_cli_is_refused_cleanly_while_another_process_materializes(repo: Path,
                                                                        holder: subprocess.Popen[str]) -> None:
    result = CliRunner().invoke(main, ["--repo", str(repo), "materialize-incremental", "now"])
    assert result.exit_code == 1
    assert "already running (materialize ['stats'], pid" in result.output and "Traceback" not in result.output


def test_http_materialize_is_409_while_another_process_holds_the_lock(repo: Path,
                                                                      holder: subprocess.Popen[str]) -> None:
    with TestClient(create_app(repo)) as client:
        r = client.post("/materialize-incremental", json={"end_ts": T2.isoformat()})
        assert r.status_code == 409, r.text
        assert r.json()["error"] == "BusyError" and r.json()["fields"]["pid"] == holder.pid
        r = client.post("/materialize", json={"start_ts": T1.isoformat(), "end_ts": T2.isoformat()})
        assert r.status_code == 409 and "already running" in r.json()["detail"]
