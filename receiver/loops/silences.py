"""Silences against the store: create, list and expire, for the API and the CLI.

What a valid silence is and which failures it mutes is `engine.silences`; the dispatcher
holds and releases the failures (`loops.groups`).
"""

from __future__ import annotations

import uuid

from receiver.engine.silences import Silence, SilenceRequest, new_silence
from receiver.store import Store
from receiver.store import silences as stored


async def create(store: Store, request: SilenceRequest, *, now: float) -> Silence:
    silence = new_silence(request, silence_id=str(uuid.uuid4()), now=now)
    row = silence.to_row()
    await store.write(lambda tx: stored.add(tx, row))
    return silence


async def listing(store: Store, *, include_expired: bool, now: float) -> list[Silence]:
    rows = await store.read(
        lambda tx: stored.list_all(tx, include_expired=include_expired, now=now)
    )
    return [Silence.from_row(r) for r in rows]


async def expire(store: Store, silence_id: str, *, now: float) -> bool:
    """End a silence now. False if there is no such silence still running."""
    return await store.write(lambda tx: stored.expire(tx, silence_id, now=now))
