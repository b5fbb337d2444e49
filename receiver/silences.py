"""Silences: mute what matches for a while. Silenced failures are stored and counted,
held back from notification, and handed to their group when the silence ends."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from receiver.matchers import Matcher
from receiver.store import Store, silences_sql
from receiver.store.silences_sql import Silence
from receiver.timefmt import iso

MAX_DURATION = 90 * 86400.0


class SilenceRequest(BaseModel):
    """A new silence as the API and the CLI accept it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    matchers: tuple[Matcher, ...] = Field(min_length=1, max_length=20)
    starts_at: float | None = None
    ends_at: float
    comment: str = Field(min_length=1, max_length=1000)
    author: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


async def create(store: Store, request: SilenceRequest, *, now: float) -> Silence:
    starts = request.starts_at if request.starts_at is not None else now
    if request.ends_at <= now:
        raise ValueError("ends_at must be in the future")
    if request.ends_at - starts > MAX_DURATION:
        raise ValueError("a silence may last at most 90 days")
    silence = Silence(
        id=str(uuid.uuid4()),
        matchers=request.matchers,
        starts_at=starts,
        ends_at=request.ends_at,
        comment=request.comment,
        author=request.author,
        created_at=now,
        expired_at=None,
    )
    await store.write(lambda tx: silences_sql.add(tx, silence))
    return silence


async def listing(store: Store, *, include_expired: bool, now: float) -> Sequence[Silence]:
    return await store.read(
        lambda tx: silences_sql.list_all(tx, include_expired=include_expired, now=now)
    )


async def expire(store: Store, silence_id: str, *, now: float) -> bool:
    """End a silence now. False if there is no such silence still running."""
    return await store.write(lambda tx: silences_sql.expire(tx, silence_id, now=now))


def describe(silence: Silence, *, now: float) -> dict[str, object]:
    return {
        "id": silence.id,
        "matchers": [str(m) for m in silence.matchers],
        "startsAt": iso(silence.starts_at),
        "endsAt": iso(silence.ends_at),
        "comment": silence.comment,
        "author": silence.author,
        "createdAt": iso(silence.created_at),
        "state": silence.state(now),
    }
