"""Writing a training set version: into a temporary folder, numbered and renamed into place under a lock.

Versions count 1, 2, ... per name. The output and the entity frame are written to ``<name>/.tmp-*`` first; then,
holding ``<name>/.lock`` (``flock``: across processes), the next number is taken, the manifest written and the
folder renamed to ``v<N>``. A failure at any step removes the temporary folder: a ``v<N>`` folder is always whole,
and an earlier version is never touched.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from featurestore.training.manifest import MANIFEST, Manifest, check_training_set_name, version_dirs
from featurestore.training.training_set import TrainingSet


def write_version(root: Path, name: str, fill: Callable[[Path], Callable[[int], Manifest]]) -> TrainingSet:
    """A new version of ``name``: ``fill(folder)`` writes the data files into the temporary folder and returns
    the function that makes the manifest once the version number is known."""
    check_training_set_name(name)
    parent = root / name
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=parent))
    try:
        manifest_of = fill(tmp)
        with open(parent / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                version = max(version_dirs(root, name), default=0) + 1
                manifest = manifest_of(version)
                with open(tmp / MANIFEST, "w") as f:  # no fsync: as to_parquet, the rename is the commit point
                    json.dump(manifest.to_json(), f, indent=1, sort_keys=True)
                final = parent / f"v{version}"
                os.rename(tmp, final)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if not any(p for p in parent.iterdir() if p.name != ".lock"):
            shutil.rmtree(parent, ignore_errors=True)  # a first version that failed leaves no trace
        raise
    return TrainingSet(manifest, final)
