"""The state port: what the rest of failwatch may ask of a store, whatever backs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from receiver.model import Failure
from receiver.store.tx import Tx

T = TypeVar("T")


class Store(Protocol):
    """State shared by the webhook, the dispatcher and the delivery worker.

    Every method raises `StoreUnavailable` when the backing database cannot answer.
    """

    # The most new failures a background loop should write in one transaction. Small where
    # writes queue behind one another (SQLite: one writer, and a webhook's commit waits for
    # the transaction ahead of it), larger where they run side by side (PostgreSQL), since
    # a backlog's groups are written once per batch.
    background_batch: int

    async def open(self) -> None:
        """Connect and bring the schema up to date (migrations)."""

    async def close(self) -> None:
        """Finish what was accepted, then release connections."""

    async def ping(self) -> None:
        """Raise `StoreUnavailable` unless the store can answer right now."""

    async def record_failure(self, failure: Failure, *, received_at: float) -> bool:
        """Store a failure once by its idempotency key. True if it is new, False if its key
        was seen before. (The webhook and the sweeps record through `loops/record.py`,
        which also folds a later report of a stored failure into it.)

        Returns only after the row is durably committed.
        """

    async def count_failures(self) -> int:
        """How many failures are stored."""

    async def compact(self, *, pages: int) -> int:
        """Give up to `pages` free pages back to the file system; how many it gave.
        (SQLite's incremental vacuum; PostgreSQL's autovacuum needs no help: 0.)"""

    async def write(self, work: Callable[[Tx], T]) -> T:
        """Run `work` in one write transaction; return its result once committed.

        The row functions (`store.groups`, `store.outbox`, `store.silences`, `store.sweep`)
        are written once against `Tx`; the loops run them, with the engine's decisions in
        between, on every store through this.
        """

    async def read(self, work: Callable[[Tx], T]) -> T:
        """Run `work` on a consistent snapshot, without writing."""
