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
from receiver.sweep import Sweeper, SweepState, start_sweeper
from receiver.web.context import Services
from receiver.web.ops import healthz, metrics, readyz
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

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await services.store.open()
        sweeper = _start_sweeper(services)
        log.info("failwatch started", extra={"state": _state_kind(settings.state_url)})
        try:
            yield
        finally:
            if sweeper is not None:
                await sweeper.stop()
            await services.store.close()
            log.info("failwatch stopped")

    routes = [
        Route("/webhooks/supabase", receive_webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestTiming, metrics=services.metrics)],
        lifespan=lifespan,
    )
    app.state.services = services
    return app


def _start_sweeper(services: Services) -> Sweeper | None:
    """The database sweeps run when a source database is configured."""
    if services.settings.database_url is None:
        return None
    if not isinstance(services.store, SweepState):
        log.warning("this state store cannot hold sweep state; the sweeps are off")
        return None
    return start_sweeper(
        services.settings,
        services.store,
        services.metrics,
        on_new_failure=services.wake_dispatcher,
        clock=services.clock,
    )


def _state_kind(url: str) -> str:
    # Only the scheme: a PostgreSQL URL may carry a password.
    return url.partition(":")[0]
