"""Liveness, readiness and metrics."""

from __future__ import annotations

import logging
import time
from typing import Literal

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from receiver import __version__
from receiver.errors import StoreUnavailable
from receiver.web.api_models import Readiness
from receiver.web.context import Services, services_of

log = logging.getLogger("failwatch.ready")


async def healthz(request: Request) -> Response:
    """The process is alive and serving (says nothing about its dependencies)."""
    return JSONResponse({"status": "ok", "version": __version__})


async def readyz(request: Request) -> Response:
    """Ready to accept webhooks: the state store answers, and the dispatcher and the
    delivery worker are making progress — their passes are write transactions, so a store
    that answers reads but cannot commit stalls them, and accepting webhooks that nobody
    will be told about is not ready."""
    services = services_of(request)
    store: Literal["ok", "unreachable"] = "ok"
    try:
        await services.store.ping()
    except StoreUnavailable:
        store = "unreachable"
    now = time.monotonic()
    loops = {health.name: health.problem(now) or "ok" for health in services.loops}
    _log_changes(services, loops)
    ready = store == "ok" and all(state == "ok" for state in loops.values())
    body = Readiness(status="ready" if ready else "unavailable", store=store, loops=loops)
    return JSONResponse(body.body(), status_code=200 if ready else 503)


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
