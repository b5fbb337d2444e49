"""An open-loop load generator: request i leaves at `start + schedule[i]`, whatever
happened to the requests before it, and its latency is counted from that planned moment.

The alerting suite needs a fixed, moderate rate (10,000 failures in 60 s), the webhook
suite a steady 1,000 failures a second; both need per-request
answers (which group, accepted or not, when) and honest latencies while the server is
busy delivering. wrk 4 cannot do that: it has no fixed-rate mode, and slowing its closed
loop with Lua `delay()` means a stalled server also stalls the sender, so a stall shows
up as one slow request instead of all the requests that should have left meanwhile
(coordinated omission). Here a stall shows up in every request planned during it.

The cost of a Python client: its own scheduling delay is part of each measured latency,
so the numbers are an upper bound (the lateness of each send is recorded to show it);
hence plain asyncio streams on uvloop, not an HTTP client library.
It runs as a child process — `python -m tests.bench.openloop PLAN.json RESULT.json` — so
the benchmark's own threads (the Slack stand-in) never hold its GIL.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
import urllib.parse
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import uvloop

from tests.bench.payloads import ID_PLACEHOLDER

USER_PLACEHOLDER = "@@USER_ID@@"

REQUEST_TIMEOUT = 10.0
# Below failwatch's keep-alive (`http.idle_timeout`, 5 s), with room for a busy moment.
KEEP_ALIVE_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Plan:
    url: str  # the webhook's full URL
    headers: dict[str, str]
    # Body templates by tag (a group's name); each request gets a new generation id and
    # the next user of `users` (in turn) in place of USER_PLACEHOLDER.
    templates: dict[str, str]
    users: list[str]
    # (seconds after the start, tag) for every request, in time order.
    schedule: list[tuple[float, str]]
    max_connections: int


@dataclass(frozen=True, slots=True)
class Sent:
    tag: str
    planned: float  # seconds after the start
    lateness: float  # seconds between the planned moment and the request leaving
    latency: float  # seconds between the planned moment and the answer
    status: int  # HTTP status, 0 for a transport error
    outcome: str  # the answer's `status` field, or the transport error's type


@dataclass(frozen=True, slots=True)
class LoadResult:
    started_at: float  # wall clock (time.time()) of the schedule's zero
    sent: list[Sent]
    cpu_seconds: float  # the generator's own CPU time

    def answered_at(self, sent: Sent) -> float:
        """Wall-clock time of an answer."""
        return self.started_at + sent.planned + sent.latency


def write_plan(plan: Plan, path: Path) -> None:
    path.write_text(json.dumps(asdict(plan)))


def read_result(path: Path) -> LoadResult:
    data = json.loads(path.read_text())
    return LoadResult(
        started_at=float(data["started_at"]),
        sent=[Sent(**item) for item in data["sent"]],
        cpu_seconds=float(data["cpu_seconds"]),
    )


def _read_plan(path: Path) -> Plan:
    data = json.loads(path.read_text())
    return Plan(
        url=data["url"],
        headers=dict(data["headers"]),
        templates=dict(data["templates"]),
        users=[str(user) for user in data["users"]],
        schedule=[(float(at), str(tag)) for at, tag in data["schedule"]],
        max_connections=int(data["max_connections"]),
    )


async def run(plan: Plan) -> LoadResult:
    connections = _Connections(plan)
    try:
        await connections.warm_up()
        # perf_counter, not loop.time(): uvloop's clock moves in whole milliseconds.
        started_at, start = time.time(), time.perf_counter()
        tasks: list[asyncio.Task[Sent]] = []
        for index, (offset, tag) in enumerate(plan.schedule):
            wait = start + offset - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            body = (
                plan.templates[tag]
                .replace(ID_PLACEHOLDER, str(uuid.uuid4()))
                .replace(USER_PLACEHOLDER, plan.users[index % len(plan.users)])
            )
            tasks.append(asyncio.create_task(_send(connections, tag, body, start, offset)))
        sent = await asyncio.gather(*tasks)
    finally:
        connections.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return LoadResult(
        started_at=started_at, sent=list(sent), cpu_seconds=usage.ru_utime + usage.ru_stime
    )


async def _send(
    connections: _Connections, tag: str, body: str, start: float, offset: float
) -> Sent:
    planned = left = start + offset
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            connection = await connections.take()
            left = time.perf_counter()
            try:
                status, answer = await connection.post(body.encode())
            except BaseException:
                connection.close()
                raise
            connections.give_back(connection)
        decoded = json.loads(answer) if status < 500 and answer else {}
        outcome = str(decoded.get("status") or decoded.get("error") or "")
    except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError) as exc:
        status, outcome = 0, type(exc).__name__
    done = time.perf_counter()
    return Sent(
        tag=tag,
        planned=offset,
        lateness=left - planned,
        latency=done - planned,
        status=status,
        outcome=outcome,
    )


class _Connections:
    """Up to `max_connections` keep-alive HTTP/1.1 connections, one request at a time on
    each. Plain asyncio streams on uvloop rather than an HTTP client library: at 1,000
    requests a second the sender's own cost per request is part of every latency it
    reports, and httpx's (some hundreds of µs of CPU) made it fall seconds behind."""

    def __init__(self, plan: Plan) -> None:
        url = urllib.parse.urlsplit(plan.url)
        self._host, self._port = url.hostname or "127.0.0.1", url.port or 80
        headers = {"Host": url.netloc, **plan.headers}
        self._head = f"POST {url.path} HTTP/1.1\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        self._idle: list[_Connection] = []
        self._open = 0
        self._loop = asyncio.get_running_loop()
        self._limit = plan.max_connections
        self._freed = asyncio.Condition()

    async def warm_up(self) -> None:
        """A few connections opened first, so the schedule does not start with connects."""
        for _ in range(min(4, self._limit)):
            self.give_back(await self._connect())

    async def take(self) -> _Connection:
        self._close_stale()
        if self._idle:
            return self._idle.pop()
        if self._open < self._limit:
            return await self._connect()
        async with self._freed:
            await self._freed.wait_for(lambda: bool(self._idle))
            return self._idle.pop()

    def give_back(self, connection: _Connection) -> None:
        connection.idle_since = self._loop.time()
        self._idle.append(connection)
        asyncio.get_running_loop().create_task(self._notify())

    def _close_stale(self) -> None:
        """Close what sat idle near the server's keep-alive timeout, as HTTP clients do
        (a keep-alive timeout below the server's): a request sent on a connection the
        server is closing that moment is lost in transit — the client's fault, not the
        server's, and not what this run measures. The idle list is oldest first."""
        stale_before = self._loop.time() - KEEP_ALIVE_SECONDS
        while self._idle and self._idle[0].idle_since < stale_before:
            self._idle.pop(0).close()

    async def _notify(self) -> None:
        async with self._freed:
            self._freed.notify()

    async def _connect(self) -> _Connection:
        self._open += 1
        try:
            reader, writer = await asyncio.open_connection(self._host, self._port)
        except BaseException:
            self._open -= 1
            raise
        return _Connection(self, reader, writer)

    def closed(self) -> None:
        self._open -= 1

    def head(self, length: int) -> bytes:
        return f"{self._head}Content-Length: {length}\r\n\r\n".encode()

    def close(self) -> None:
        for connection in self._idle:
            connection.close()


class _Connection:
    def __init__(
        self, pool: _Connections, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._pool, self._reader, self._writer = pool, reader, writer
        self.idle_since = 0.0

    async def post(self, body: bytes) -> tuple[int, bytes]:
        """Send one request; its status and body."""
        self._writer.write(self._pool.head(len(body)) + body)
        head = await self._reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return status, await self._reader.readexactly(length)

    def close(self) -> None:
        self._writer.close()
        self._pool.closed()


def main() -> None:
    plan_path, result_path = (Path(arg) for arg in sys.argv[1:3])
    result = uvloop.run(run(_read_plan(plan_path)))
    result_path.write_text(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()
