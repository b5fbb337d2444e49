"""Silences against the store: create, list and expire, for the API and the CLI.

What a valid silence is and which failures it mutes is `engine.silences`; the dispatcher
holds and releases the failures (`loops.groups`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from receiver.engine.matchers import Matcher, all_match
from receiver.engine.silences import Silence, SilenceRequest, new_silence
from receiver.store import Store, reports
from receiver.store import silences as stored
from receiver.store.tx import Tx

PREVIEW_WINDOW = 86400.0
# The preview reads at most this many of the window's newest failures, so that asking
# stays cheap whatever the load; past it the count is a lower bound.
PREVIEW_SCAN = 50_000


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


@dataclass(frozen=True, slots=True)
class Preview:
    """What matchers would mute, before they are saved."""

    open_groups: int
    failures_24h: int
    # True when the window held more failures than were read: `failures_24h` is at least.
    truncated: bool


async def preview(store: Store, matchers: Sequence[Matcher], *, now: float) -> Preview:
    """How many open groups and failures of the last 24 h these matchers match."""

    def read(tx: Tx) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        since = now - PREVIEW_WINDOW
        return reports.open_group_labels(tx), reports.labels_since(
            tx, since=since, limit=PREVIEW_SCAN
        )

    groups, failures = await store.read(read)
    return Preview(
        open_groups=sum(all_match(matchers, labels) for labels in groups),
        failures_24h=sum(all_match(matchers, labels) for labels in failures),
        truncated=len(failures) >= PREVIEW_SCAN,
    )
