"""The UI's templates and assets ship in the wheel (a source checkout would pass every other test without them)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_holds_every_template_and_asset(tmp_path: Path) -> None:
    source = tmp_path / "src"  # a copy: building writes build/ and *.egg-info beside the sources
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("featurestore", "server"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    wheel = next(tmp_path.glob("featurestore-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    ui = ROOT / "server" / "ui"
    wanted = {f"server/ui/{p.relative_to(ui).as_posix()}" for folder in ("templates", "static")
              for p in (ui / folder).iterdir() if p.is_file()}
    assert len(wanted) > 15
    assert wanted <= names, sorted(wanted - names)
