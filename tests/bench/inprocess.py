"""The webhook's paths driven in-process: the ASGI app called directly, no sockets.

`failwatch`'s app (`create_app`, a real SQLite store in a temporary directory, the
webhook secret set, JSON logs on this process's stderr as `serve` writes them) gets the
same requests the webhook suite sends, 32 at a time, path by path:

- floor: a do-nothing ASGI app — what this driver itself costs per request;
- bare: the benchmark's bare Starlette endpoint (`tests.bench.bare_app`: parse, 202);
- failure: a new failure per request, each committed before its 202;
- duplicate: the failures of the `failure` path sent again (answered `duplicate`);
- ignored: a `completed` update (answered 202 `ignored`);
- unauthorized: a failure with a wrong secret (401).

Every answer is checked (status and body); a path that answers anything else stops the
run. The dispatcher, the delivery worker and the sweeper are not started (only the store
is opened): they run on timers, so under a slowed-down process they would do more or
less work per request depending on speed, and this measures the request path alone.

Each path is warmed up first, then measured between two marks:
`sys.getswitchinterval()` before and `sys.getallocatedblocks()` after, two calls nothing
else in the process makes. Under callgrind (`tests.bench.instructions`), which zeroes its
counters on entering the first and dumps them on entering the second, each dump holds
one path's instructions, all threads included (the SQLite writer's too). Without
valgrind, the driver prints the CPU time per request of each path instead:
`python -m tests.bench.inprocess --requests 20000`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop

from receiver import logs
from receiver.config.settings import load_settings
from receiver.web.app import create_app
from receiver.web.context import Services
from tests.bench.bare_app import app as bare_app
from tests.bench.payloads import ID_PLACEHOLDER, WEBHOOK_PATH, completed_body, failure_body

PATHS = ("floor", "bare", "failure", "duplicate", "ignored", "unauthorized")
CONCURRENCY = 32
SECRET = "bench-instructions-secret"

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class PathRun:
    """One measured path: the requests sent, and the CPU seconds they took (process-wide,
    all threads; meaningless under valgrind, where the instruction count is the measure)."""

    path: str
    requests: int
    cpu_seconds: float
    wall_seconds: float
    commits: int


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.inprocess", description=__doc__)
    parser.add_argument("--requests", type=int, default=10_000, help="measured, per path")
    parser.add_argument("--warmup", type=int, default=1_000, help="unmeasured, per path")
    parser.add_argument("--paths", default=",".join(PATHS), help="comma-separated subset")
    parser.add_argument("--json", action="store_true", help="one JSON line per path on stdout")
    args = parser.parse_args(argv)
    paths = [p for p in args.paths.split(",") if p]
    unknown = set(paths) - set(PATHS)
    if unknown:
        parser.error(f"unknown paths: {', '.join(sorted(unknown))}")
    if "duplicate" in paths and "failure" not in paths:
        parser.error("the duplicate path resends the failure path's bodies: add failure")
    runs = uvloop.run(_drive_all(paths, requests=args.requests, warmup=args.warmup))
    for run in runs:
        if args.json:
            print(json.dumps(_as_dict(run)))
        else:
            print(
                f"{run.path:<13} {run.requests:6d} requests  "
                f"{run.cpu_seconds / run.requests * 1e6:8.1f} µs CPU/request  "
                f"{run.wall_seconds / run.requests * 1e6:8.1f} µs wall/request"
                + (f"  {run.requests / run.commits:5.1f} per commit" if run.commits else "")
            )
    return 0


def _as_dict(run: PathRun) -> dict[str, object]:
    return {name: getattr(run, name) for name in PathRun.__slots__}


async def _drive_all(paths: Sequence[str], *, requests: int, warmup: int) -> list[PathRun]:
    with tempfile.TemporaryDirectory(prefix="failwatch-inprocess-") as tmp:
        logs.configure("info")
        app = create_app(
            load_settings(
                state_url=f"sqlite:///{Path(tmp) / 'failwatch.db'}", webhook_secret=SECRET
            )
        )
        services: Services = app.state.services
        commits = _count_commits(services)
        workloads = _workloads(requests=requests, warmup=warmup)
        # As `serve` does once the app is built: the start-up objects (and here the
        # prepared requests) out of the GC's reach.
        gc.collect()
        gc.freeze()
        await services.store.open()
        try:
            for path in paths:
                await _send(_app_of(path, app), workloads[path].warmup, workloads[path].expect)
            # An empty section first: callgrind's first dump carries some start-up cost
            # of its own, which is thus kept out of the first path.
            sys.getswitchinterval()
            sys.getallocatedblocks()
            runs = []
            for path in paths:
                workload = workloads[path]
                runs.append(await _measure(path, _app_of(path, app), workload, commits))
            return runs
        finally:
            await services.store.close()


@dataclass(frozen=True, slots=True)
class _Workload:
    warmup: list[tuple[list[tuple[bytes, bytes]], bytes]]
    measured: list[tuple[list[tuple[bytes, bytes]], bytes]]
    expect: tuple[int, bytes]


def _workloads(*, requests: int, warmup: int) -> dict[str, _Workload]:
    good = _headers(SECRET)
    failures = [(good, body) for body in _bodies(failure_body(), "f", requests)]
    completed = completed_body().encode()
    wrong = _headers("not-the-secret")
    accepted = (202, b'{"status":"accepted"}')

    def new_failures(prefix: str) -> list[tuple[list[tuple[bytes, bytes]], bytes]]:
        return [(good, body) for body in _bodies(failure_body(), prefix, warmup)]

    return {
        "floor": _Workload(new_failures("w0"), failures, accepted),
        "bare": _Workload(new_failures("w1"), failures, accepted),
        "failure": _Workload(new_failures("w2"), failures, accepted),
        # The failure path's bodies again: its warm-up's, then its measured ones.
        "duplicate": _Workload(new_failures("w2"), failures, (202, b'{"status":"duplicate"}')),
        "ignored": _Workload(
            [(good, completed)] * warmup,
            [(good, completed)] * requests,
            (202, b'{"status":"ignored","reason":"not_failed"}'),
        ),
        "unauthorized": _Workload(
            [(wrong, failures[0][1])] * warmup,
            [(wrong, failures[0][1])] * requests,
            (401, b'{"error":"unauthorized"}'),
        ),
    }


def _bodies(template: str, prefix: str, n: int) -> list[bytes]:
    """`n` bodies of `template`, each with its own UUID-shaped generation id; the same
    prefix gives the same ids, so a later path can send them again."""
    head = f"{prefix.encode().hex():0>8}"[:8]
    return [
        template.replace(ID_PLACEHOLDER, f"{head}-0000-4000-8000-{i:012x}").encode()
        for i in range(n)
    ]


def _headers(secret: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"host", b"failwatch"),
        (b"user-agent", b"pg_net/0.14.0"),
        (b"content-type", b"application/json"),
        (b"x-supabase-webhook-source", secret.encode()),
    ]


def _app_of(path: str, app: ASGIApp) -> ASGIApp:
    if path == "floor":
        return _floor_app
    if path == "bare":
        return bare_app
    return app


async def _floor_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 202, "headers": []})
    await send({"type": "http.response.body", "body": b'{"status":"accepted"}'})


async def _measure(path: str, app: ASGIApp, workload: _Workload, commits: Counter[str]) -> PathRun:
    commits_before = commits["n"]
    cpu, wall = time.process_time(), time.perf_counter()
    sys.getswitchinterval()  # mark: start (callgrind zeroes its counters here)
    await _send(app, workload.measured, workload.expect)
    sys.getallocatedblocks()  # mark: end (callgrind dumps this path's counters here)
    return PathRun(
        path=path,
        requests=len(workload.measured),
        cpu_seconds=time.process_time() - cpu,
        wall_seconds=time.perf_counter() - wall,
        commits=commits["n"] - commits_before,
    )


async def _send(
    app: ASGIApp, requests: list[tuple[list[tuple[bytes, bytes]], bytes]], expect: tuple[int, bytes]
) -> None:
    """Send `requests` with CONCURRENCY in flight, like wrk's connections; every answer
    must be `expect`."""
    answers: Counter[tuple[int, bytes]] = Counter()
    pending = iter(requests)
    await asyncio.gather(*(_client(app, pending, answers) for _ in range(CONCURRENCY)))
    if set(answers) != {expect}:
        raise SystemExit(f"expected every answer to be {expect}, got {dict(answers)}")


async def _client(
    app: ASGIApp,
    pending: Iterator[tuple[list[tuple[bytes, bytes]], bytes]],
    answers: Counter[tuple[int, bytes]],
) -> None:
    for headers, body in pending:
        answers[await _call(app, headers, body)] += 1


async def _call(app: ASGIApp, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": WEBHOOK_PATH,
        "raw_path": WEBHOOK_PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [*headers, (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    delivered = False
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def _count_commits(services: Services) -> Counter[str]:
    """Counts the SQLite writer's transactions (the mean batch size explains the failure
    path's count); a few hundred instructions per commit, shared by its batch."""
    count: Counter[str] = Counter()
    writer = getattr(services.store, "_writer", None)
    if writer is None:
        return count
    transaction = writer._transaction

    def counted(works: list[Any]) -> list[Any]:
        count["n"] += 1
        results: list[Any] = transaction(works)
        return results

    writer._transaction = counted
    return count


if __name__ == "__main__":
    raise SystemExit(main())
