"""What the handlers share: settings, store, metrics, the clock (injected for tests), and
the process's one set of connections to Supabase."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from starlette.requests import Request

from receiver.config.integrations import IntegrationSpec
from receiver.config.settings import Settings
from receiver.loops.health import LoopHealth
from receiver.metrics import Metrics
from receiver.store import Store
from receiver.supabase.clients import SupabaseClients


@dataclass(slots=True)
class Services:
    settings: Settings
    store: Store
    metrics: Metrics
    clock: Callable[[], float]
    # Set when the sweeper found failures, so the dispatcher takes them without waiting
    # for its next tick. The webhook does not set it: group_wait makes a tick's delay
    # irrelevant, and a wake per request would cost a dispatcher pass per request.
    new_failures: asyncio.Event = field(default_factory=asyncio.Event)
    # Decoded once: the check runs on every webhook.
    webhook_secrets: list[bytes] = field(default_factory=list)
    # The background loops whose progress readiness reports (dispatcher, delivery).
    loops: list[LoopHealth] = field(default_factory=list)
    # Loops readiness has seen stalled (logged once when they stall and when they recover).
    stalled: set[str] = field(default_factory=set)
    # Every receiver's integrations: where an action on an incident is told.
    integrations: Mapping[str, Sequence[IntegrationSpec]] = field(default_factory=dict)
    # Set when a request wrote to the outbox (an action), so the delivery worker sends
    # the message update now rather than at its next poll.
    new_notifications: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.webhook_secrets = self.settings.webhook_secrets()

    def wake_dispatcher(self) -> None:
        self.new_failures.set()


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def supabase_of(request: Request) -> SupabaseClients:
    clients: SupabaseClients = request.app.state.supabase
    return clients
