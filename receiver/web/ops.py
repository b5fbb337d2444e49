"""Liveness, readiness and metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Literal

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from receiver import __version__
from receiver.errors import StoreUnavailable
from receiver.store import readiness
from receiver.web.api_models import Readiness
from receiver.web.context import Services, services_of

log = logging.getLogger("failwatch.ready")

# A store that cannot commit within this is not ready (a probe times out after 1 s by
# default in Kubernetes; an answer, even 503, is better than none).
PROBE_TIMEOUT = 0.9
# A dispatcher pass this recent shows the store commits.
COMMITTED_LATELY = 5.0


async def healthz(request: Request) -> Response:
    """The process is alive and serving (says nothing about its dependencies)."""
    return JSONResponse({"status": "ok", "version": __version__})


async def readyz(request: Request) -> Response:
    """Ready to accept webhooks: the state store commits a write, and the dispatcher and
    the delivery worker are making progress (else what is accepted is never sent)."""
    services = services_of(request)
    now = time.monotonic()
    store: Literal["ok", "cannot commit"] = "ok"
    if not _committed_lately(services, now):
        try:
            await asyncio.wait_for(
                services.store.write(
                    lambda tx: readiness.touch(tx, services.replica, now=services.clock())
                ),
                PROBE_TIMEOUT,
            )
        except (StoreUnavailable, TimeoutError):
            store = "cannot commit"
    loops = {health.name: health.problem(now) or "ok" for health in services.loops}
    _log_changes(services, loops)
    ready = store == "ok" and all(state == "ok" for state in loops.values())
    body = Readiness(status="ready" if ready else "unavailable", store=store, loops=loops)
    return JSONResponse(body.body(), status_code=200 if ready else 503)


def _committed_lately(services: Services, now: float) -> bool:
    """Whether the store committed for us just now: every dispatcher pass is three write
    transactions, so a recent pass is the probe's answer without adding a write (and its
    fsync) that would queue behind the others when the store is only busy."""
    return any(
        health.name == "dispatcher"
        and health.last_success is not None
        and now - health.last_success <= COMMITTED_LATELY
        for health in services.loops
    )


def _log_changes(services: Services, loops: dict[str, str]) -> None:
    """A loop that stalls is logged once, and once more when it recovers."""
    for name, state in loops.items():
        stalled = state != "ok"
        if stalled and name not in services.stalled:
            log.error("background loop stalled", extra={"loop": name, "problem": state})
            services.stalled.add(name)
        elif not stalled and name in services.stalled:
            log.info("background loop recovered", extra={"loop": name})
            services.stalled.discard(name)


async def metrics(request: Request) -> Response:
    registry = services_of(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
