"""The README's tutorial and worked point-in-time example run as written and print what it shows."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.harness import free_port

README = Path(__file__).resolve().parents[1] / "README.md"
MARKED_BLOCK = re.compile(r"<!-- (?P<kind>tutorial|example): (?P<what>[^>]*?) -->\n```\w*\n(?P<body>.*?)\n```"
                          r"(?:\n```\w*\n(?P<shown>.*?)\n```)?", re.S)


def blocks(kind: str) -> list[re.Match[str]]:
    return [m for m in MARKED_BLOCK.finditer(README.read_text()) if m["kind"] == kind]


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEATURESTORE_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(tmp_path)
    return env


def test_tutorial_runs_as_written(tmp_path: Path) -> None:
    steps = blocks("tutorial")
    assert [m["what"] for m in steps] == ["file rides/featurestore.yaml", "file rides/features.py",
                                          "file make_data.py", "run", "file train.py", "run", "run", "run"]
    script = ["set -euo pipefail"]
    for step in steps:
        if step["what"].startswith("file "):
            path = step["what"].split(" ", 1)[1]
            script += [f"mkdir -p $(dirname {path})", f"cat > {path} <<'README_EOF'", step["body"], "README_EOF"]
        else:
            script.append(step["body"])
    port = str(free_port())
    for _attempt in range(2):  # the tutorial's times are relative to the current hour: retry if it turned
        hour = datetime.now(UTC).hour
        shutil.rmtree(tmp_path / "rides", ignore_errors=True)
        proc = subprocess.run(["bash", "-c", "\n".join(script).replace("6566", port)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=180, env=clean_env(tmp_path))
        if datetime.now(UTC).hour == hour:
            break
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "3 to add, 0 to change, 0 to remove." in out
    training = [line.split() for line in out.splitlines() if re.match(r"^\d +\d+ +\d{4}-", line)]
    assert [(r[1], r[4], r[5], r[6]) for r in training] == [("1", "1", "0.5", "10"), ("1", "0", "0.7", "15"),
                                                            ("2", "1", "0.3", "4")]
    answer = json.loads(next(line for line in out.splitlines() if line.startswith('{"metadata"')))
    assert answer["metadata"]["feature_names"] == ["driver_id", "conv_rate", "trips"]
    assert answer["results"][1]["values"] == [0.7, 0.3, None]
    assert answer["results"][2]["statuses"] == ["PRESENT", "PRESENT", "NOT_FOUND"]
    with pytest.raises(OSError):  # `kill %1` stopped the server
        socket.create_connection(("127.0.0.1", int(port)), timeout=1).close()


def test_worked_pit_example_prints_what_the_readme_shows(tmp_path: Path) -> None:
    (example,) = blocks("example")
    (tmp_path / "example.py").write_text(example["body"])
    proc = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env=clean_env(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.rstrip("\n") == example["shown"]
    assert "0.10" in example["shown"] and "NaN" in example["shown"]  # the comparison compared something
