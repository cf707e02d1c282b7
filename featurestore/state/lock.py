"""Cross-process locks on files: one exclusive operation (a materialization) at a time (:func:`exclusive`), and
the ingest lock between pushes and materialize snapshots (:func:`ingest`).

``flock`` locks belong to an open file description, so the lock also holds between threads of one
process, and the kernel releases it when the holder dies: a crashed run never leaves it stuck.
The holder writes what it runs, its pid and its start time into the file, for the
:class:`~featurestore.errors.BusyError` of whoever finds it taken.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from featurestore.errors import BusyError, RegistryError
from featurestore.utc import now_iso


def _holder(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _open(path: Path) -> int:
    """A new file description of the lock file (created with its folder when missing)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise RegistryError(f"cannot open the lock file {str(path)!r}: {err}", path=str(path)) from None


@contextmanager
def exclusive(path: Path, operation: str) -> Iterator[None]:
    """Hold the lock at ``path`` while the block runs; BusyError at once if another holder has it.

    The error's fields: ``running`` (the holder's operation), ``since`` (ISO time it started) and ``pid``.
    """
    fd = _open(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held = _holder(path)
            running, since, pid = held.get("operation"), held.get("since"), held.get("pid")
            raise BusyError(
                f"{operation} refused: another operation is already running ({running or 'unknown'}, pid "
                f"{pid or '?'}, since {since or '?'}); retry when it ends",
                running=running, since=since, pid=pid, lock=str(path)) from None
        try:
            info = {"operation": operation, "pid": os.getpid(), "since": now_iso()}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


INGEST_TIMEOUT_S = 60.0
"""How long :func:`ingest` waits for the lock before a BusyError (a push or a snapshot holds it for milliseconds)."""


@contextmanager
def ingest(path: Path, exclusive: bool, timeout_s: float = INGEST_TIMEOUT_S) -> Iterator[None]:
    """Hold the ingest lock at ``path`` while the block runs: shared (pushes: stamp and append offline) or
    exclusive (a materialize picking its snapshot time). Waits while the other mode holds it; BusyError after
    ``timeout_s`` seconds.

    Each call opens its own file description, so threads of one process exclude each other as processes do.
    """
    fd = _open(path)
    try:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        deadline, pause = time.monotonic() + timeout_s, 0.0005
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    what = "exclusive" if exclusive else "shared"
                    raise BusyError(f"the ingest lock {str(path)!r} was not free for {timeout_s:g} s ({what} "
                                    "wanted): a push or a materialize snapshot is stuck; retry", lock=str(path)) \
                        from None
                time.sleep(pause)
                pause = min(pause * 2, 0.02)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
