"""An open-loop load generator: request i leaves at `start + schedule[i]`, whatever
happened to the requests before it, and its latency is counted from that planned moment.

The alerting suite needs a fixed, moderate rate (10,000 failures in 60 s), per-request
answers (which group, accepted or not, when) and honest latencies while the server is
busy delivering. wrk 4 cannot do that: it has no fixed-rate mode, and slowing its closed
loop with Lua `delay()` means a stalled server also stalls the sender, so a stall shows
up as one slow request instead of all the requests that should have left meanwhile
(coordinated omission). Here a stall shows up in every request planned during it.

The cost of a Python client: its own scheduling delay is part of each measured latency,
so the numbers are an upper bound (the lateness of each send is recorded to show it).
It runs as a child process — `python -m tests.bench.openloop PLAN.json RESULT.json` — so
the benchmark's own threads (the Slack stand-in) never hold its GIL.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from tests.bench.payloads import ID_PLACEHOLDER

USER_PLACEHOLDER = "@@USER_ID@@"

REQUEST_TIMEOUT = 10.0


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
    limits = httpx.Limits(
        max_connections=plan.max_connections, max_keepalive_connections=plan.max_connections
    )
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT, limits=limits, trust_env=False) as client:
        await _warm_up(client, plan)
        loop = asyncio.get_running_loop()
        started_at, start = time.time(), loop.time()
        tasks: list[asyncio.Task[Sent]] = []
        for index, (offset, tag) in enumerate(plan.schedule):
            wait = start + offset - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            body = (
                plan.templates[tag]
                .replace(ID_PLACEHOLDER, str(uuid.uuid4()))
                .replace(USER_PLACEHOLDER, plan.users[index % len(plan.users)])
            )
            tasks.append(asyncio.create_task(_send(client, plan, tag, body, start, offset)))
        sent = await asyncio.gather(*tasks)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return LoadResult(
        started_at=started_at, sent=list(sent), cpu_seconds=usage.ru_utime + usage.ru_stime
    )


async def _warm_up(client: httpx.AsyncClient, plan: Plan) -> None:
    # Open a few keep-alive connections first, so the burst does not start with connects.
    base = plan.url.split("/", 3)
    health = f"{base[0]}//{base[2]}/healthz"
    await asyncio.gather(*(client.get(health) for _ in range(min(4, plan.max_connections))))


async def _send(
    client: httpx.AsyncClient, plan: Plan, tag: str, body: str, start: float, offset: float
) -> Sent:
    loop = asyncio.get_running_loop()
    left = loop.time()
    try:
        response = await client.post(plan.url, content=body, headers=plan.headers)
        status = response.status_code
        answer = response.json() if status < 500 else {}
        outcome = str(answer.get("status") or answer.get("error") or "")
    except httpx.HTTPError as exc:
        status, outcome = 0, type(exc).__name__
    done = loop.time()
    planned = start + offset
    return Sent(
        tag=tag,
        planned=offset,
        lateness=left - planned,
        latency=done - planned,
        status=status,
        outcome=outcome,
    )


def main() -> None:
    plan_path, result_path = (Path(arg) for arg in sys.argv[1:3])
    result = asyncio.run(run(_read_plan(plan_path)))
    result_path.write_text(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()
