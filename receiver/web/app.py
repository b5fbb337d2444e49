"""Composition root of the HTTP side: routes, middleware and the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ExceptionHandler

from receiver.config.settings import Settings
from receiver.errors import AccessDenied, BadParameter, SourceUnavailable, StoreUnavailable
from receiver.loops.delivery import DeliveryWorker
from receiver.loops.dispatcher import Dispatcher
from receiver.loops.pruner import Pruner
from receiver.loops.rates import RateOptions, RuleRunner, SourceRates, WebhookPath
from receiver.loops.spikes import SpikeWatch
from receiver.loops.sweep_state import StoreSweepState
from receiver.loops.sweeper import Sweeper, start_sweeper
from receiver.metrics import Metrics
from receiver.notifiers.base import Notifier
from receiver.notifiers.registry import build_notifiers, close_all, specs_by_receiver
from receiver.store import Store, open_store
from receiver.supabase.clients import SupabaseClients
from receiver.web.admin import admin_routes
from receiver.web.api import admin_query_routes, user_routes
from receiver.web.api_models import ErrorResponse, error_response
from receiver.web.auth import AdminOnly
from receiver.web.console import console_routes
from receiver.web.console.session import Signer
from receiver.web.context import Services
from receiver.web.incidents import incident_routes
from receiver.web.openapi import openapi_document, openapi_json
from receiver.web.ops import healthz, metrics, readyz
from receiver.web.slack import slack_interactions
from receiver.web.timing import RequestTiming
from receiver.web.webhook import WebhookEndpoint, log_ignored_summaries

log = logging.getLogger("failwatch")


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    notifiers: Mapping[tuple[str, str], Notifier] | None = None,
    clock: Callable[[], float] = time.time,
    insecure_no_auth: bool = False,
) -> Starlette:
    """The ASGI app. Pass `store`, `notifiers` or `clock` to substitute them in tests.

    `insecure_no_auth` (serve's flag) also opens the console without an admin token.
    """
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
    supabase = SupabaseClients.from_settings(settings)
    pruner = Pruner(
        store=services.store,
        policy=settings.retention.policy(),
        interval=settings.retention.interval,
        metrics=services.metrics,
        clock=clock,
    )
    wants_emails = settings.include_user_emails and supabase.auth_admin is not None
    delivery = DeliveryWorker(
        store=services.store,
        notifiers=senders,
        settings=settings.delivery,
        metrics=services.metrics,
        clock=clock,
        emails=supabase.auth_admin.emails if wants_emails and supabase.auth_admin else None,
        stall_after=settings.loop_stall_after,
    )
    services.integrations = specs_by_receiver(settings)
    services.new_notifications = delivery.wake
    dispatcher = Dispatcher(
        store=services.store,
        root=settings.routes(),
        integrations=services.integrations,
        clock=clock,
        budget=settings.budget_limit(),
        metrics=services.metrics,
        on_notifications=delivery.wake.set,
        wake=services.new_failures,
        stall_after=settings.loop_stall_after,
        on_error=services.metrics.loop_errors.labels("dispatcher").inc,
    )
    services.loops = [dispatcher.health, delivery.health]
    # Rule alerts (failure rate, flatline, webhook path, spikes) are judged by one runner.
    runner = RuleRunner(services.store, services.metrics, on_new_failure=services.wake_dispatcher)
    spikes = SpikeWatch(
        runner=runner,
        store=services.store,
        rule=settings.failure_spike.rule(),
        interval=settings.failure_spike.interval,
        metrics=services.metrics,
        clock=clock,
    )
    webhook = WebhookEndpoint(services)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await services.store.open()
        stop = asyncio.Event()
        workers = [
            asyncio.create_task(dispatcher.run(stop), name="failwatch-dispatcher"),
            asyncio.create_task(delivery.run(stop), name="failwatch-delivery"),
            asyncio.create_task(pruner.run(stop), name="failwatch-pruner"),
            asyncio.create_task(
                log_ignored_summaries(webhook.tally, stop), name="failwatch-ignored-summary"
            ),
        ]
        if settings.failure_spike.enabled:  # on the store alone: no source database needed
            workers.append(asyncio.create_task(spikes.run(stop), name="failwatch-failure-spike"))
        sweeper = _start_sweeper(services, supabase, runner)
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
            await supabase.close()
            await services.store.close()
            log.info("failwatch stopped")

    app = Starlette(
        routes=[*routes(settings, webhook), *console_routes()],
        middleware=[Middleware(RequestTiming, metrics=services.metrics)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.supabase = supabase
    app.state.openapi = openapi_document(app.routes)
    app.state.console_signer = Signer(settings, insecure_no_auth=insecure_no_auth)
    return app


def routes(settings: Settings, webhook: WebhookEndpoint) -> list[BaseRoute]:
    """Every endpoint, each path written once (the OpenAPI document is made from these;
    a route's name is its operation id)."""
    return [
        Route("/webhooks/supabase", webhook, methods=["POST"], name="receiveWebhook"),
        Route("/healthz", healthz, methods=["GET"], name="healthz"),
        Route("/readyz", readyz, methods=["GET"], name="readyz"),
        Route("/metrics", metrics, methods=["GET"], name="metrics"),
        Route("/openapi.json", openapi_json, methods=["GET"], name="openapi"),
        Route(
            "/slack/interactions", slack_interactions, methods=["POST"], name="slackInteractions"
        ),
        Mount(
            "/api/admin",
            routes=[*admin_routes(), *incident_routes(), *admin_query_routes()],
            middleware=[Middleware(AdminOnly)],
        ),
        *user_routes(cors_origins=settings.cors_origins),
    ]


async def _access_denied(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AccessDenied)
    headers = {"www-authenticate": "Bearer"} if exc.status == 401 else {}
    return error_response(exc.status, str(exc), **headers)


async def _bad_parameter(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadParameter)
    body = ErrorResponse(error=str(exc), parameter=exc.name)
    return JSONResponse(body.body(), status_code=400)


async def _http_error(request: Request, exc: Exception) -> Response:
    """The router's own refusals (no such path, method not allowed): JSON under /api/,
    in the one error shape every API answer has; plain text elsewhere, as Starlette's."""
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    if request.url.path.startswith("/api/"):
        return error_response(exc.status_code, exc.detail, **(exc.headers or {}))
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


async def _store_unavailable(request: Request, exc: Exception) -> Response:
    return error_response(503, "state store unavailable")


async def _source_unavailable(request: Request, exc: Exception) -> Response:
    return error_response(503, "source database unavailable")


# The rules every handler shares, stated once: who may not ask, and what is down.
EXCEPTION_HANDLERS: Mapping[Any, ExceptionHandler] = {
    HTTPException: _http_error,
    BadParameter: _bad_parameter,
    AccessDenied: _access_denied,
    StoreUnavailable: _store_unavailable,
    SourceUnavailable: _source_unavailable,
}


def _start_sweeper(
    services: Services, supabase: SupabaseClients, runner: RuleRunner
) -> Sweeper | None:
    """The database sweeps run when a source database is configured."""
    if supabase.source is None:
        return None
    return start_sweeper(
        services.settings,
        supabase.source,
        StoreSweepState(services.store),
        services.metrics,
        on_new_failure=services.wake_dispatcher,
        clock=services.clock,
        rates=SourceRates(
            runner,
            RateOptions.from_settings(services.settings),
            stuck_after=services.settings.stuck_after,
        ),
        webhook_path=WebhookPath(
            runner,
            services.store,
            services.metrics,
            pending=services.settings.webhook_path.pending,
            recover_after=services.settings.webhook_path.recover_after,
        ),
    )
