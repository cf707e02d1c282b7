"""A non-blocking cross-process lock on a file: one exclusive operation (a materialization) at a time.

``flock`` locks belong to an open file description, so the lock also holds between threads of one
process, and the kernel releases it when the holder dies: a crashed run never leaves it stuck.
The holder writes what it runs, its pid and its start time into the file, for the
:class:`~featurestore.errors.BusyError` of whoever finds it taken.
"""

from __future__ import annotations

import fcntl
import json
import os
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


@contextmanager
def exclusive(path: Path, operation: str) -> Iterator[None]:
    """Hold the lock at ``path`` while the block runs; BusyError at once if another holder has it.

    The error's fields: ``running`` (the holder's operation), ``since`` (ISO time it started) and ``pid``.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise RegistryError(f"cannot open the lock file {str(path)!r}: {err}", path=str(path)) from None
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
