"""A real SQLite store, dispatcher and delivery worker, on a clock the test moves."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from receiver.config.settings import Settings, load_settings
from receiver.errors import DeliveryError
from receiver.intake.pipeline import failure_from_row
from receiver.loops.delivery import DeliveryWorker, EmailLookup
from receiver.loops.dispatcher import Dispatcher
from receiver.metrics import Metrics
from receiver.model import FailureKind, Notification, Source
from receiver.notifiers.base import Notifier
from receiver.notifiers.registry import specs_by_receiver
from receiver.store import Store, open_store


class Clock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    """A destination that keeps what it is sent, and fails on demand."""

    integration = "console"
    destination = "recorder"
    updates_in_place = False

    def __init__(self) -> None:
        self.sent: list[Notification] = []
        self.failures: list[DeliveryError] = []

    async def send(self, notification: Notification) -> Mapping[str, str] | None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(notification)
        return {"seen": str(len(self.sent))}

    async def close(self) -> None:
        return None


@dataclass
class Engine:
    store: Store
    dispatcher: Dispatcher
    worker: DeliveryWorker
    recorder: Recorder
    clock: Clock
    settings: Settings
    metrics: Metrics
    seq: int = field(default=0)

    async def fail(
        self,
        *,
        model: str = "flux-pro",
        error: str = "Rate limit exceeded",
        user: str | None = "u1",
        **columns: Any,
    ) -> bool:
        self.seq += 1
        record = {
            "id": f"gen-{self.seq}",
            "status": "failed",
            "model_id": model,
            "user_id": user,
            "parameters": json.dumps({"error": error}),
            **columns,
        }
        failure = failure_from_row(
            record,
            kind=FailureKind.FAILED,
            source=Source.WEBHOOK,
            classifier=self.settings.classifier.classifier,
            include_prompt=self.settings.include_prompts,
        )
        return await self.store.record_failure(failure, received_at=self.clock())

    async def stuck(self, generation: str, *, model: str = "flux-pro") -> bool:
        record = {"id": generation, "status": "processing", "model_id": model, "user_id": "u1"}
        failure = failure_from_row(record, kind=FailureKind.STUCK, source=Source.SWEEP)
        return await self.store.record_failure(failure, received_at=self.clock())

    async def settle(self) -> None:
        """Dispatch and deliver everything that is due at the current time."""
        while await self.dispatcher.pass_once():
            pass
        while await self.worker.deliver_due():
            pass


@asynccontextmanager
async def engine(
    tmp_path: Path,
    *,
    state_url: str | None = None,
    emails: EmailLookup | None = None,
    notifiers: Mapping[tuple[str, str], Notifier] | None = None,
    **overrides: Any,
) -> AsyncIterator[Engine]:
    """The engine on a real store: SQLite in `tmp_path`, or the given state URL;
    `emails` is the delivery worker's lookup of users' e-mails; every integration
    delivers to the recorder unless `notifiers` are given."""
    url = state_url or f"sqlite:///{tmp_path}/fw.db"
    settings = load_settings(state_url=url, **overrides)
    clock = Clock()
    store = open_store(url, pool_size=4)
    await store.open()
    recorder = Recorder()
    if notifiers is None:
        notifiers = {
            (receiver, spec.key): recorder
            for receiver, specs in specs_by_receiver(settings).items()
            for spec in specs
        }
    metrics = Metrics()
    worker = DeliveryWorker(
        store=store,
        notifiers=notifiers,
        settings=settings.delivery,
        metrics=metrics,
        clock=clock,
        emails=emails,
    )
    dispatcher = Dispatcher(
        store=store,
        root=settings.routes(),
        integrations=specs_by_receiver(settings),
        clock=clock,
        budget=settings.budget_limit(),
        metrics=metrics,
    )
    try:
        yield Engine(store, dispatcher, worker, recorder, clock, settings, metrics)
    finally:
        await store.close()
