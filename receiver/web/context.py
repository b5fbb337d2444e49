"""What the handlers share: settings, store, metrics, the clock (injected for tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.requests import Request

from receiver.config import Settings
from receiver.metrics import Metrics
from receiver.store import Store


@dataclass(slots=True)
class Services:
    settings: Settings
    store: Store
    metrics: Metrics
    clock: Callable[[], float]
    # Set when a new failure is stored, so the dispatcher need not poll for it.
    new_failures: asyncio.Event = field(default_factory=asyncio.Event)

    def wake_dispatcher(self) -> None:
        self.new_failures.set()


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
