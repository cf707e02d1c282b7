"""The feature logger: served vectors of logging services appended to Parquet, off the request path.

A lookup only puts ``(plan, answer, rows, now)`` in a bounded in-memory queue (no Arrow, no I/O): when the
queue holds :attr:`FeatureLogger.queue_size` lookups, the lookup's rows are dropped and counted, never
waited for. One writer thread per logger turns what is queued into Arrow every :data:`BUILD_SECONDS` (sooner
when the queue is half full), a few hundred lookups at a time so that it never holds the GIL for long (a
server's event loop shares it: building a second's lookups at once stalled requests for tens of ms), and
writes each service's built rows as one Parquet file every ``flush_seconds``, under a hidden temporary name
renamed into place (:mod:`featurestore.monitoring.log_files`), so no reader ever sees a partial file.
:meth:`FeatureLogger.flush` writes everything queued before it returns; :meth:`FeatureLogger.close` flushes
and stops the thread; an interpreter exit flushes too.

>>> logger = FeatureLogger(queue_size=100)
>>> logger.counts()
{}
>>> logger.close()
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import os
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import chain, repeat
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from featurestore.definitions.feature_service import FeatureService
from featurestore.monitoring.log_files import LOG_TIME, REQUEST_ID
from featurestore.monitoring.log_plan import DERIVED, TIMESTAMP, LogPlan, plan_of, service_of
from featurestore.monitoring.sampling import sampled_rows
from featurestore.online.entity_rows import columns as entity_columns
from featurestore.online.response import OnlineResponse
from featurestore.registry.file import RegistryState
from featurestore.resolution import resolve
from featurestore.utc import epoch_us, to_utc
from featurestore.utc import now_us as utc_now_us

QUEUE_SIZE = 10_000
"""Lookups waiting for the writer, at most (more are dropped and counted)."""
FLUSH_SECONDS = 1.0
"""The writer writes what is queued at least this often."""
BUILD_SECONDS = 0.1
"""The writer turns queued lookups into Arrow this often (small steps: short holds of the GIL)."""
BUILD_CHUNK = 256
"""Lookups built into Arrow per step; the writer yields the GIL between steps."""
STATUS = pa.string()
_log = logging.getLogger("featurestore.monitoring")

Entry = tuple[LogPlan, OnlineResponse, "list[int] | None", int, "dict[str, list[Any]] | None"]
"""A queued lookup: its plan, the answer, the sampled rows (None: all), ``now`` (epoch µs), request fields."""


class FeatureLogger:
    """A bounded queue of served lookups and the thread writing them to the services' log folders."""

    def __init__(self, queue_size: int = QUEUE_SIZE, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.queue_size = queue_size
        self.flush_seconds = flush_seconds
        self._queue: deque[Entry] = deque()
        self._wake_at = max(1, queue_size // 2)
        self._pending: dict[tuple[object, ...], tuple[LogPlan, list[pa.Table], int]] = {}  # built, not written
        self._written_at = time.monotonic()
        self._built = 0  # lookups built since the last write (a write comes sooner past half the queue's size)
        self._wake = threading.Event()
        self._io = threading.Lock()  # one drain at a time (the writer thread, flush, close)
        self._start = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._logged: dict[str, int] = {}
        self._dropped: dict[str, int] = {}
        self._count_lock = threading.Lock()
        self._ids = itertools.count()
        self._id_prefix = uuid.uuid4().hex[:12]  # request ids: <this logger>-<n>, unique without a uuid each
        ref = weakref.ref(self)
        atexit.register(_flush_at_exit, ref)

    # -- the request path -------------------------------------------------------------------------------
    def submit(self, plan: LogPlan, answer: OnlineResponse, rows: list[int] | None, now_us: int,
               request: dict[str, list[Any]] | None = None) -> bool:
        """Queue one served lookup (``rows``: the sampled entity rows, None for all); False when the queue was
        full and its rows were dropped (counted). Never blocks on I/O."""
        queue = self._queue
        if len(queue) >= self.queue_size or self._closed:
            self._count(self._dropped, plan.service, _n(answer) if rows is None else len(rows))
            return False
        queue.append((plan, answer, rows, now_us, request))
        if self._thread is None:
            self._start_thread()
        if len(queue) >= self._wake_at:
            self._wake.set()
        return True

    # -- counts and flushing ----------------------------------------------------------------------------
    def counts(self) -> dict[str, dict[str, int]]:
        """Per service, the rows ``logged`` (written to its log) and ``dropped`` (queue full, or a failed write)
        by this logger."""
        with self._count_lock:
            names = sorted(set(self._logged) | set(self._dropped))
            return {s: {"logged": self._logged.get(s, 0), "dropped": self._dropped.get(s, 0)} for s in names}

    def flush(self) -> None:
        """Write every lookup queued so far; returns when the files are in place."""
        with self._io:
            self._drain()

    def close(self) -> None:
        """Flush and stop the writer thread (later lookups are dropped and counted)."""
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self.flush()

    def _count(self, table: dict[str, int], service: str, n: int) -> None:
        with self._count_lock:
            table[service] = table.get(service, 0) + n

    def _start_thread(self) -> None:
        with self._start:
            if self._thread is None:
                thread = threading.Thread(target=_run, args=(weakref.ref(self),), name="featurestore-feature-log",
                                          daemon=True)
                thread.start()
                self._thread = thread

    # -- the writer ---------------------------------------------------------------------------------------
    def _drain(self) -> None:
        """Build everything queued, then write every service's built rows (``flush``, ``close``)."""
        while self._queue:
            self._build(BUILD_CHUNK)
        self._write()

    def _step(self) -> None:
        """One wake of the writer thread: build what is queued in small chunks (yielding the GIL between them),
        then write when ``flush_seconds`` have passed since the last write, or half a queue of lookups was built
        since (what is built but not written stays bounded)."""
        while self._queue:
            self._build(BUILD_CHUNK)
            time.sleep(0)  # let the request threads (a server's event loop) run between chunks
        if time.monotonic() - self._written_at >= self.flush_seconds or self._built >= self._wake_at or self._closed:
            self._write()

    def _build(self, limit: int) -> None:
        """Turn up to ``limit`` queued lookups into Arrow tables, kept per log until written."""
        entries: list[Entry] = []
        queue = self._queue
        while queue and len(entries) < limit:
            entries.append(queue.popleft())
        self._built += len(entries)
        groups: dict[tuple[object, ...], list[Entry]] = {}
        for entry in entries:
            groups.setdefault(entry[0].signature, []).append(entry)
        for signature, group in groups.items():
            plan = group[0][0]
            rows = sum(n for n in _row_counts(group))
            if not rows:
                continue
            try:
                table = build_table(plan, group, self._next_id)
            except Exception as exc:  # a value Arrow refuses: count, go on
                _log.warning("feature log of service %r: %d rows dropped: %s", plan.service, rows, exc)
                self._count(self._dropped, plan.service, rows)
                continue
            _, tables, pending = self._pending.get(signature, (plan, [], 0))
            self._pending[signature] = (plan, [*tables, table], pending + rows)

    def _write(self) -> None:
        """Write each log's built rows as one file."""
        pending, self._pending = self._pending, {}
        self._written_at, self._built = time.monotonic(), 0
        for plan, tables, rows in pending.values():
            try:
                self.write_file(plan.folder, pa.concat_tables(tables))
            except Exception as exc:  # a full disk, an unwritable folder: count, go on
                _log.warning("feature log of service %r: %d rows dropped: %s", plan.service, rows, exc)
                self._count(self._dropped, plan.service, rows)
                continue
            self._count(self._logged, plan.service, rows)

    def _next_id(self) -> str:
        return f"{self._id_prefix}-{next(self._ids)}"

    def write_file(self, folder: Path, table: pa.Table) -> Path:
        """Write ``table`` as one complete log file of ``folder`` (a hidden temporary file, then a rename)."""
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"{time.time_ns() // 1000 % 1_000_000:06d}Z"
        name = f"part-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = folder / f".{name}.tmp"
        try:
            self.write_parquet(table, tmp)
            os.replace(tmp, folder / name)
        finally:
            tmp.unlink(missing_ok=True)
        return folder / name

    def write_parquet(self, table: pa.Table, path: Path) -> None:
        """Write the Parquet file (under its temporary name)."""
        pq.write_table(table, path)


def log_lookup(logger: FeatureLogger, state: RegistryState, features: Any, answer: OnlineResponse,
               entity_rows: Any, full_feature_names: bool, folder_of: Callable[[FeatureService], Path],
               now: datetime | None = None) -> None:
    """Queue a served lookup when ``features`` names a logging service (a service object or name); the
    sampled entity rows only. Cheap for every other lookup: one type check."""
    if not isinstance(features, str | FeatureService):
        return
    resolved = resolve(features, state, full_feature_names)  # cached: the lookup resolved it
    plan: LogPlan | bool | None = resolved.derived.get(DERIVED, False)
    if plan is False:
        service = service_of(features, state)
        plan = resolved.derived[DERIVED] = (None if service is None
                                            else plan_of(service, resolved, folder_of(service)))
    if not isinstance(plan, LogPlan):
        return
    rows = None if plan.rate >= 1.0 else sampled_rows([answer.keys[k] for k, _ in plan.keys], plan.rate)
    if rows is not None and not rows:
        return
    now_us = epoch_us(now) if now is not None else answer.now_us if answer.now_us is not None else utc_now_us()
    request = None
    if plan.request_fields:
        cols, _ = entity_columns(entity_rows if entity_rows is not None else {})
        request = {k: cols.get(k) or [] for k, _ in plan.request_fields}
    logger.submit(plan, answer, rows, now_us, request)


def _run(ref: weakref.ref[FeatureLogger]) -> None:
    """The writer thread: a step every :data:`BUILD_SECONDS` (or when woken) until the logger closes or is gone."""
    while True:
        logger = ref()
        if logger is None:
            return
        wake, seconds = logger._wake, min(BUILD_SECONDS, logger.flush_seconds)
        del logger
        wake.wait(seconds)
        wake.clear()
        logger = ref()
        if logger is None:
            return
        with logger._io:
            logger._step()
        if logger._closed:
            return
        del logger


def _flush_at_exit(ref: weakref.ref[FeatureLogger]) -> None:
    logger = ref()
    if logger is not None:
        with contextlib.suppress(Exception):  # nothing to report to at exit
            logger.flush()


def _row_counts(group: list[Entry]) -> Iterator[int]:
    for _, answer, rows, _, _ in group:
        yield _n(answer) if rows is None else len(rows)


def _n(answer: OnlineResponse) -> int:
    for values in answer.keys.values():
        return len(values)
    for values in answer.features.values():
        return len(values)
    return 0


def _take(values: list[Any], rows: list[int] | None) -> list[Any]:
    return values if rows is None else [values[i] for i in rows]


def _request_value(value: Any) -> Any:
    if isinstance(value, str):
        return to_utc(datetime.fromisoformat(value))
    return value


def build_table(plan: LogPlan, group: list[Entry], next_id: Callable[[], str]) -> pa.Table:
    """The log rows of a group of lookups of one plan, columns as :mod:`~featurestore.monitoring.log_files`
    says. One pass per column over the answers (``itertools.chain``), so building holds the GIL briefly."""
    entries = [e for e, n in zip(group, _row_counts(group), strict=True) if n]
    sizes = [n for n in _row_counts(entries)]
    answers = [e[1] for e in entries]
    picks = [e[2] for e in entries]
    sampled = any(r is not None for r in picks)

    def column(values_of: Callable[[OnlineResponse], list[Any]]) -> list[Any]:
        if not sampled:
            return list(chain.from_iterable(values_of(a) for a in answers))
        return list(chain.from_iterable(_take(values_of(a), r) for a, r in zip(answers, picks, strict=True)))

    arrays: dict[str, pa.Array] = {
        REQUEST_ID: pa.array(list(chain.from_iterable(repeat(next_id(), n) for n in sizes)), pa.string()),
        LOG_TIME: pa.array(list(chain.from_iterable(repeat(e[3], n) for e, n in zip(entries, sizes, strict=True))),
                           pa.int64()).cast(TIMESTAMP),
    }
    for k, t in plan.keys:
        arrays[k] = pa.array(column(lambda a, k=k: a.keys[k]), t)  # type: ignore[misc]
    for k, t in plan.request_fields:
        taken: list[Any] = []
        for (_, _, rows, _, fields), n in zip(entries, sizes, strict=True):
            got = (fields or {}).get(k)
            taken += _take(got, rows) if got is not None else [None] * n
        arrays.setdefault(k, pa.array([_request_value(v) for v in taken] if pa.types.is_timestamp(t) else taken, t))
    for col, out, t in plan.features:
        arrays[col] = pa.array(column(lambda a, out=out: a.features[out]), t)  # type: ignore[misc]
        arrays[f"{col}__status"] = pa.array(column(lambda a, out=out: a.statuses[out]), STATUS)  # type: ignore[misc]
    for col, name in plan.views:
        arrays.setdefault(col, pa.array(column(lambda a, name=name: _event_times(a, name)),  # type: ignore[misc]
                                        pa.int64()).cast(TIMESTAMP))
    return pa.table(arrays)


def _event_times(answer: OnlineResponse, view: str) -> list[Any]:
    for v in answer.views:
        if v.name == view:
            return list(v.event_times_us)
    return [None] * _n(answer)
