"""Composition root of the HTTP side: routes, middleware and the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from receiver.config import Settings
from receiver.delivery import DeliveryWorker
from receiver.dispatcher import Dispatcher
from receiver.metrics import Metrics
from receiver.notifiers.base import Notifier
from receiver.notifiers.registry import build_notifiers, close_all, specs_by_receiver
from receiver.store import Store, open_store
from receiver.store.sweep_state import StoreSweepState
from receiver.supabase_auth import SupabaseAuthAdmin
from receiver.sweep import Sweeper, start_sweeper
from receiver.web.admin import admin_routes
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
    notifiers: Mapping[tuple[str, str], Notifier] | None = None,
    clock: Callable[[], float] = time.time,
) -> Starlette:
    """The ASGI app. Pass `store`, `notifiers` or `clock` to substitute them in tests."""
    services = Services(
        settings=settings,
        store=store
        if store is not None
        else open_store(
            settings.state_url.get_secret_value(),
            schema=settings.state_schema,
            pool_size=settings.state_pool_size,
        ),
        metrics=Metrics(),
        clock=clock,
    )
    senders = notifiers if notifiers is not None else build_notifiers(settings)
    auth_http, auth_admin = _user_emails(settings)
    delivery = DeliveryWorker(
        store=services.store,
        notifiers=senders,
        settings=settings.delivery,
        metrics=services.metrics,
        clock=clock,
        emails=auth_admin.emails if auth_admin is not None else None,
    )
    dispatcher = Dispatcher(
        store=services.store,
        root=settings.routes(),
        integrations=specs_by_receiver(settings),
        clock=clock,
        on_notifications=delivery.wake.set,
        wake=services.new_failures,
    )
    query_api = QueryAPI.from_settings(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await services.store.open()
        stop = asyncio.Event()
        workers = [
            asyncio.create_task(dispatcher.run(stop), name="failwatch-dispatcher"),
            asyncio.create_task(delivery.run(stop), name="failwatch-delivery"),
        ]
        sweeper = _start_sweeper(services)
        log.info("failwatch started", extra={"state": settings.state_kind()})
        try:
            yield
        finally:
            # In-flight requests are done (uvicorn waits for them); stop the sweeper, let
            # the workers finish their pass so nothing is left half-sent, and close the
            # store last.
            if sweeper is not None:
                await sweeper.stop()
            stop.set()
            await asyncio.gather(*workers, return_exceptions=True)
            await close_all(senders)
            if auth_http is not None:
                await auth_http.aclose()
            await query_api.close()
            await services.store.close()
            log.info("failwatch stopped")

    routes = [
        Route("/webhooks/supabase", receive_webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *admin_routes(),
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


def _user_emails(
    settings: Settings,
) -> tuple[httpx.AsyncClient, SupabaseAuthAdmin] | tuple[None, None]:
    """The Auth admin lookup of users' e-mails for alerts, only when they are wanted."""
    key = settings.supabase_service_role_key
    if not settings.include_user_emails or not settings.supabase_url or key is None:
        return None, None
    http = httpx.AsyncClient(timeout=httpx.Timeout(5.0), follow_redirects=False)
    admin = SupabaseAuthAdmin(project_url=settings.supabase_url, service_role_key=key, http=http)
    return http, admin


def _start_sweeper(services: Services) -> Sweeper | None:
    """The database sweeps run when a source database is configured."""
    if services.settings.database_url is None:
        return None
    return start_sweeper(
        services.settings,
        StoreSweepState(services.store),
        services.metrics,
        on_new_failure=services.wake_dispatcher,
        clock=services.clock,
    )
