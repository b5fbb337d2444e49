"""A webhook in flight across a stop: what a graceful shutdown must still answer.

Shared by the SIGTERM test of a `failwatch serve` process and by the container test, which
stop the server in their own way (a signal to the process, `kill` through the engine).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable

import httpx

STOP_NOTICED_WITHIN = 10.0  # seconds from SIGTERM until new connections are refused
HOLD_AFTER_STOP = 1.0  # seconds the in-flight request's body is held after the stop began


def failure_body(generation_id: str) -> bytes:
    return json.dumps(
        {
            "type": "UPDATE",
            "table": "generations",
            "schema": "public",
            "record": {
                "id": generation_id,
                "status": "failed",
                "model_id": "flux-pro",
                "parameters": {"error": f"Rate limit exceeded (429) for {generation_id}"},
            },
            "old_record": {"id": generation_id, "status": "processing"},
        }
    ).encode()


async def _held_body(
    first: bytes, rest: bytes, sent: asyncio.Event, release: asyncio.Event
) -> AsyncIterator[bytes]:
    yield first
    sent.set()
    await release.wait()
    yield rest


async def refusing_connections(base_url: str) -> None:
    """Wait until a new connection is refused or dropped unanswered: the server has begun
    its shutdown (uvicorn closes the listener and asks open connections to finish in one
    step), so the requests in flight are now the ones it must finish."""
    async with httpx.AsyncClient(base_url=base_url, timeout=1.0, trust_env=False) as probe:
        while True:
            try:
                await probe.get("/healthz", headers={"connection": "close"})
            except httpx.TimeoutException:
                continue
            except httpx.TransportError:
                return
            await asyncio.sleep(0.01)


async def in_flight_across_stop(
    client: httpx.AsyncClient,
    *,
    headers: dict[str, str],
    stop: Callable[[], object],
    generation_id: str = "gen-in-flight",
) -> tuple[httpx.Response, float]:
    """Send one webhook whose headers are in but whose body is not, `stop()` the server,
    wait until it refuses new connections, then finish the body. Returns the answer to the
    held request and the monotonic time of the stop."""
    body = failure_body(generation_id)
    sent, release = asyncio.Event(), asyncio.Event()
    in_flight = asyncio.create_task(
        client.post(
            "/webhooks/supabase",
            content=_held_body(body[:20], body[20:], sent, release),
            headers=headers,
        )
    )
    await sent.wait()
    # A later request answered on another connection: by then the server has read the
    # held request's headers (both arrived at the same listener, in this order).
    base_url = str(client.base_url)
    async with httpx.AsyncClient(base_url=base_url, trust_env=False) as other:
        assert (await other.get("/healthz")).status_code == 200

    stop()
    stopped_at = time.monotonic()
    async with asyncio.timeout(STOP_NOTICED_WITHIN):
        await refusing_connections(base_url)
    # Keep it in flight well into the shutdown (uvicorn itself pauses 0.1 s before it
    # starts to wait for requests), so only a graceful server can still answer it.
    await asyncio.sleep(HOLD_AFTER_STOP)
    release.set()
    return await in_flight, stopped_at
