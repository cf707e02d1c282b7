"""A closed-loop HTTP/1.1 load generator, run in its own process: ``python -m bench.loadgen``.

Each of ``--connections`` keep-alive connections sends the same POST and waits for the answer
before sending the next one (so one connection measures sequential latency, several measure
throughput under load). It reads answers by ``Content-Length`` or chunked encoding, counts
non-200 answers as errors, and prints one JSON object::

    {"requests": 10432, "errors": 0, "seconds": 5.0, "rps": 2086.4, "p50_ms": 0.41, "p99_ms": 0.62,
     "answer_bytes": 1137}

Standard library only (uvloop if importable), so its own cost is small and the same for every
server it measures. ``--save-answer FILE`` writes the first answer body, so the caller can check
the server answered with data and not an error.

    python -m bench.loadgen http://127.0.0.1:6566/get-online-features --body body.json \\
        --connections 8 --seconds 5 --warmup 1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from urllib.parse import urlsplit


def build_request(url: str, body: bytes, accept: str) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    head = (f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Accept: {accept}\r\nContent-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n")
    return host, port, head.encode() + body


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunks.append(await reader.readexactly(size + 2))
            if size == 0:
                return status, b"".join(chunks)
    raise RuntimeError(f"answer without Content-Length nor chunked encoding: {lines[0]}")


class Run:
    def __init__(self, warmup_until: float, stop_at: float, max_requests: int) -> None:
        self.warmup_until, self.stop_at, self.max_requests = warmup_until, stop_at, max_requests
        self.latencies: list[float] = []
        self.errors = 0
        self.first_error = ""
        self.answer = b""
        self.started = 0.0
        self.sent = 0  # measured requests sent, answered or not

    def done(self, now: float) -> bool:
        return now >= self.stop_at or self.sent >= self.max_requests


async def connection(run: Run, host: str, port: int, request: bytes) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            t0 = time.perf_counter()
            if run.done(t0):
                return
            measured = t0 >= run.warmup_until
            run.sent += measured
            writer.write(request)
            status, body = await read_answer(reader)
            t1 = time.perf_counter()
            if not measured:
                continue
            if not run.started:
                run.started = t0
            if status == 200:
                run.latencies.append(t1 - t0)
                run.answer = run.answer or body
            else:
                run.errors += 1
                run.first_error = run.first_error or f"{status} {body[:300]!r}"
    finally:
        writer.close()


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    body = Path(args.body).read_bytes()
    host, port, request = build_request(args.url, body, args.accept)
    now = time.perf_counter()
    run = Run(now + args.warmup, now + args.warmup + args.seconds if args.seconds else float("inf"),
              args.requests or 1 << 62)
    await asyncio.gather(*(connection(run, host, port, request) for _ in range(args.connections)))
    elapsed = time.perf_counter() - (run.started or time.perf_counter())
    ordered = sorted(run.latencies)
    if not ordered:
        raise SystemExit(f"no successful answer from {args.url}: {run.first_error}")
    if args.save_answer:
        Path(args.save_answer).write_bytes(run.answer)
    return {"requests": len(ordered), "errors": run.errors, "first_error": run.first_error, "seconds": elapsed,
            "connections": args.connections, "rps": len(ordered) / elapsed if elapsed else 0.0,
            "p50_ms": ordered[len(ordered) // 2] * 1000,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
            "answer_bytes": len(run.answer), "client": "loadgen"}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Closed-loop HTTP/1.1 POST load generator.")
    p.add_argument("url")
    p.add_argument("--body", required=True, help="file holding the request body (JSON)")
    p.add_argument("--accept", default="application/json")
    p.add_argument("--connections", type=int, default=1)
    p.add_argument("--seconds", type=float, default=0.0, help="measure this long (after the warmup)")
    p.add_argument("--requests", type=int, default=0, help="or stop after this many answers")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of unmeasured requests first")
    p.add_argument("--save-answer", default="", help="write the first 200 answer's body here")
    args = p.parse_args(argv)
    if not (args.seconds or args.requests):
        p.error("give --seconds or --requests")
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        result = asyncio.run(main_async(args))
    else:
        result = uvloop.run(main_async(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
