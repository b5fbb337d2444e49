"""Liveness, readiness and metrics."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from receiver import __version__
from receiver.errors import StoreUnavailable
from receiver.web.context import services_of


async def healthz(request: Request) -> Response:
    """The process is alive and serving (says nothing about its dependencies)."""
    return JSONResponse({"status": "ok", "version": __version__})


async def readyz(request: Request) -> Response:
    """Ready to accept webhooks: the state store answers."""
    try:
        await services_of(request).store.ping()
    except StoreUnavailable:
        return JSONResponse({"status": "unavailable", "store": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ready", "store": "ok"})


async def metrics(request: Request) -> Response:
    registry = services_of(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
