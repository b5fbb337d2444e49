"""Composition root of the HTTP side: routes, middleware and the lifespan."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from receiver.config import Settings
from receiver.metrics import Metrics
from receiver.store import Store, open_store
from receiver.web.api import api_routes
from receiver.web.context import Services
from receiver.web.openapi import openapi_json
from receiver.web.ops import healthz, metrics, readyz
from receiver.web.query_api import QueryAPI
from receiver.web.timing import RequestTiming
from receiver.web.webhook import receive_webhook

log = logging.getLogger("failwatch")


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The ASGI app. Pass `store` or `clock` to substitute them in tests."""
    services = Services(
        settings=settings,
        store=store if store is not None else open_store(settings.state_url),
        metrics=Metrics(),
        clock=clock,
    )
    query_api = QueryAPI.from_settings(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await services.store.open()
        log.info("failwatch started", extra={"state": _state_kind(settings.state_url)})
        try:
            yield
        finally:
            await query_api.close()
            await services.store.close()
            log.info("failwatch stopped")

    routes = [
        Route("/webhooks/supabase", receive_webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        *api_routes(cors_origins=settings.cors_origins),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestTiming, metrics=services.metrics)],
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.query_api = query_api
    return app


def _state_kind(url: str) -> str:
    # Only the scheme: a PostgreSQL URL may carry a password.
    return url.partition(":")[0]
