"""The systems under test, each a way to run the shared workloads in fresh processes.

featurestore runs ``bench/fs_workload.py`` in this venv; Feast runs ``bench/feast_workload.py`` in
``.venv-feast`` (made by ``make bench-feast``), on the same data folder and the same Redis.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import ROOT, run_json

FEAST_PYTHON = ROOT / ".venv-feast" / "bin" / "python"


@dataclass
class System:
    """One feature store: how to run a workload command and how to start its HTTP server."""

    key: str
    label: str
    prefix: list[str]
    timeout: float
    work: Path | None = None  # Feast's feature repo folder (per data folder)
    info: dict[str, Any] = field(default_factory=dict)

    def argv(self, command: str, data: Path, **flags: Any) -> list[str]:
        args = [command, str(data)] if self.work is None else [command, "--data", str(data), "--work", str(self.work)]
        for name, value in flags.items():
            if value is True:
                args.append(f"--{name.replace('_', '-')}")
            elif value not in (None, False):
                args += [f"--{name.replace('_', '-')}", str(value)]
        return [*self.prefix, *args]

    def run(self, command: str, data: Path, **flags: Any) -> dict[str, Any]:
        return run_json(self.argv(command, data, **flags), self.timeout)


def featurestore(timeout: float) -> System:
    return System("featurestore", "featurestore", [sys.executable, "-m", "bench.fs_workload"], timeout)


def feast(timeout: float) -> System | None:
    """Feast, when ``make bench-feast`` made its venv (and ``BENCH_FEAST`` is not 0)."""
    if os.environ.get("BENCH_FEAST", "1") == "0" or not FEAST_PYTHON.exists():
        return None
    return System("feast", "Feast", [str(FEAST_PYTHON), str(ROOT / "bench" / "feast_workload.py")], timeout)


def prepare(system: System, data: Path, redis_url: str) -> dict[str, Any]:
    """Feast needs a feature repo per data folder (registry, online store address); featurestore none."""
    if system.key != "feast":
        return {}
    system.work = data / "feast_repo"
    info = system.run("setup", data, redis_url=redis_url)
    if "error" in info:
        raise RuntimeError(f"Feast setup failed: {info['error']}")
    system.info = info
    system.label = f"Feast {info.get('feast_version', '')}".strip()
    return info
