"""The README's worked example of training sets with aggregate views runs as written and prints what it shows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"<!-- aggregates-example: training set -->\n```python\n(?P<body>.*?)\n```\n```text\n"
                   r"(?P<shown>.*?)\n```", re.S)


def test_worked_aggregate_example_prints_what_the_readme_shows(tmp_path: Path) -> None:
    (found,) = BLOCK.finditer(README.read_text())
    (tmp_path / "example.py").write_text(found["body"])
    proc = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.rstrip("\n") == found["shown"]
    assert "57.5" in found["shown"] and "82.5" in found["shown"]  # the comparison compared something
