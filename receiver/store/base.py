"""The state port: what the rest of failwatch may ask of a store, whatever backs it."""

from __future__ import annotations

from typing import Protocol

from receiver.model import Failure


class Store(Protocol):
    """State shared by the webhook, the dispatcher and the delivery worker.

    Every method raises `StoreUnavailable` when the backing database cannot answer.
    """

    async def open(self) -> None:
        """Connect and bring the schema up to date (migrations)."""

    async def close(self) -> None:
        """Finish what was accepted, then release connections."""

    async def ping(self) -> None:
        """Raise `StoreUnavailable` unless the store can answer right now."""

    async def record_failure(self, failure: Failure, *, received_at: float) -> bool:
        """Store a failure once. True if it is new, False if its key was seen before.

        Returns only after the row is durably committed.
        """

    async def count_failures(self) -> int:
        """How many failures are stored."""
