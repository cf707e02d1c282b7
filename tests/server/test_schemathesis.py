"""Property-based requests generated from the running server's /openapi.json: never a 5xx."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.conftest import Server

pytest.importorskip("schemathesis")


def schemathesis_script() -> str:
    local = Path(sys.executable).parent / "schemathesis"
    found = str(local) if local.exists() else shutil.which("schemathesis")
    if not found:
        pytest.skip("the schemathesis command is not installed")
    return found


def test_no_server_error_on_generated_requests(served: Server, tmp_path: Path) -> None:
    done = subprocess.run(
        [schemathesis_script(), "run", f"{served.url}/openapi.json", "--checks", "not_a_server_error",
         "--max-examples", "40", "--workers", "1", "--seed", "20261122", "--phases", "examples,coverage,fuzzing",
         "--request-timeout", "30", "--max-failures", "5", "--exclude-path-regex", "^/materialize"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path)
    output = done.stdout[-6000:] + done.stderr[-2000:]
    assert done.returncode == 0, output
    assert "passed" in done.stdout
    assert "Traceback" not in served.log(), served.log()[-4000:]


def test_materialize_endpoints_with_few_examples(served: Server, tmp_path: Path) -> None:
    done = subprocess.run(
        [schemathesis_script(), "run", f"{served.url}/openapi.json", "--checks", "not_a_server_error",
         "--max-examples", "10", "--workers", "1", "--seed", "7", "--phases", "examples,coverage,fuzzing",
         "--request-timeout", "60", "--max-failures", "3", "--include-path-regex", "^/materialize"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
