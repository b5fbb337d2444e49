"""Both stores offer the same operations, and replicas sharing PostgreSQL agree."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest

from receiver.loops.delivery import DeliveryWorker
from receiver.loops.dispatcher import Dispatcher
from receiver.notifiers.base import Notifier
from receiver.notifiers.registry import specs_by_receiver
from receiver.store import open_store
from receiver.store.postgres import PostgresStore
from receiver.store.sqlite import SQLiteStore
from tests.loops.harness import Recorder, engine

pytestmark = pytest.mark.anyio


def public_api(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def test_sqlite_and_postgres_expose_the_same_operations() -> None:
    sqlite_api, postgres_api = public_api(SQLiteStore), public_api(PostgresStore)
    assert sorted(sqlite_api) == sorted(postgres_api)
    for name, signature in sqlite_api.items():
        theirs = postgres_api[name]
        assert list(signature.parameters)[1:] == list(theirs.parameters)[1:], name


async def test_three_replicas_flush_each_group_once(tmp_path: Path, state_url: str | None) -> None:
    if state_url is None:
        pytest.skip("replicas share PostgreSQL; SQLite is one process by design")
    async with engine(tmp_path, state_url=state_url) as e:
        for i in range(300):
            await e.fail(model=f"model-{i % 6}", user=f"u{i}")
        stores = [open_store(state_url, pool_size=3) for _ in range(3)]
        for store in stores:
            await store.open()
        recorder = Recorder()
        notifiers: dict[tuple[str, str], Notifier] = {("default", "console"): recorder}
        integrations = specs_by_receiver(e.settings)
        replicas = [
            (
                Dispatcher(
                    store=s,
                    root=e.settings.routes(),
                    integrations=integrations,
                    clock=e.clock,
                    budget=e.settings.budget_limit(),
                ),
                DeliveryWorker(
                    store=s,
                    notifiers=notifiers,
                    settings=e.settings.delivery,
                    metrics=e.metrics,
                    clock=e.clock,
                ),
            )
            for s in stores
        ]
        try:
            e.clock.advance(30)
            for _ in range(3):
                await asyncio.gather(*(d.pass_once() for d, _ in replicas))
            for _ in range(4):  # the rate limit lets 3 through, then one a second
                await asyncio.gather(*(w.deliver_due() for _, w in replicas))
                e.clock.advance(1)
        finally:
            for store in stores:
                await store.close()
        assert sorted(n.labels["model_id"] for n in recorder.sent) == [
            f"model-{i}" for i in range(6)
        ]
        assert sum(n.window_failures for n in recorder.sent) == 300
