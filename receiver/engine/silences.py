"""Silences: matchers with a time window, an author and a comment.

Which silence mutes a failure, whether a silence is active, pending or expired, and what
makes a valid one are decided here; storing them is `store.silences`, and running the
decisions against the store is `loops.silences`. Silenced failures are stored and
counted, held back from notification, and handed to their group when the silence ends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from receiver.engine.matchers import Matcher, Matchers, all_match, load_stored
from receiver.rows import SilenceRow
from receiver.timefmt import iso

MAX_DURATION = 90 * 86400.0


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    comment: str
    author: str
    created_at: float
    expired_at: float | None

    def state(self, now: float) -> str:
        if self.expired_at is not None or self.ends_at <= now:
            return "expired"
        return "active" if self.starts_at <= now else "pending"

    @classmethod
    def from_row(cls, row: SilenceRow) -> Silence:
        return cls(
            id=row.id,
            matchers=tuple(load_stored(m) for m in row.matchers),
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            comment=row.comment,
            author=row.author,
            created_at=row.created_at,
            expired_at=row.expired_at,
        )

    def to_row(self) -> SilenceRow:
        return SilenceRow(
            id=self.id,
            matchers=tuple(str(m) for m in self.matchers),
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            comment=self.comment,
            author=self.author,
            created_at=self.created_at,
            expired_at=self.expired_at,
        )

    def describe(self, *, now: float) -> dict[str, object]:
        """The silence as the CLI and the admin API show it."""
        return {
            "id": self.id,
            "matchers": [str(m) for m in self.matchers],
            "startsAt": iso(self.starts_at),
            "endsAt": iso(self.ends_at),
            "comment": self.comment,
            "author": self.author,
            "createdAt": iso(self.created_at),
            "state": self.state(now),
        }


def muting(silences: Sequence[Silence], labels: Mapping[str, str], now: float) -> Silence | None:
    """The first active silence whose matchers all match these labels, if any."""
    for silence in silences:
        if silence.state(now) == "active" and all_match(silence.matchers, labels):
            return silence
    return None


class SilenceRequest(BaseModel):
    """A new silence as the API and the CLI accept it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    matchers: Matchers = Field(min_length=1, max_length=20)
    starts_at: float | None = None
    ends_at: float
    comment: str = Field(min_length=1, max_length=1000)
    author: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


def new_silence(request: SilenceRequest, *, silence_id: str, now: float) -> Silence:
    """The silence a request makes at `now`; ValueError when its window is not valid."""
    starts = request.starts_at if request.starts_at is not None else now
    if request.ends_at <= now:
        raise ValueError("ends_at must be in the future")
    if request.ends_at - starts > MAX_DURATION:
        raise ValueError("a silence may last at most 90 days")
    return Silence(
        id=silence_id,
        matchers=request.matchers,
        starts_at=starts,
        ends_at=request.ends_at,
        comment=request.comment,
        author=request.author,
        created_at=now,
        expired_at=None,
    )
