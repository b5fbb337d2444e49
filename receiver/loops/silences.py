"""Silences against the store: create, list and expire, for the API and the CLI.

What a valid silence is and which failures it mutes is `engine.silences`; the dispatcher
holds and releases the failures (`loops.groups`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from receiver.engine.matchers import Matcher, all_match
from receiver.engine.silences import Silence, SilenceRequest, new_silence
from receiver.rows import SilenceRow
from receiver.store import Store, reports
from receiver.store import silences as stored
from receiver.store.tx import Tx

log = logging.getLogger("failwatch.silences")

# Silences running at once (active or pending) unless the settings say otherwise.
MAX_RUNNING = 1000

PREVIEW_WINDOW = 86400.0
# The preview reads at most this many of the window's newest failures, so that asking
# stays cheap whatever the load; past it the count is a lower bound.
PREVIEW_SCAN = 50_000


async def create(
    store: Store, request: SilenceRequest, *, now: float, max_running: int = MAX_RUNNING
) -> Silence:
    """Store a new silence; ValueError when it is not valid or `max_running` are running."""
    silence = new_silence(request, silence_id=str(uuid.uuid4()), now=now)
    row = silence.to_row()

    def add_if_room(tx: Tx) -> bool:
        if stored.count_running(tx, now) >= max_running:
            return False
        stored.add(tx, row)
        return True

    if not await store.write(add_if_room):
        raise ValueError(f"{max_running} silences are running already; expire some first")
    return silence


async def listing(
    store: Store,
    *,
    include_expired: bool,
    now: float,
    after: tuple[float, str] | None = None,
    limit: int | None = None,
) -> list[Silence]:
    rows = await store.read(
        lambda tx: stored.list_all(
            tx, include_expired=include_expired, now=now, after=after, limit=limit
        )
    )
    return usable(rows)


def usable(rows: Iterable[SilenceRow]) -> list[Silence]:
    """The silences of these rows, leaving out (and logging) any that can no longer run:
    one stored before patterns ran in RE2 with a backreference, say. Such a silence
    mutes nothing, and can still be expired by its id."""
    found = []
    for row in rows:
        try:
            found.append(Silence.from_row(row))
        except ValueError as exc:
            log.warning("silence cannot be used", extra={"silence": row.id, "error": str(exc)})
    return found


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
