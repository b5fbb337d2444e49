"""The sweeper's view of any state store (`receiver.loops.sweeper.SweepState`)."""

from __future__ import annotations

from collections.abc import Sequence

from receiver.loops.record import record_failure
from receiver.model import Failure
from receiver.store import sweep as stored
from receiver.store.base import Store


class StoreSweepState:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def record_failure(self, failure: Failure, *, received_at: float) -> bool:
        return await self._store.write(lambda tx: record_failure(tx, failure, received_at))

    async def acquire_lease(self, name: str, holder: str, *, ttl: float, now: float) -> bool:
        return await self._store.write(
            lambda tx: stored.acquire_lease(tx, name, holder, ttl=ttl, now=now)
        )

    async def get_cursor(self, name: str) -> float | None:
        return await self._store.read(lambda tx: stored.get_cursor(tx, name))

    async def set_cursor(self, name: str, value: float) -> None:
        await self._store.write(lambda tx: stored.set_cursor(tx, name, value))

    async def mark_stuck(self, generation_ids: Sequence[str], *, now: float) -> None:
        ids = list(generation_ids)
        await self._store.write(lambda tx: stored.mark_stuck(tx, ids, now=now))

    async def open_stuck_generations(self) -> list[str]:
        return await self._store.read(stored.open_stuck_generations)

    async def clear_stuck(self, generation_ids: Sequence[str], *, now: float) -> None:
        ids = list(generation_ids)
        await self._store.write(lambda tx: stored.clear_stuck(tx, ids, now=now))
